// NodeHost: everything the node algorithm may do to a node. Transports
// (local, ssh, docker) implement it; the algorithm is written once against it.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
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

export interface NodeHost {
  /** A name for messages: the node name, user@host, a container name. */
  readonly name: string;
  /** The file's bytes, or undefined when it does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** Writes through a temporary file in the same directory and a rename, so a reader never sees half a file. */
  writeFileAtomic(path: string, data: Buffer | string, mode?: number): Promise<void>;
  /** Removes a file; no error when it is already gone. */
  removeFile(path: string): Promise<void>;
  stat(path: string): Promise<FileInfo | undefined>;
  mkdirp(path: string, mode?: number): Promise<void>;
  /** Runs a program on the node (in the host's namespaces for the local transport of the installer pod). */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
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
