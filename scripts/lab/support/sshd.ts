// An OpenSSH server (Debian's openssh-server) inside a test node: its own
// config, host key and authorized_keys, listening on the node's address only.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestNode } from './netns.js';
import { requireProgram } from './requirements.js';

export interface ClientKey {
  privateKey: string;
  publicKey: string;
}

/** An ed25519 key pair for kubewasm to log in with. */
export function clientKey(dir: string, name = 'id_ed25519'): ClientKey {
  const sshKeygen = requireProgram('ssh-keygen');
  const privateKey = path.join(dir, name);
  if (!existsSync(privateKey)) execFileSync(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'kubewasm-test', '-f', privateKey]);
  return { privateKey, publicKey: `${privateKey}.pub` };
}

export interface Sshd {
  /** The known_hosts line for this node's host key. */
  knownHostsLine: string;
  /** PIDs (in the node's PID namespace) of the per-connection sshd processes. */
  sessionPids(): number[];
  /** kill -9 of every per-connection sshd process: the connections drop; returns how many. */
  killSessions(): number;
  stop(): void;
}

export interface SshdOptions {
  /** Extra sshd_config lines. */
  extra?: string[];
}

/** Starts sshd in the node; root logs in with `key`. */
export function startSshd(node: TestNode, key: ClientKey, options: SshdOptions = {}): Sshd {
  const sshd = requireProgram('sshd');
  const sshKeygen = requireProgram('ssh-keygen');
  const dir = path.join(node.dir, 'ssh');
  mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey)) execFileSync(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', node.name, '-f', hostKey]);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(key.publicKey));
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${node.ip}`,
      'Port 22',
      `HostKey ${hostKey}`,
      'PidFile /run/sshd.pid',
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      // Notice a dead client within ~6s, as a careful admin would configure it.
      'ClientAliveInterval 2',
      'ClientAliveCountMax 3',
      'LogLevel VERBOSE',
      ...(options.extra ?? []),
      '',
    ].join('\n'),
  );
  node.run(`${sshd} -f ${config} -E ${path.join(dir, 'sshd.log')}`);
  const knownHostsLine = `${node.ip} ${readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`;
  const listener = () => node.run('cat /run/sshd.pid 2>/dev/null || true').trim();
  const self: Sshd = {
    knownHostsLine,
    sessionPids: () => {
      const pid = listener();
      return pid ? node.run(`pgrep -P ${pid} || true`).split('\n').filter(Boolean).map(Number) : [];
    },
    killSessions: () => {
      const pids = self.sessionPids();
      if (pids.length) node.run(`kill -9 ${pids.join(' ')} 2>/dev/null || true`);
      return pids.length;
    },
    stop: () => {
      node.run('[ -f /run/sshd.pid ] && kill $(cat /run/sshd.pid) 2>/dev/null; rm -f /run/sshd.pid; true');
    },
  };
  return self;
}
