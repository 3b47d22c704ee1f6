// What applyPlan and recovery do to a node's files: upload a verified shim,
// copy, write the config, check that shims are executable and run, and the
// errors a user can act on when that fails.
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import { parseShimVersionOutput } from '../shims/shim-version.js';
import { sha256 } from './node-facts.js';
import type { Upload } from './plan.js';

const gzipAsync = promisify(gzip);

/**
 * The shim bytes on this machine, checked against their digest once: a fleet
 * passes one cache to every node (they upload the same file); without one,
 * each applyPlan reads and checks its own. No process-global state.
 */
export class ShimByteCache {
  private readonly verified = new Map<string, Promise<Buffer>>();
  private readonly compressed = new Map<string, Promise<Buffer>>();
  private readonly archives = new Map<string, Promise<Buffer>>();

  /** The release archive's bytes, checked against its sha256 once for every node. */
  archive(archive: NonNullable<Upload['archive']>): Promise<Buffer> {
    return this.once(this.archives, `${archive.path}\0${archive.sha256}`, archive.path, archive.sha256, 'release archive');
  }

  /**
   * The verified bytes gzip-compressed, once for every node (level 1: on two
   * cores the 26 MB wasmtime shim takes 0.4 s to 9.3 MB; level 6 takes 1 s
   * for 8.6 MB). zlib works off the event loop, so nodes plan meanwhile.
   */
  gzipped(upload: Pick<Upload, 'from' | 'sha256'>): Promise<Buffer> {
    const key = `${upload.from}\0${upload.sha256}`;
    let bytes = this.compressed.get(key);
    if (!bytes) {
      bytes = this.bytes(upload).then((data) => gzipAsync(data, { level: 1 }));
      bytes.catch(() => this.compressed.delete(key));
      this.compressed.set(key, bytes);
    }
    return bytes;
  }

  bytes(upload: Pick<Upload, 'from' | 'sha256'>): Promise<Buffer> {
    return this.once(this.verified, `${upload.from}\0${upload.sha256}`, upload.from, upload.sha256, 'shim binary');
  }

  private once(map: Map<string, Promise<Buffer>>, key: string, file: string, expected: string, what: string): Promise<Buffer> {
    let bytes = map.get(key);
    if (!bytes) {
      bytes = readFile(file).then((data) => {
        const local = sha256(data);
        if (local !== expected) {
          map.delete(key);
          throw new KubewasmError({ what: `the ${what} changed on this machine since it was verified (sha256 ${local}, expected ${expected})`, where: file, fix: 'run kubewasm again so it downloads and verifies the shim afresh' });
        }
        return data;
      });
      map.set(key, bytes);
    }
    return bytes;
  }
}

/** `makeDir`: the plan found directories missing on the way (else the probe saw the target's directory: no round trip for it). */
export async function uploadVerified(host: NodeHost, upload: Upload, to: string, cache: ShimByteCache, onNote?: (message: string) => void, makeDir = true): Promise<void> {
  const bytes = await cache.bytes(upload);
  try {
    if (makeDir) await host.mkdirp(to.slice(0, to.lastIndexOf('/')) || '/');
    // Every transport checks the sha256 of the inflated bytes on the node before the file takes its name.
    const { archive } = upload;
    await host.writeFileAtomic(to, bytes, 0o755, {
      sha256: upload.sha256,
      durable: false,
      gzipped: () => cache.gzipped(upload),
      ...(archive ? { archive: { sha256: archive.sha256, member: archive.member, bytes: () => cache.archive(archive) } } : {}),
      ...(onNote ? { onNote } : {}),
    });
  } catch (err) {
    throw writeError(host, upload.to, err, `cannot upload the ${upload.shim} shim (${(bytes.length / 1e6).toFixed(1)} MB)`, '--install-dir');
  }
}

/** Each shim must be a file containerd can execute (a noexec mount or a missing file fail here). One exec for all. */
export async function checkShims(host: NodeHost, paths: string[], when: string, shownAs: string[] = paths): Promise<void> {
  if (paths.length === 0) return;
  const result = await host.exec(['sh', '-c', 'i=0; for f; do i=$((i+1)); [ -f "$f" ] || { echo "$i missing"; exit 3; }; [ -x "$f" ] || { echo "$i noexec"; exit 4; }; done', 'sh', ...paths]);
  if (result.code === 0) return;
  const [index, problem] = result.stdout.trim().split(' ');
  const path = shownAs[Number(index) - 1] ?? paths[Number(index) - 1] ?? paths[0]!;
  const missing = problem === 'missing';
  if (problem !== 'missing' && problem !== 'noexec') throw new KubewasmError({ what: `cannot check the shims ${when}: ${(result.stderr || result.stdout).trim()}`, where: host.name });
  throw new KubewasmError({
    what: `the shim ${path} is ${missing ? 'missing' : 'not executable'} ${when}${missing ? '' : ' (is its file system mounted noexec?)'}`,
    where: host.name,
    fix: missing
      ? 'something on the node removes files from that directory when containerd restarts: choose another --install-dir'
      : 'choose an --install-dir on a file system that allows executables (GKE COS: /home/kubernetes/bin)',
  });
}

export interface ShimRan {
  /** The version the shim printed. */
  version: string;
  /** Its first line of output. */
  line: string;
}

/**
 * Runs `<shim> -v` on the node, where containerd will run it: a binary for
 * another architecture, a truncated one or one whose loader is missing fails
 * here, before containerd is restarted.
 */
export async function runShim(host: NodeHost, shim: string, path: string): Promise<ShimRan> {
  const result = await host.exec([path, '-v'], { timeoutMs: 20_000 });
  const output = `${result.stdout}${result.stderr}`.trim();
  const parsed = result.code === 0 ? parseShimVersionOutput(result.stdout) : undefined;
  if (parsed?.version) return { version: parsed.version, line: output.split('\n')[0]!.trim().slice(0, 200) };
  const why =
    result.code === 126 || /exec format error/i.test(output)
      ? 'it is not an executable for this node (another architecture, or truncated)'
      : result.code === 127 || /no such file or directory|not found/i.test(output)
        ? 'it cannot be started (its program loader or a library it needs is missing on the node)'
        : result.code === 124
          ? 'it did not answer within 20s'
          : result.code === 0
            ? 'it ran but printed no version (is it a containerd shim?)'
            : `it exited with code ${result.code}`;
  throw new KubewasmError({
    what: `the ${shim} shim does not run on this node: ${why}${output ? ` (\`${path} -v\` printed: ${output.slice(0, 300)})` : ''}; containerd was not restarted`,
    where: `${host.name}:${path}`,
    fix: "check the shim's architecture against the node's (uname -m) and that it is a complete, static binary; then run kubewasm again",
  });
}

export async function copyOnNode(host: NodeHost, from: string, to: string): Promise<void> {
  const bytes = await host.readFile(from);
  if (!bytes) throw new Error(`${from} vanished while kubewasm was copying it`);
  const mode = (await host.stat(from))?.mode ?? 0o644;
  await host.writeFileAtomic(to, bytes, mode, { sha256: sha256(bytes) });
}

/** The config file's mode, its directory made: what writing it needs, done ahead of the restart slot. */
export async function prepareConfigWrite(host: NodeHost, path: string): Promise<number> {
  try {
    const info = await host.stat(path);
    if (info) return info.mode;
    await host.mkdirp(path.slice(0, path.lastIndexOf('/')) || '/');
    return 0o644;
  } catch (err) {
    throw configWriteError(host, path, err);
  }
}

export async function writeConfig(host: NodeHost, path: string, content: Buffer | undefined, preparedMode?: number): Promise<void> {
  try {
    if (content === undefined) return await host.removeFile(path);
    const mode = preparedMode ?? (await prepareConfigWrite(host, path));
    await host.writeFileAtomic(path, content, mode, { sha256: sha256(content) });
  } catch (err) {
    throw configWriteError(host, path, err);
  }
}

function configWriteError(host: NodeHost, path: string, err: unknown): KubewasmError {
  if (err instanceof KubewasmError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === 'EROFS' ? 'its file system is read-only' : code === 'ENOSPC' ? 'no space left on the device' : (err as Error).message;
  return new KubewasmError({
    what: `cannot write the containerd config: ${reason}`,
    where: `${host.name}:${path}`,
    fix: code === 'ENOSPC' ? 'free space on the node' : 'make the file writable for root, or point --config at the file containerd reads on this node (some distributions keep it elsewhere)',
    cause: err,
  });
}

export function writeError(host: NodeHost, path: string, err: unknown, what: string, option: string): KubewasmError {
  if (err instanceof KubewasmError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const message = (err as Error).message;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new KubewasmError({ what: `${what}: the node's disk is full (no space left on the device)`, where: `${host.name}:${path}`, fix: `free space on the node, or choose another directory with ${option}`, cause: err });
  }
  if (code === 'EROFS') return new KubewasmError({ what: `${what}: the file system is read-only`, where: `${host.name}:${path}`, fix: `choose a writable directory with ${option}`, cause: err });
  return new KubewasmError({ what: `${what}: ${message}`, where: `${host.name}:${path}`, cause: err });
}
