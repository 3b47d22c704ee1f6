// The ssh transport: a node reached with ssh2 (key or agent auth), its host
// key checked against known_hosts like ssh(1) does, commands run through sudo
// when the user is not root. File operations are the sh scripts of ShellHost;
// uploads stream into one of them, which checks the sha256 on the node before
// renaming the file into place.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';
import { KubewasmError } from '../errors.js';
import { LineReader, shellQuote, type ExecOptions, type ExecResult, type RunningCommand } from './host.js';
import { Semaphore } from './semaphore.js';
import { checkHostKey, fingerprint, hostKeyAlgorithms, hostKeyName, keyTypeOfBlob, knownHostsLine, knownKeyTypes, parseKnownHosts } from './known-hosts.js';
import { ShellHost, type RawResult } from './shell.js';

export interface SshTarget {
  host: string;
  port?: number;
  /** Default: $USER. */
  user?: string;
  /** Private key file; default: the agent ($SSH_AUTH_SOCK), else ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
  identityFile?: string;
  /** Default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Record the key of a host known_hosts does not list yet (never a changed key). */
  acceptNewHostKey?: boolean;
  /** Name in messages; default user@host. */
  name?: string;
  /** Seconds between keepalives; the connection counts as lost after 3 unanswered (default 5). */
  keepaliveSeconds?: number;
  connectTimeoutMs?: number;
}

const { Client, utils } = ssh2; // CommonJS: no named exports under ESM
type Client = InstanceType<typeof Client>;

const SUPPORTED_HOST_KEYS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
/** OpenSSH allows 10 sessions per connection (MaxSessions); leave room. */
const MAX_CHANNELS = 8;

export class SshHost extends ShellHost {
  readonly name: string;
  private readonly channels = new Semaphore(MAX_CHANNELS);
  private lost: Error | undefined;

  private constructor(
    private readonly client: Client,
    private readonly target: Required<Pick<SshTarget, 'host' | 'port' | 'user'>>,
    name: string,
  ) {
    super();
    this.name = name;
    client.on('error', (err) => (this.lost ??= err));
    client.on('close', () => (this.lost ??= new Error('the connection was closed')));
  }

  static async connect(target: SshTarget): Promise<SshHost> {
    const port = target.port ?? 22;
    const user = target.user ?? process.env['USER'] ?? 'root';
    const name = target.name ?? `${user}@${target.host}${port === 22 ? '' : `:${port}`}`;
    const knownHostsFile = target.knownHostsFile ?? path.join(homedir(), '.ssh', 'known_hosts');
    const knownText = await readFile(knownHostsFile, 'utf8').catch(() => '');
    const entries = parseKnownHosts(knownText);

    let refusal: KubewasmError | undefined;
    let newKeyLine: string | undefined;
    const hostVerifier = (key: Buffer): boolean => {
      const keyType = keyTypeOfBlob(key);
      const verdict = checkHostKey(entries, target.host, port, keyType, key.toString('base64'));
      const where = `${name} (${keyType} key ${fingerprint(key)})`;
      if (verdict.status === 'known') return true;
      if (verdict.status === 'unknown' && target.acceptNewHostKey) {
        newKeyLine = knownHostsLine(target.host, port, keyType, key.toString('base64'));
        return true;
      }
      refusal =
        verdict.status === 'unknown'
          ? new KubewasmError({
              what: `the host key of ${hostKeyName(target.host, port)} is not in ${knownHostsFile}: refusing to connect to an unverified host`,
              where,
              fix: `check the fingerprint on the node (ssh-keygen -lf /etc/ssh/ssh_host_${keyType.replace(/^ssh-|-sha2-nistp\d+$/g, '')}_key.pub), then run again with --accept-new-host-key to record it, or add it to ${knownHostsFile} (ssh-keyscan)`,
            })
          : verdict.status === 'changed'
            ? new KubewasmError({
                what: `the host key of ${hostKeyName(target.host, port)} CHANGED since it was recorded (${knownHostsFile} line ${verdict.lines.join(', ')}): someone may be intercepting the connection, or the node was reinstalled`,
                where,
                fix: `if the node was reinstalled, remove the old key (ssh-keygen -R '${hostKeyName(target.host, port)}' -f ${knownHostsFile}) and run again; --accept-new-host-key never replaces a changed key`,
              })
            : new KubewasmError({ what: `the host key of ${hostKeyName(target.host, port)} is marked @revoked in ${knownHostsFile} line ${verdict.line}`, where, fix: 'give the node a new host key' });
      return false;
    };

    const auth = await authConfig(target);
    const client = new Client();
    const config: ConnectConfig = {
      host: target.host,
      port,
      username: user,
      ...auth,
      hostVerifier,
      algorithms: { serverHostKey: hostKeyAlgorithms(knownKeyTypes(entries, target.host, port), SUPPORTED_HOST_KEYS) as never },
      keepaliveInterval: (target.keepaliveSeconds ?? 5) * 1000,
      keepaliveCountMax: 3,
      readyTimeout: target.connectTimeoutMs ?? 20_000,
    };
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { level?: string }) => {
        client.removeListener('ready', onReady);
        client.end();
        if (refusal) return reject(refusal);
        reject(connectError(name, err, auth));
      };
      const onReady = () => {
        client.setNoDelay(true); // many small request/reply round trips: Nagle would add 40ms to each
        client.removeListener('error', onError);
        resolve();
      };
      client.once('ready', onReady);
      client.once('error', onError);
      client.connect(config);
    });
    if (newKeyLine) {
      await mkdir(path.dirname(knownHostsFile), { recursive: true, mode: 0o700 });
      await appendFile(knownHostsFile, newKeyLine, { mode: 0o600 });
    }
    const host = new SshHost(client, { host: target.host, port, user }, name);
    await host.checkSudo();
    return host;
  }

  /** Commands run as root: directly, or through sudo -n for any other user. */
  private command(argv: string[], env?: Record<string, string>): string {
    const envWords = env ? ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)] : [];
    const words = [...(this.target.user === 'root' ? [] : ['sudo', '-n', '--']), ...envWords, ...argv];
    return words.map(shellQuote).join(' ');
  }

  private async checkSudo(): Promise<void> {
    if (this.target.user === 'root') return;
    const result = await this.run(['true']);
    if (result.code !== 0) {
      const detail = result.stderr.toString('utf8').trim();
      throw new KubewasmError({
        what: `${this.target.user} cannot run commands as root with sudo without a password${detail ? ` (${detail})` : ''}`,
        where: this.name,
        fix: `connect as root, or give ${this.target.user} passwordless sudo on the node (e.g. '${this.target.user} ALL=(ALL) NOPASSWD: ALL' in /etc/sudoers.d/kubewasm)`,
      });
    }
  }

  /**
   * Opens an exec channel and hands it to `attach` synchronously: a fast
   * command's output, exit status and close can arrive in the same packet as
   * the channel's confirmation, and an event emitted before a listener is
   * attached is lost.
   */
  private openChannel<T>(argv: string[], env: Record<string, string> | undefined, attach: (channel: ClientChannel) => Promise<T>): Promise<T> {
    if (this.lost) return Promise.reject(this.connectionLost());
    return new Promise((resolve, reject) => {
      this.client.exec(this.command(argv, env), (err, channel) => {
        if (err) return reject(this.lost ? this.connectionLost() : err);
        attach(channel).then(resolve, reject);
      });
    });
  }

  protected async run(argv: string[], options: ExecOptions = {}): Promise<RawResult> {
    return this.channels.run(() =>
      this.openChannel(argv, options.env, (channel) => new Promise<RawResult>((resolve, reject) => {
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let code: number | undefined;
        let timedOut = false;
        const timer = options.timeoutMs
          ? setTimeout(() => {
              timedOut = true;
              channel.signal('KILL');
              channel.close();
              // Do not wait for the node to confirm: a hung command is what timed out.
              resolve({ code: 124, stdout: Buffer.concat(stdout), stderr: Buffer.concat([...stderr, Buffer.from(`\n${argv[0]}: timed out after ${options.timeoutMs} ms`)]) });
            }, options.timeoutMs)
          : undefined;
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (exitCode: number | null, signal?: string) => {
          code = exitCode ?? 128 + (signal ? signalNumber(signal) : 0);
        });
        channel.on('close', () => {
          if (timer) clearTimeout(timer);
          if (timedOut) return;
          // No exit status: the connection went away under the command.
          if (code === undefined) return reject(this.connectionLost(argv));
          resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
        });
        channel.on('error', () => {}); // 'close' follows and decides
        if (options.input !== undefined) channel.end(options.input);
        else channel.end();
      })),
    );
  }

  async start(argv: string[]): Promise<RunningCommand> {
    return this.openChannel(argv, undefined, async (channel) => {
      const lines = new LineReader();
      const stderr: Buffer[] = [];
      let code: number | undefined;
      const done = new Promise<ExecResult>((resolve) => {
        channel.on('data', (chunk: Buffer) => lines.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (exitCode: number | null) => (code = exitCode ?? 128));
        channel.on('error', () => {});
        channel.on('close', () => {
          lines.close();
          resolve({ code: code ?? 255, stdout: '', stderr: Buffer.concat(stderr).toString('utf8') || (code === undefined ? 'the connection was lost' : '') });
        });
      });
      return {
        readLine: () => lines.next(),
        readUntil: (marker) => lines.until(marker),
        write: (data: string) => {
          if (!this.lost) channel.write(data);
        },
        end: () => {
          if (!this.lost) channel.end();
          return done;
        },
      };
    });
  }

  private connectionLost(argv?: string[]): KubewasmError {
    return new KubewasmError({
      what: `lost the SSH connection${argv ? ` while running '${argv[0] === 'sh' ? 'a file operation' : argv.join(' ').slice(0, 80)}'` : ''}: ${this.lost?.message ?? 'closed by the node'}`,
      where: this.name,
      fix: 'check the node and the network; run kubewasm again: it finishes or undoes whatever the lost run had started',
    });
  }

  async close(): Promise<void> {
    this.client.end();
  }
}

async function authConfig(target: SshTarget): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
  const agent = process.env['SSH_AUTH_SOCK'];
  const candidates = target.identityFile ? [target.identityFile] : agent ? [] : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(homedir(), '.ssh', f));
  for (const file of candidates) {
    const key = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      if (target.identityFile) throw new KubewasmError({ what: `cannot read the identity file: ${err.message}`, where: file, fix: 'pass --identity with a readable private key file' });
      return undefined;
    });
    if (!key) continue;
    const parsed = utils.parseKey(key);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      if (encrypted && agent) continue; // the agent holds it, presumably
      throw new KubewasmError({
        what: encrypted ? 'the identity file is protected by a passphrase' : `the identity file is not a private key kubewasm can read: ${parsed.message}`,
        where: file,
        fix: encrypted ? 'add the key to ssh-agent (ssh-add) and make sure SSH_AUTH_SOCK is set' : 'use an OpenSSH or PEM private key (ed25519, ecdsa or rsa)',
      });
    }
    return { privateKey: key, ...(agent ? { agent } : {}) };
  }
  if (agent) return { agent };
  throw new KubewasmError({ what: 'no SSH key to log in with', fix: 'pass --identity FILE, or start ssh-agent with your key (SSH_AUTH_SOCK)' });
}

function connectError(name: string, err: Error & { level?: string; code?: string }, auth: Pick<ConnectConfig, 'privateKey' | 'agent'>): KubewasmError {
  if (err.level === 'client-authentication') {
    return new KubewasmError({
      what: `the node refused the SSH login (${auth.privateKey ? 'key' : ''}${auth.privateKey && auth.agent ? ' and ' : ''}${auth.agent ? 'agent' : ''} tried)`,
      where: name,
      fix: "put your public key in the user's ~/.ssh/authorized_keys on the node, or pass --identity with the right key",
    });
  }
  if (err.level === 'client-timeout') return new KubewasmError({ what: 'timed out connecting over SSH', where: name, fix: 'check that the node is up and its SSH port is reachable' });
  return new KubewasmError({ what: `cannot connect over SSH: ${err.message}`, where: name, fix: 'check the address and port, and that sshd runs on the node' });
}

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };
function signalNumber(signal: string): number {
  return SIGNALS[signal.replace(/^SIG/, '')] ?? 0;
}
