// File operations for transports that can only run programs on the node (ssh,
// docker): each one is a short POSIX sh script run there, so the transport
// itself only has to run a program and carry bytes in and out.
import { createHash } from 'node:crypto';
import type { ExecOptions, ExecResult, FileInfo, NodeHost, RawExecResult, RunningCommand, WriteOptions } from './host.js';

export type RawResult = RawExecResult;

/** "absent" from the scripts below; far from the codes sh and coreutils use. */
const ABSENT = 44;
/** The node cannot unpack a gzip tar (no gzip, tar or sha256sum): the bytes go another way. */
const NO_UNPACK = 79;

// Streams stdin into a temporary file beside the target (gunzipping it on the
// way when it comes compressed), checks its size and sha256 there, and only
// then renames it into place. A cut connection ends
// stdin early: the size check fails and the trap removes the temporary file,
// so a partial upload never survives on the node, with or without a next run.
const WRITE_SCRIPT = `
target=$1 size=$2 mode=$3 sum=$4 durable=$5 gz=$6
[ "$gz" = yes ] && inflate='gzip -dc' || inflate=cat
tmp="$(dirname -- "$target")/.$(basename -- "$target").kubewasm-$$"
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
umask 077
if [ -n "$sum" ] && command -v sha256sum >/dev/null 2>&1; then
  # Hash while the bytes arrive (tee), not in a second pass over the file.
  got=$($inflate | tee "$tmp" | sha256sum) || exit 74; got=\${got%% *}
  checked=yes
else
  $inflate > "$tmp" || exit 74
fi
n=$(wc -c < "$tmp")
[ "$n" -eq "$size" ] || { echo "only $n of $size bytes reached the node" >&2; exit 75; }
if [ -n "$sum" ]; then
  if [ -n "\${checked:-}" ]; then
    [ "$got" = "$sum" ] || { echo "the bytes on the node have sha256 $got, expected $sum" >&2; exit 76; }
  else echo unverified; fi
fi
[ "$durable" = no ] || sync -- "$tmp" 2>/dev/null
chmod "$mode" "$tmp" && mv -f -- "$tmp" "$target" || exit 77
trap - EXIT
`;

// Streams a verified gzip tar into a temporary file beside the target,
// hashing it on the way in; only an archive with the expected sha256 is
// unpacked (its one member, at low priority: the node's workloads and its
// containerd come first), then the member's size is checked and it is
// renamed into place. Same temporary name and clean-up as WRITE_SCRIPT.
const UNPACK_SCRIPT = `
target=$1 size=$2 mode=$3 asum=$4 member=$5 durable=$6
for t in gzip tar sha256sum; do command -v $t >/dev/null 2>&1 || { echo "the node has no $t" >&2; exit ${NO_UNPACK}; }; done
tmp="$(dirname -- "$target")/.$(basename -- "$target").kubewasm-$$"
arc="$tmp.tgz"
trap 'rm -f -- "$tmp" "$arc"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
umask 077
got=$(tee "$arc" | sha256sum) || exit 74; got=\${got%% *}
[ "$got" = "$asum" ] || { echo "the archive that reached the node ($(wc -c < "$arc") bytes) has sha256 $got, expected $asum" >&2; exit 76; }
low=; command -v nice >/dev/null 2>&1 && low="nice -n 10"
$low tar -xzOf "$arc" "$member" > "$tmp" || { echo "cannot unpack $member from the archive with the node's tar" >&2; exit 78; }
n=$(wc -c < "$tmp")
[ "$n" -eq "$size" ] || { echo "unpacking $member gave $n bytes, expected $size" >&2; exit 75; }
[ "$durable" = no ] || sync -- "$tmp" 2>/dev/null
chmod "$mode" "$tmp" && mv -f -- "$tmp" "$target" || exit 77
`;

export abstract class ShellHost implements NodeHost {
  abstract readonly name: string;
  private sent = 0;
  /** Does the node have gzip? Asked once, and only when a compressed upload is offered. */
  private gzip: Promise<boolean> | undefined;
  /** false once the node said it cannot unpack an archive. */
  private unpacks = true;

  get sentBytes(): number {
    return this.sent;
  }

  /** Counts bytes this transport sends to the node (the docker transport's archive uploads too). */
  protected countSent(bytes: number): void {
    this.sent += bytes;
  }

  /** Runs argv on the node and collects its output as bytes; throws only when the node cannot be reached. */
  protected abstract run(argv: string[], options?: ExecOptions): Promise<RawResult>;
  abstract start(argv: string[]): Promise<RunningCommand>;
  abstract close(): Promise<void>;

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.execBytes(argv, options);
    return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
  }

  execBytes(argv: string[], options: ExecOptions = {}): Promise<RawResult> {
    if (options.input !== undefined) this.countSent(Buffer.byteLength(options.input));
    return this.run(argv, options);
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    const result = await this.script('[ -e "$1" ] || exit 44; exec cat -- "$1"', [path]);
    if (result.code === ABSENT) return undefined;
    if (result.code !== 0) throw fileError(this.name, 'read', path, result);
    return result.stdout;
  }

  async writeFileAtomic(path: string, data: Buffer | string, mode = 0o644, options: WriteOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const durable = options.durable === false ? 'no' : 'yes';
    if (options.archive && this.unpacks) {
      // Tried first, without asking the node: its script says when it lacks a tool (rare), and the bytes go another way.
      const { sha256, member } = options.archive;
      const result = await this.script(UNPACK_SCRIPT, [path, String(bytes.length), mode.toString(8), sha256, member, durable], { input: await options.archive.bytes() });
      if (result.code === 0) return;
      if (result.code !== NO_UNPACK) throw fileError(this.name, 'write', path, result);
      this.unpacks = false;
      options.onNote?.(`${result.stderr.toString('utf8').trim()}: the shim goes unpacked here instead`);
    }
    const gzipped = options.gzipped && (await this.hasGzip(options)) ? await options.gzipped() : undefined;
    const result = await this.script(WRITE_SCRIPT, [path, String(bytes.length), mode.toString(8), options.sha256 ?? '', durable, gzipped ? 'yes' : 'no'], { input: gzipped ?? bytes });
    if (result.code !== 0) throw fileError(this.name, 'write', path, result);
    if (options.sha256 && result.stdout.toString('utf8').includes('unverified')) await this.verifyByReading(path, options.sha256);
  }

  /** Whether the node can gunzip; when it cannot, uploads go uncompressed and onNote says so once. */
  protected hasGzip(options: WriteOptions): Promise<boolean> {
    this.gzip ??= this.run(['sh', '-c', 'command -v gzip']).then(
      (r) => {
        if (r.code !== 0) options.onNote?.('the node has no gzip: uploads go uncompressed');
        return r.code === 0;
      },
      () => false,
    );
    return this.gzip;
  }

  /** A node without sha256sum: read the file back and hash it here; remove it when it differs. */
  protected async verifyByReading(path: string, expected: string): Promise<void> {
    const back = await this.readFile(path);
    const got = back ? createHash('sha256').update(back).digest('hex') : '(missing)';
    if (got !== expected) {
      await this.removeFile(path);
      throw new Error(`write ${this.name}:${path}: the bytes on the node have sha256 ${got}, expected ${expected}`);
    }
  }

  async removeFile(path: string): Promise<void> {
    const result = await this.script('rm -f -- "$1"', [path]);
    if (result.code !== 0) throw fileError(this.name, 'remove', path, result);
  }

  async rename(from: string, to: string): Promise<void> {
    const result = await this.script('mv -f -- "$1" "$2"', [from, to]);
    if (result.code !== 0) throw fileError(this.name, 'rename', `${from} -> ${to}`, result);
  }

  async removeEmptyDir(path: string): Promise<void> {
    await this.script('rmdir -- "$1" 2>/dev/null; exit 0', [path]);
  }

  async readDir(path: string): Promise<string[] | undefined> {
    const result = await this.script('[ -d "$1" ] || exit 44; exec ls -1A -- "$1"', [path]);
    if (result.code === ABSENT) return undefined;
    if (result.code !== 0) throw fileError(this.name, 'list', path, result);
    return result.stdout.toString('utf8').split('\n').filter(Boolean);
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const result = await this.script('[ -e "$1" ] || exit 44; exec stat -L -c "%f %s" -- "$1"', [path]);
    if (result.code === ABSENT) return undefined;
    if (result.code !== 0) throw fileError(this.name, 'stat', path, result);
    const [rawMode, size] = result.stdout.toString('utf8').trim().split(' ');
    const mode = parseInt(rawMode ?? '0', 16);
    return { mode: mode & 0o7777, size: Number(size), isDirectory: (mode & 0o170000) === 0o040000 };
  }

  async mkdirp(path: string, mode = 0o755): Promise<void> {
    const result = await this.script('[ -d "$1" ] && exit 0; mkdir -p -- "$1" && chmod "$2" -- "$1"', [path, mode.toString(8)]);
    if (result.code !== 0) throw fileError(this.name, 'create directory', path, result);
  }

  protected script(body: string, args: string[], options: ExecOptions = {}): Promise<RawResult> {
    return this.execBytes(['sh', '-c', body, 'sh', ...args], options);
  }
}

/** An Error carrying the errno-like code a local fs call would have, so callers treat every transport alike. */
export function fileError(node: string, op: string, path: string, result: RawResult): Error {
  const detail = (result.stderr.toString('utf8') || result.stdout.toString('utf8')).trim().split('\n').slice(-3).join('; ');
  const error = new Error(`${op} ${node}:${path} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`) as NodeJS.ErrnoException;
  const code = errnoFromText(detail);
  if (code) error.code = code;
  return error;
}

export function errnoFromText(text: string): string | undefined {
  if (/No space left on device/i.test(text)) return 'ENOSPC';
  if (/Disk quota exceeded/i.test(text)) return 'EDQUOT';
  if (/Read-only file system/i.test(text)) return 'EROFS';
  if (/Permission denied|Operation not permitted/i.test(text)) return 'EACCES';
  return undefined;
}
