// The content-addressed cache: release archives under sha256/<hex>, their
// unpacked shim binaries under unpacked/<hex>/. Everything is written under a
// temporary name in the same directory and renamed into place, so a partial
// download is never visible under its final name and two kubewasm processes
// can fill the cache at once (both write the same bytes; the last rename wins).
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** $XDG_CACHE_HOME/kubewasm, else ~/.cache/kubewasm (the XDG spec ignores a relative XDG_CACHE_HOME). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  const xdg = env['XDG_CACHE_HOME'];
  return xdg && path.isAbsolute(xdg) ? path.join(xdg, 'kubewasm') : path.join(home, '.cache', 'kubewasm');
}

export class ShimCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  blobPath(sha256: string): string {
    return path.join(this.dir, 'sha256', sha256);
  }

  unpackedDir(sha256: string): string {
    return path.join(this.dir, 'unpacked', sha256);
  }

  /** A fresh temporary name beside `final` (same filesystem, so the rename is atomic). */
  tempBeside(final: string): string {
    return path.join(path.dirname(final), `.tmp-${path.basename(final).slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  async prepare(): Promise<void> {
    await mkdir(path.join(this.dir, 'sha256'), { recursive: true, mode: 0o755 });
    await mkdir(path.join(this.dir, 'unpacked'), { recursive: true, mode: 0o755 });
  }

  /** Whether the blob is there and still has its digest (a cache is trusted only as far as it re-hashes). */
  async hasVerifiedBlob(sha256: string): Promise<boolean> {
    const file = this.blobPath(sha256);
    if (!(await stat(file).catch(() => undefined))?.isFile()) return false;
    if ((await sha256OfFile(file)) === sha256) return true;
    await rm(file, { force: true }); // corrupted in place: drop it so it is fetched again
    return false;
  }

  /** Moves a verified temporary file into place. */
  async commit(tempPath: string, sha256: string): Promise<string> {
    const final = this.blobPath(sha256);
    await rename(tempPath, final);
    return final;
  }

  /** Removes a blob (and what was unpacked from it), e.g. when its archive was refused. */
  async forget(sha256: string): Promise<void> {
    await rm(this.blobPath(sha256), { force: true });
    await rm(this.unpackedDir(sha256), { recursive: true, force: true });
  }

  /**
   * A blob that is itself a shim binary (not an archive): copied to
   * unpacked/<hex>/<name>, mode 0755, like an unpacked archive's binary.
   */
  async exposeBinary(sha256: string, name: string): Promise<{ path: string; sha256: string }> {
    const dir = this.unpackedDir(sha256);
    const target = path.join(dir, name);
    if ((await stat(target).catch(() => undefined))?.isFile() && (await sha256OfFile(target)) === sha256) return { path: target, sha256 };
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const temp = this.tempBeside(target);
    try {
      await copyFile(this.blobPath(sha256), temp);
      await chmod(temp, 0o755);
      await rename(temp, target);
    } finally {
      await rm(temp, { force: true });
    }
    return { path: target, sha256 };
  }

  /** Temporary files left by this process or a killed one (for tests and `kubewasm cache` later). */
  async leftovers(): Promise<string[]> {
    const found: string[] = [];
    for (const sub of ['sha256', 'unpacked']) {
      const entries = await readdir(path.join(this.dir, sub)).catch(() => [] as string[]);
      found.push(...entries.filter((e) => e.startsWith('.tmp-')).map((e) => path.join(sub, e)));
    }
    return found;
  }
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Streams an entry body into a new file (never over an existing one), feeding every byte to `hash` on the way. */
export async function writeHashed(body: Readable, target: string, hash: Hash, mode: number): Promise<void> {
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(target, { flags: 'wx', mode, highWaterMark: 1 << 20 }),
  );
}
