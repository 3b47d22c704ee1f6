// NodeHost: everything the node algorithm may do to a node. Transports
// (local, ssh, docker) implement it; the algorithm is written once against it.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An ExecResult with the output as bytes (what the node printed, undecoded). */
export interface RawExecResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ExecOptions {
  /** Bytes written to the command's standard input. */
  input?: string | Buffer;
  /** Kill the command after this many milliseconds (code 124, like timeout(1)). */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

export interface FileInfo {
  mode: number;
  size: number;
  isDirectory: boolean;
}

export interface WriteOptions {
  /**
   * The sha256 the bytes must have on the node: checked there before the
   * rename, so a short or corrupted write never takes the file's place.
   */
  sha256?: string;
  /**
   * fsync before the rename (default true). Shim uploads skip it: every run
   * checks their sha256 on the node, so a file torn by a power loss is found
   * and replaced, while 20 nodes' worth of fsyncs is real time.
   */
  durable?: boolean;
  /**
   * The same bytes gzip-compressed, made on demand: a transport that carries
   * bytes over a network sends these and inflates them on the node, where
   * size and sha256 are checked on the inflated bytes, as always.
   */
  gzipped?: () => Promise<Buffer>;
  /** Things worth a debug line (a node without gzip gets raw uploads). */
  onNote?: (message: string) => void;
}

/** A program left running on the node: the node lock holds one. */
export interface RunningCommand {
  /** The next line the program prints on stdout; undefined once it has exited and printed nothing more. */
  readLine(): Promise<string | undefined>;
  /** Writes to its standard input. */
  write(data: string): void;
  /** Closes its standard input; resolves when it has exited. */
  end(): Promise<ExecResult>;
}

export interface NodeHost {
  /** A name for messages: the node name, user@host, a container name. */
  readonly name: string;
  /** The file's bytes, or undefined when it does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** Writes through a temporary file in the same directory and a rename, so a reader never sees half a file. */
  writeFileAtomic(path: string, data: Buffer | string, mode?: number, options?: WriteOptions): Promise<void>;
  /** Removes a file; no error when it is already gone. */
  removeFile(path: string): Promise<void>;
  /** Renames a file within one file system, replacing the target atomically. */
  rename(from: string, to: string): Promise<void>;
  /** Removes an empty directory; no error when it is gone or not empty. */
  removeEmptyDir(path: string): Promise<void>;
  /** Names in a directory; undefined when the directory does not exist. */
  readDir(path: string): Promise<string[] | undefined>;
  stat(path: string): Promise<FileInfo | undefined>;
  mkdirp(path: string, mode?: number): Promise<void>;
  /** Runs a program on the node (in the host's namespaces for the local transport of the installer pod). */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** exec, with the output as bytes (file contents must come back byte for byte). */
  execBytes?(argv: string[], options?: ExecOptions): Promise<RawExecResult>;
  /** Bytes this transport sent to the node so far (standard input and uploads); for benchmarks and tests. */
  readonly sentBytes?: number;
  /** Starts a program and leaves it running, its standard input open (the node lock). */
  start(argv: string[]): Promise<RunningCommand>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Runs a command and returns stdout, or throws with the command and its stderr. */
export async function execOk(host: NodeHost, argv: string[], options?: ExecOptions): Promise<string> {
  const result = await host.exec(argv, options);
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
    throw new Error(`'${argv.join(' ')}' exited with code ${result.code}${detail ? `: ${detail}` : ''}`);
  }
  return result.stdout;
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The name of the temporary file writeFileAtomic uses beside `path` (the recovery sweeps them up). */
export function tempNameFor(path: string, unique: string): string {
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.kubewasm-${unique}`;
}

/** Does this name in a directory belong to an unfinished writeFileAtomic of `base`? */
export function isTempOf(name: string, base: string): boolean {
  // ".base.kubewasm-…" (a temporary or staged file), "..base.kubewasm-…" (the temporary file of a staged one)
  return name.startsWith(`.${base}.kubewasm-`) || name.startsWith(`..${base}.kubewasm-`);
}

/** Line splitter for RunningCommand implementations. */
export class LineReader {
  private buffer = '';
  private lines: string[] = [];
  private waiters: Array<(line: string | undefined) => void> = [];
  private closed = false;

  push(chunk: string): void {
    this.buffer += chunk;
    let index: number;
    while ((index = this.buffer.indexOf('\n')) >= 0) {
      this.deliver(this.buffer.slice(0, index));
      this.buffer = this.buffer.slice(index + 1);
    }
  }

  close(): void {
    if (this.buffer) this.deliver(this.buffer);
    this.buffer = '';
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  next(): Promise<string | undefined> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private deliver(line: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(line);
    else this.lines.push(line);
  }
}
