// The local transport: this machine, or (for the node-installer pod) the
// host's filesystem mounted at `root`, with programs run in the host's
// namespaces through nsenter so that `systemctl restart containerd` reaches
// the host's systemd and not the pod.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineReader, tempNameFor, type ExecOptions, type ExecResult, type FileInfo, type RawExecResult, type NodeHost, type RunningCommand, type WriteOptions } from './host.js';

export interface LocalHostOptions {
  /** Name shown in messages (default: "local"). */
  name?: string;
  /** Where the node's "/" is mounted (default "/"). */
  root?: string;
  /** Run programs in PID 1's namespaces (the installer pod with hostPID). */
  nsenter?: boolean;
}

export class LocalHost implements NodeHost {
  readonly name: string;
  private readonly root: string;
  private readonly nsenter: boolean;

  constructor(options: LocalHostOptions = {}) {
    this.name = options.name ?? 'local';
    this.root = options.root ?? '/';
    this.nsenter = options.nsenter ?? false;
  }

  private resolve(nodePath: string): string {
    if (!path.isAbsolute(nodePath)) throw new Error(`node paths must be absolute, got '${nodePath}'`);
    return path.join(this.root, nodePath);
  }

  async readFile(nodePath: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.resolve(nodePath));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async writeFileAtomic(nodePath: string, data: Buffer | string, mode = 0o644, options: WriteOptions = {}): Promise<void> {
    const target = this.resolve(nodePath);
    const temp = tempNameFor(target, randomBytes(4).toString('hex'));
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      if (options.durable !== false) await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    try {
      if (options.sha256) {
        const written = createHash('sha256').update(await readFile(temp)).digest('hex');
        if (written !== options.sha256) throw new Error(`the bytes written to ${temp} have sha256 ${written}, expected ${options.sha256}`);
      }
      await chmod(temp, mode); // open() applies the umask; the caller's mode is what it asked for
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async removeFile(nodePath: string): Promise<void> {
    await rm(this.resolve(nodePath), { force: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.resolve(from), this.resolve(to));
  }

  async removeEmptyDir(nodePath: string): Promise<void> {
    await rmdir(this.resolve(nodePath)).catch(() => {});
  }

  async readDir(nodePath: string): Promise<string[] | undefined> {
    try {
      return await readdir(this.resolve(nodePath));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async stat(nodePath: string): Promise<FileInfo | undefined> {
    try {
      const info = await stat(this.resolve(nodePath));
      return { mode: info.mode & 0o7777, size: info.size, isDirectory: info.isDirectory() };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async mkdirp(nodePath: string, mode = 0o755): Promise<void> {
    await mkdir(this.resolve(nodePath), { recursive: true, mode });
  }

  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return runProcess(this.argv(argv), options);
  }

  execBytes(argv: string[], options: ExecOptions = {}): Promise<RawExecResult> {
    return runProcessBytes(this.argv(argv), options);
  }

  async start(argv: string[]): Promise<RunningCommand> {
    return startProcess(this.argv(argv));
  }

  private argv(argv: string[]): string[] {
    return this.nsenter ? ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--', ...argv] : argv;
  }

  async close(): Promise<void> {}
}

/** Runs a program to completion and collects its output; never throws for a non-zero exit. */
export async function runProcess(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const result = await runProcessBytes(argv, options);
  return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
}

/** runProcess, with the output as bytes. */
export function runProcessBytes(argv: string[], options: ExecOptions = {}): Promise<RawExecResult> {
  const [command, ...args] = argv;
  if (!command) return Promise.reject(new Error('exec: empty command'));
  return new Promise<RawExecResult>((resolve) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      // Like a shell: 127 for a program that is not there.
      resolve({ code: err.code === 'ENOENT' ? 127 : 126, stdout: Buffer.alloc(0), stderr: Buffer.from(`${command}: ${err.message}`) });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: timedOut ? 124 : (code ?? 128),
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat([...stderr, Buffer.from(timedOut ? `\n${command}: timed out after ${options.timeoutMs} ms` : '')]),
      });
    });
    child.stdin.on('error', () => {}); // a program that exits without reading its input is not an error here
    child.stdin.end(options.input ?? '');
  });
}

/** Starts a program with its stdin open; see RunningCommand. */
export function startProcess(argv: string[]): RunningCommand {
  const [command, ...args] = argv;
  if (!command) throw new Error('exec: empty command');
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = new LineReader();
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => lines.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => {});
  const done = new Promise<ExecResult>((resolve) => {
    child.on('error', (err) => {
      lines.close();
      resolve({ code: 127, stdout: '', stderr: `${command}: ${err.message}` });
    });
    child.on('close', (code) => {
      lines.close();
      resolve({ code: code ?? 128, stdout: '', stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
  return {
    readLine: () => lines.next(),
    readUntil: (marker) => lines.until(marker),
    write: (data) => {
      if (child.stdin.writable) child.stdin.write(data);
    },
    end: () => {
      child.stdin.end();
      return done;
    },
  };
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
