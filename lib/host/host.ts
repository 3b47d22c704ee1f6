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
  /**
   * The verified gzip tar the bytes are one entry of: a transport that
   * carries bytes over a network may send it instead (a release archive is
   * smaller than gzip -1 of its binary, and needs no compressing here); the
   * node checks the archive's sha256 before unpacking `member`, then the
   * size of what it unpacked.
   */
  archive?: { sha256: string; member: string; bytes: () => Promise<Buffer> };
  /** Things worth a debug line (a node without gzip gets raw uploads). */
  onNote?: (message: string) => void;
}

/** A program left running on the node: the node lock holds one. */
export interface RunningCommand {
  /** The next line the program prints on stdout; undefined once it has exited and printed nothing more. */
  readLine(): Promise<string | undefined>;
  /**
   * Its stdout up to `marker`, byte for byte (the marker is consumed, not
   * returned); undefined when it exits before printing the marker.
   */
  readUntil(marker: string): Promise<Buffer | undefined>;
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

/**
 * Splits a running program's stdout for RunningCommand implementations: lines
 * (decoded whole, so a character split across chunks stays intact) or the raw
 * bytes up to a marker. Transports push the bytes as they arrive.
 */
export class LineReader {
  private buffer = Buffer.alloc(0);
  private waiter: { marker: Buffer; resolve: (bytes: Buffer | undefined) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  push(chunk: Buffer | string): void {
    this.buffer = Buffer.concat([this.buffer, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    this.deliver();
  }

  close(): void {
    this.closed = true;
    this.deliver();
  }

  /** The next line without its newline; the last line may lack one. */
  next(): Promise<string | undefined> {
    return this.read(Buffer.from('\n'), true).then((b) => b?.toString('utf8'));
  }

  /** The bytes before the next `marker`. */
  until(marker: Buffer | string): Promise<Buffer | undefined> {
    return this.read(typeof marker === 'string' ? Buffer.from(marker) : marker, false);
  }

  // Reads are served one after another, in the order they were asked for.
  private read(marker: Buffer, restAtClose: boolean): Promise<Buffer | undefined> {
    const turn = this.queue.then(
      () =>
        new Promise<Buffer | undefined>((resolve) => {
          this.waiter = { marker, resolve: (bytes) => resolve(bytes ?? (restAtClose ? this.rest() : undefined)) };
          this.deliver();
        }),
    );
    this.queue = turn;
    return turn;
  }

  private rest(): Buffer | undefined {
    if (this.buffer.length === 0) return undefined;
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  private deliver(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const at = this.buffer.indexOf(waiter.marker);
    if (at < 0 && !this.closed) return;
    this.waiter = undefined;
    if (at < 0) return waiter.resolve(undefined);
    const found = Buffer.from(this.buffer.subarray(0, at));
    this.buffer = this.buffer.subarray(at + waiter.marker.length);
    waiter.resolve(found);
  }
}
