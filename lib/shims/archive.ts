// Reading release archives with the `tar` package, under a filter that
// decides every entry before a byte is written: absolute paths, `..`, device
// files and unknown entry types refuse the whole archive; links and
// directories are never created (runwasi v0.3/v0.4 archives carry symlinks
// such as containerd-shim-wasmtimed-v1: skipped); only the expected regular
// files are written, with mode 0755, into a fresh directory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { KubewasmError } from '../errors.js';
import { sha256OfFile, writeHashed, type ShimCache } from './cache.js';

export interface EntryFacts {
  path: string;
  /** tar's type name: File, OldFile, ContiguousFile, Directory, SymbolicLink, Link, CharacterDevice, … */
  type: string;
  size: number;
}

export type EntryDecision = { action: 'write'; name: string } | { action: 'skip'; reason: string } | { action: 'refuse'; reason: string };

/** The largest file kubewasm writes from an archive (a shim is tens of MB): a guard against archive bombs. */
export const MAX_ENTRY_BYTES = 1024 * 1024 * 1024;

const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);
const DEVICES = new Set(['CharacterDevice', 'BlockDevice', 'FIFO']);

/** "./a/b/" -> "a/b"; undefined for the archive root ("./", "."). */
export function normalizeEntryPath(raw: string): string | undefined {
  let p = raw.replace(/\/+$/, '');
  while (p.startsWith('./')) p = p.slice(2);
  return p === '' || p === '.' ? undefined : p;
}

/**
 * What to do with one entry, given the file names wanted from the archive's
 * top level. Pure: the extractor only carries the decision out.
 */
export function classifyEntry(entry: EntryFacts, expected: readonly string[]): EntryDecision {
  const raw = entry.path;
  if (raw.startsWith('/') || /^[A-Za-z]:[\\/]/.test(raw)) return { action: 'refuse', reason: `entry '${raw}' has an absolute path` };
  if (raw.split(/[\\/]/).includes('..')) return { action: 'refuse', reason: `entry '${raw}' climbs out of the archive ('..')` };
  const p = normalizeEntryPath(raw);
  const isExpected = p !== undefined && expected.includes(p);
  if (DEVICES.has(entry.type)) return { action: 'refuse', reason: `entry '${raw}' is a device or FIFO (${entry.type})` };
  if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
    if (isExpected) return { action: 'refuse', reason: `'${raw}' is a ${entry.type === 'Link' ? 'hard link' : 'symbolic link'}, not the shim binary itself` };
    return { action: 'skip', reason: `link '${raw}' not extracted (links are never created)` };
  }
  if (entry.type === 'Directory') return { action: 'skip', reason: `directory '${raw}' not created` };
  if (!REGULAR.has(entry.type)) return { action: 'refuse', reason: `entry '${raw}' has a type kubewasm does not extract (${entry.type})` };
  if (!isExpected) return { action: 'skip', reason: `'${raw}' is not a file kubewasm needs` };
  if (entry.size > MAX_ENTRY_BYTES) return { action: 'refuse', reason: `'${raw}' is ${entry.size} bytes, more than a shim can be` };
  return { action: 'write', name: p };
}

export interface WalkOptions {
  /** Decides each entry; 'write' entries are handed to onFile. */
  decide: (entry: EntryFacts) => EntryDecision;
  /** Consumes the body of a 'write' entry (it must read it to the end). */
  onFile: (body: Readable, name: string, entry: EntryFacts) => Promise<void>;
  onSkip?: (reason: string) => void;
}

/**
 * Reads a tar (gzip detected) entry by entry. The first refusal aborts the
 * read and rejects; tar's own complaints (corrupt header, truncated archive,
 * bad gzip) are errors too (strict mode).
 */
export function walkArchive(file: string, options: WalkOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const input = createReadStream(file);
    const pending: Array<Promise<void>> = [];
    const bodies = new Set<Readable>();
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      input.destroy();
      for (const body of bodies) body.destroy(); // a half-read entry must not hold its file open
      reject(err);
    };
    const parser = new Parser({
      strict: true,
      filter: (_p: string, entry) => {
        if (failed) return false;
        const e = entry as ReadEntry;
        const decision = options.decide({ path: e.path, type: e.type, size: e.size ?? 0 });
        if (decision.action === 'refuse') {
          // Not thrown here: this runs inside the parser's write().
          queueMicrotask(() => fail(new KubewasmError({ what: `refused the archive: ${decision.reason}`, where: file, fix: 'this archive is not a shim release kubewasm can trust; nothing from it was kept' })));
          return false;
        }
        if (decision.action === 'skip') options.onSkip?.(decision.reason);
        return decision.action === 'write';
      },
      onReadEntry: (entry: ReadEntry) => {
        const name = normalizeEntryPath(entry.path) ?? entry.path;
        const body = Readable.from(entry);
        bodies.add(body);
        body.once('close', () => bodies.delete(body));
        pending.push(options.onFile(body, name, { path: entry.path, type: entry.type, size: entry.size ?? 0 }).catch((err) => fail(err)));
      },
    });
    parser.on('error', (err: Error & { code?: string; tarCode?: string }) =>
      fail(new KubewasmError({ what: `the archive is not a valid tar(.gz): ${err.message}${err.tarCode || err.code ? ` (${err.tarCode ?? err.code})` : ''}`, where: file, fix: 'nothing from it was kept; the release or bundle may be damaged', cause: err })),
    );
    parser.on('end', () => {
      Promise.all(pending).then(() => (failed ? undefined : resolve()), fail);
    });
    input.on('error', fail);
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

export interface Unpacked {
  path: string;
  sha256: string;
  /** The binary's entry name in the tar as stored (a node can unpack that entry itself). */
  member?: string;
}

/**
 * The entry name under which a verified archive stores `binaryName` (e.g.
 * "./containerd-shim-wasmtime-v1"), read from the headers up to that entry
 * only: for an unpacked copy found in the cache.
 */
export function memberOf(file: string, binaryName: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const input = createReadStream(file);
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        if (REGULAR.has(entry.type) && normalizeEntryPath(entry.path) === binaryName) {
          resolve(entry.path);
          input.destroy();
        }
        entry.resume();
      },
    });
    parser.on('error', () => resolve(undefined));
    parser.on('end', () => resolve(undefined));
    input.on('error', () => resolve(undefined));
    input.on('close', () => resolve(undefined));
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/**
 * Unpacks the shim binary of a verified archive into unpacked/<archive sha256>/
 * (a temporary directory renamed into place). Reuses what an earlier run, or
 * a concurrent process, already unpacked.
 */
export async function unpackShim(cache: ShimCache, archiveSha256: string, binaryName: string, onSkip?: (reason: string) => void): Promise<Unpacked> {
  const finalDir = cache.unpackedDir(archiveSha256);
  const finalPath = path.join(finalDir, binaryName);
  const found = async (): Promise<Unpacked> => {
    const [sha256, member] = await Promise.all([sha256OfFile(finalPath), memberOf(cache.blobPath(archiveSha256), binaryName)]);
    return { path: finalPath, sha256, ...(member ? { member } : {}) };
  };
  if ((await stat(finalPath).catch(() => undefined))?.isFile()) return found();

  const tempDir = cache.tempBeside(finalDir);
  await mkdir(tempDir, { mode: 0o755 });
  try {
    const written = new Set<string>();
    let member = '';
    const hash = createHash('sha256');
    await walkArchive(cache.blobPath(archiveSha256), {
      decide: (entry) => {
        const decision = classifyEntry(entry, [binaryName]);
        if (decision.action === 'write' && written.has(decision.name)) return { action: 'refuse', reason: `'${entry.path}' appears twice in the archive` };
        if (decision.action === 'write') written.add(decision.name);
        return decision;
      },
      onFile: async (body, name, entry) => {
        member = entry.path;
        const target = path.join(tempDir, name);
        await writeHashed(body, target, hash, 0o755);
        await chmod(target, 0o755); // whatever the umask or the archive said
      },
      ...(onSkip ? { onSkip } : {}),
    });
    if (!written.has(binaryName)) {
      throw new KubewasmError({ what: `the archive holds no ${binaryName}`, fix: 'the release archive does not contain the shim binary under its expected name; pin another version or report it to the shim project' });
    }
    const sha256 = hash.digest('hex');
    try {
      await rename(tempDir, finalDir);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      await rm(tempDir, { recursive: true, force: true }); // another kubewasm unpacked it first
      return found();
    }
    return { path: finalPath, sha256, member };
  } catch (err) {
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
}
