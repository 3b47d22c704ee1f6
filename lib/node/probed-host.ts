// A NodeHost that answers reads from one probe of the node (node-probe.ts)
// and sends everything else to the node: the readers of facts run unchanged
// and cost no round trip for what the probe saw. The first change made
// through it (a recovery writing files) drops the probe: from then on every
// read goes to the node, so nothing stale is ever served.
import type { ExecOptions, ExecResult, FileInfo, NodeHost, RawExecResult, RunningCommand, WriteOptions } from '../host/host.js';
import { execKey, type ProbeResult } from './node-probe.js';

export class ProbedHost implements NodeHost {
  readonly name: string;
  /** What was asked live (not in the probe): for tests and --trace. */
  readonly misses: string[] = [];
  private probe: ProbeResult | undefined;

  constructor(
    readonly node: NodeHost,
    probe: ProbeResult,
  ) {
    this.name = node.name;
    this.probe = probe;
  }

  /** The probe's sha256 of a file: a digest, null for absent, undefined when it did not hash it. */
  digest(path: string): string | null | undefined {
    return this.probe?.digests.get(path);
  }

  private served<T>(map: keyof Pick<ProbeResult, 'stats' | 'reads' | 'lists'>, path: string, live: () => Promise<T>, convert: (v: never) => T): Promise<T> {
    const found = this.probe?.[map] as Map<string, unknown> | undefined;
    if (found?.has(path)) return Promise.resolve(convert(found.get(path) as never));
    this.misses.push(`${map.slice(0, -1)} ${path}`);
    return live();
  }

  readFile(path: string): Promise<Buffer | undefined> {
    return this.served('reads', path, () => this.node.readFile(path), (v: Buffer | null) => v ?? undefined);
  }

  stat(path: string): Promise<FileInfo | undefined> {
    return this.served('stats', path, () => this.node.stat(path), (v: FileInfo | null) => v ?? undefined);
  }

  readDir(path: string): Promise<string[] | undefined> {
    return this.served('lists', path, () => this.node.readDir(path), (v: string[] | null) => (v ? [...v] : undefined));
  }

  exec(argv: string[], options?: ExecOptions): Promise<ExecResult> {
    const found = options?.input === undefined ? this.probe?.execs.get(execKey(argv)) : undefined;
    if (found) return Promise.resolve({ ...found });
    this.misses.push(`exec ${argv.join(' ').slice(0, 80)}`);
    this.changed(); // a program the probe did not foresee may change the node
    return this.node.exec(argv, options);
  }

  // Changes go to the node and end the probe's answers.
  private changed(): void {
    this.probe = undefined;
  }

  async writeFileAtomic(path: string, data: Buffer | string, mode?: number, options?: WriteOptions): Promise<void> {
    this.changed();
    return this.node.writeFileAtomic(path, data, mode, options);
  }

  async removeFile(path: string): Promise<void> {
    this.changed();
    return this.node.removeFile(path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.changed();
    return this.node.rename(from, to);
  }

  async removeEmptyDir(path: string): Promise<void> {
    this.changed();
    return this.node.removeEmptyDir(path);
  }

  async mkdirp(path: string, mode?: number): Promise<void> {
    this.changed();
    return this.node.mkdirp(path, mode);
  }

  execBytes(argv: string[], options?: ExecOptions): Promise<RawExecResult> {
    this.changed();
    return this.node.execBytes ? this.node.execBytes(argv, options) : this.node.exec(argv, options).then((r) => ({ code: r.code, stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr) }));
  }

  start(argv: string[]): Promise<RunningCommand> {
    this.changed();
    return this.node.start(argv);
  }

  /** The node's connection is the caller's: closing the view closes nothing. */
  async close(): Promise<void> {}
}
