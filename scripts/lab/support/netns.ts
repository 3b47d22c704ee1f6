// "Nodes" for the integration tests and the fleet benchmark: each one a set
// of Linux namespaces of its own (network, mount, PID) made by unshare(1),
// reached over a veth pair on a bridge with a private /24 that nothing else
// on this machine uses. Inside, the node's /etc/containerd, /usr/local/bin,
// /usr/local/sbin, /var/lib and /run are its own directories, so its
// containerd (real: Debian 1.6, or the 2.2.9 or 2.4.2 build, with runc) runs with the
// default paths and kubewasm finds it where it would on a real machine; root's
// home is the node's too. Each
// node runs its own OpenSSH server (sshd.ts). PID 1 of a node is a perl
// one-liner that ignores SIGCHLD (so the kernel reaps orphans at once);
// killing it ends every process of the node.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONTAINERD_BUILDS, CRICTL, requireContainerd, standInScript } from './containerd.js';
import { requireProgram, requireRoot } from './requirements.js';

export type ContainerdVersion = '1.6' | '2.2' | '2.4';

export interface TestNet {
  bridge: string;
  /** The first three octets, e.g. "10.247.119". */
  prefix: string;
  /** This machine's address on the bridge (.1): nodes reach the test's servers here. */
  hostIp: string;
  cleanup(): void;
}

const STATE = '/run/kubewasm-test-nodes';

function sh(script: string, options: { input?: string } = {}): string {
  return execFileSync('sh', ['-c', script], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(options.input ? { input: options.input } : {}) });
}

/** A bridge with prefix.1/24 on this machine. A bridge of the same name left by a killed run is removed first, with the nodes it recorded. */
export function createNet(prefix = '10.247.119'): TestNet {
  requireRoot();
  requireProgram('ip');
  requireProgram('unshare');
  requireProgram('nsenter');
  requireProgram('perl');
  requireProgram('pgrep');
  requireProgram('mountpoint');
  const bridge = `kwt${prefix.split('.')[2]}`;
  mkdirSync(STATE, { recursive: true });
  const pidFile = path.join(STATE, `${bridge}.pids`);
  killRecorded(pidFile);
  sh(`ip link del ${bridge} 2>/dev/null || true; ip link add ${bridge} type bridge && ip addr add ${prefix}.1/24 dev ${bridge} && ip link set ${bridge} up`);
  return {
    bridge,
    prefix,
    hostIp: `${prefix}.1`,
    cleanup: () => {
      killRecorded(pidFile);
      sh(`ip link del ${bridge} 2>/dev/null || true`);
    },
  };
}

function killRecorded(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  for (const pid of readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  rmSync(pidFile, { force: true });
}

export interface TestNode {
  name: string;
  ip: string;
  /** The node's files, seen from this machine: etc-containerd, usr-local-bin, usr-local-sbin, var-lib, log. */
  dir: string;
  /** PID (on this machine) of the node's PID 1. */
  pid: number;
  /** This machine's end of the node's veth pair (tc, link down). */
  veth: string;
  containerd: ContainerdVersion;
  /** Runs a shell script inside the node's namespaces; returns stdout, throws on a non-zero exit. */
  run(script: string): string;
  /** Starts (or restarts) the node's containerd the way kubewasm will: `systemctl restart containerd` (the stand-in). */
  startContainerd(): void;
  /** PID of the node's containerd, seen from this machine (undefined when it does not run). */
  containerdPid(): number | undefined;
  /** crictl info inside the node. */
  criInfo(): { status: { conditions: Array<{ type: string; status: boolean }> }; config: { containerd: { runtimes: Record<string, unknown> } } };
  /** Every file kubewasm may touch on the node: path -> mode and sha256 (or 'dir'). */
  snapshot(): Record<string, string>;
  /** Kills every process of the node. */
  destroy(): void;
}

// The node's systemctl: `systemctl restart containerd` as its unit would do
// it (stop, start, wait for the socket). A test injects a fault by writing
// /usr/local/sbin/restart-prehook (sourced first) or restart-hook (sourced
// between stop and start, with $config the file containerd is given).
const SYSTEMCTL = `#!/bin/sh
# Stand-in for systemd on a kubewasm test node: restarts this node's containerd.
case "$1 $2" in
  "restart containerd"|"start containerd") ;;
  *) echo "systemctl (test node stand-in): only 'restart containerd' is supported, not '$*'" >&2; exit 1 ;;
esac
[ -f /usr/local/sbin/restart-prehook ] && . /usr/local/sbin/restart-prehook
pidf=/run/containerd.pid
if [ -f $pidf ]; then
  pid=$(cat $pidf)
  kill "$pid" 2>/dev/null
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  rm -f $pidf
fi
config=/etc/containerd/config.toml
[ -f /usr/local/sbin/restart-hook ] && . /usr/local/sbin/restart-hook
flag=""; [ -f "$config" ] && flag="--config $config"
rm -f /run/containerd/containerd.sock
setsid containerd $flag >>/var/lib/containerd.log 2>&1 </dev/null &
echo $! > $pidf
for i in $(seq 500); do
  [ -S /run/containerd/containerd.sock ] && exit 0
  kill -0 $! 2>/dev/null || break
  sleep 0.02
done
echo "containerd did not start: $(tail -n 3 /var/lib/containerd.log | tr '\\n' ' ')" >&2
exit 1
`;

export interface NodeOptions {
  /**
   * The absolute path of a file to copy to the node's /etc/containerd/config.toml
   * (tests pass a fixture); null: no file. Default: what the node's containerd
   * prints as `containerd config default`.
   */
  config?: string | null;
  name?: string;
  /** No containerd on this node: its /usr/bin is an overlay without containerd's binaries. */
  withoutContainerd?: boolean;
}

/** Creates node number `index` (its address is prefix.(10+index)). */
export function createNode(net: TestNet, index: number, containerd: ContainerdVersion, options: NodeOptions = {}): TestNode {
  const build = CONTAINERD_BUILDS[containerd];
  const { containerd: containerdBinary } = requireContainerd(build);
  const name = options.name ?? `node${index}`;
  const ip = `${net.prefix}.${10 + index}`;
  const dir = mkdtempSync(path.join(tmpdir(), `kubewasm-${name}-`));
  for (const sub of ['etc-containerd', 'usr-local-bin', 'usr-local-sbin', 'var-lib/containerd', 'ssh', 'root']) mkdirSync(path.join(dir, sub), { recursive: true });
  const configFile = path.join(dir, 'etc-containerd', 'config.toml');
  if (options.config === undefined) writeFileSync(configFile, execFileSync(containerdBinary, ['config', 'default']));
  else if (options.config !== null) {
    if (!path.isAbsolute(options.config)) throw new Error(`createNode: config must be an absolute path (a test passes its fixture's full path), not '${options.config}'`);
    copyFileSync(options.config, configFile);
  }
  writeFileSync(path.join(dir, 'usr-local-sbin', 'systemctl'), SYSTEMCTL, { mode: 0o755 });
  symlinkSync(CRICTL, path.join(dir, 'usr-local-sbin', 'crictl'));
  if (build.binDir !== '/usr/bin') {
    for (const bin of ['containerd', 'ctr']) symlinkSync(path.join(build.binDir, bin), path.join(dir, 'usr-local-sbin', bin));
  }

  // PID 1 of the node mounts the node's directories over the machine's, then waits forever.
  const mounts = [
    `mount --bind ${dir}/etc-containerd /etc/containerd`,
    `mount --bind ${dir}/usr-local-bin /usr/local/bin`,
    `mount --bind ${dir}/usr-local-sbin /usr/local/sbin`,
    `mount --bind ${dir}/var-lib /var/lib`,
    // root's own home: this machine's /root/.bashrc (which bash reads for every ssh command) is not the node's.
    `mount --bind ${dir}/root /root`,
    'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/sshd /run/lock /run/containerd',
    'mount -t tmpfs -o mode=755 tmpfs /opt',
    ...(options.withoutContainerd
      ? ['mkdir -p /run/usr-bin/upper /run/usr-bin/work', 'mount -t overlay overlay -o lowerdir=/usr/bin,upperdir=/run/usr-bin/upper,workdir=/run/usr-bin/work /usr/bin', 'rm -f /usr/bin/containerd /usr/bin/containerd-shim* /usr/bin/ctr']
      : []),
    'ip link set lo up',
  ].join(' && ');
  const holder = spawn('unshare', ['--net', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', 'sh', '-c', `${mounts} && echo ready && exec perl -e '$SIG{CHLD}="IGNORE"; sleep'`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  holder.unref();
  const unsharePid = holder.pid!;
  // unshare --fork: the node's PID 1 is unshare's child.
  let pid = 0;
  for (let i = 0; i < 200 && !pid; i++) {
    const child = sh(`pgrep -P ${unsharePid} || true`).trim();
    if (child) pid = Number(child.split('\n')[0]);
    else sh('sleep 0.02');
  }
  if (!pid) throw new Error(`node ${name}: unshare did not start (pid ${unsharePid})`);
  writeFileSync(path.join(STATE, `${net.bridge}.pids`), `${unsharePid}\n${pid}\n`, { flag: 'a' });
  const enter = ['nsenter', '-t', String(pid), '-m', '-n', '-p', '--'];
  const run = (script: string) => execFileSync(enter[0]!, [...enter.slice(1), 'sh', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  for (let i = 0; i < 200; i++) {
    if (run('mountpoint -q /opt && echo yes || true').trim() === 'yes') break;
    sh('sleep 0.02');
  }

  const veth = `kwt${index}h${net.prefix.split('.')[2]}`.slice(0, 15);
  const peer = `kwt${index}n${net.prefix.split('.')[2]}`.slice(0, 15);
  sh(`ip link del ${veth} 2>/dev/null || true
ip link add ${veth} type veth peer name ${peer}
ip link set ${peer} netns ${pid}
ip link set ${veth} master ${net.bridge} up`);
  run(`ip link set ${peer} name eth0 && ip addr add ${ip}/24 dev eth0 && ip link set eth0 up`);

  const self: TestNode = {
    name,
    ip,
    dir,
    pid,
    veth,
    containerd,
    run,
    startContainerd: () => void run('systemctl restart containerd'),
    containerdPid: () => {
      const inner = run('cat /run/containerd.pid 2>/dev/null || true').trim();
      if (!inner) return undefined;
      const alive = run(`kill -0 ${inner} 2>/dev/null && echo yes || true`).trim() === 'yes';
      return alive ? Number(inner) : undefined;
    },
    criInfo: () => JSON.parse(run('crictl --runtime-endpoint unix:///run/containerd/containerd.sock info')),
    snapshot: () => snapshot(dir),
    destroy: () => {
      for (const p of [pid, unsharePid]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      sh(`ip link del ${veth} 2>/dev/null || true`);
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // a mount still held by a dying process: left in the temp dir
      }
    },
  };
  return self;
}

/** The files kubewasm may touch, and the config: path -> "mode sha256" or "dir mode". */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const full = path.join(dir, rel);
    if (!existsSync(full)) return;
    const info = lstatSync(full);
    const mode = (info.mode & 0o7777).toString(8);
    if (info.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const name of readdirSync(full).sort()) walk(path.join(rel, name));
    } else if (info.isSymbolicLink()) out[rel] = 'symlink';
    else out[rel] = `${mode} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
  };
  for (const rel of ['etc-containerd', 'usr-local-bin', 'var-lib/kubewasm']) walk(rel);
  return out;
}

/** A file of `size` random bytes that runs as a shim would be checked (executable; never run here). */
export function writeLargeStandInShim(file: string, size: number): string {
  const header = Buffer.from(standInScript(path.basename(file)));
  const body = Buffer.alloc(Math.max(0, size - header.length));
  for (let i = 0; i < body.length; i += 65536) body.fill(createHash('sha256').update(String(i)).digest(), i, Math.min(i + 65536, body.length));
  writeFileSync(file, Buffer.concat([header, body]), { mode: 0o755 });
  chmodSync(file, 0o755);
  return file;
}
