// The lock file: which release archive (version, asset, sha256) each shim
// uses per architecture. `kubewasm bundle` writes it into the bundle; --lock
// FILE reads it back to pin versions and digests of a GitHub or mirror install.
import { KubewasmError } from '../errors.js';
import { ARCHES, SHIMS, type Arch, type ShimName } from './catalog.js';
import { isSha256Hex } from './resolve.js';

export const LOCK_KIND = 'kubewasm-shims-lock';
/** The lock file's name inside a bundle. */
export const BUNDLE_LOCK_NAME = 'kubewasm-bundle.lock.json';

export interface LockEntry {
  shim: ShimName;
  version: string;
  arch: Arch;
  /** owner/repo the archive was released from. */
  repository: string;
  tag: string;
  asset: string;
  /** sha256 of the release archive (what is downloaded and verified). */
  sha256: string;
  size: number;
  /** sha256 of the shim binary inside, for reference (what lands on the node). */
  binarySha256?: string;
  /** Where the digest was first learnt (GitHub API digest, a pin, …). */
  digestSource?: string;
}

export interface LockFile {
  kind: typeof LOCK_KIND;
  formatVersion: 1;
  createdBy?: string;
  entries: LockEntry[];
}

export function serializeLock(entries: LockEntry[], createdBy?: string): string {
  const sorted = [...entries].sort((a, b) => a.shim.localeCompare(b.shim) || a.arch.localeCompare(b.arch));
  const lock: LockFile = { kind: LOCK_KIND, formatVersion: 1, ...(createdBy ? { createdBy } : {}), entries: sorted };
  return `${JSON.stringify(lock, null, 2)}\n`;
}

/** Parses and checks a lock file; every problem names the entry and field. */
export function parseLock(text: string, where: string): LockFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new KubewasmError({ what: `not a kubewasm lock file: ${(err as Error).message}`, where, fix: 'give the file written by kubewasm bundle (kubewasm-bundle.lock.json)' });
  }
  const lock = data as Partial<LockFile>;
  if (lock?.kind !== LOCK_KIND) throw new KubewasmError({ what: `not a kubewasm lock file (kind is ${JSON.stringify(lock?.kind)})`, where, fix: `expected "kind": "${LOCK_KIND}"` });
  if (lock.formatVersion !== 1) throw new KubewasmError({ what: `lock file format ${String(lock.formatVersion)} is not supported by this kubewasm`, where, fix: 'use the kubewasm version that wrote it, or write it again' });
  if (!Array.isArray(lock.entries)) throw new KubewasmError({ what: 'the lock file has no entries list', where });
  const seen = new Set<string>();
  lock.entries.forEach((e, i) => {
    const bad = (field: string) => new KubewasmError({ what: `lock entry ${i + 1} has a missing or invalid '${field}'`, where });
    if (!e || typeof e !== 'object') throw bad('entry');
    if (!(e.shim in SHIMS)) throw bad('shim');
    if (!ARCHES.includes(e.arch)) throw bad('arch');
    if (typeof e.version !== 'string' || !/^\d+\.\d+\.\d+$/.test(e.version)) throw bad('version');
    for (const f of ['repository', 'tag', 'asset'] as const) if (typeof e[f] !== 'string' || e[f] === '') throw bad(f);
    if (typeof e.sha256 !== 'string' || !isSha256Hex(e.sha256)) throw bad('sha256');
    if (typeof e.size !== 'number' || !(e.size >= 0)) throw bad('size');
    const key = `${e.shim}/${e.arch}`;
    if (seen.has(key)) throw new KubewasmError({ what: `the lock file lists ${key} twice`, where });
    seen.add(key);
  });
  return lock as LockFile;
}

export function lockEntryFor(lock: LockFile | undefined, shim: ShimName, arch: Arch): LockEntry | undefined {
  return lock?.entries.find((e) => e.shim === shim && e.arch === arch);
}

/** The version the lock pins for a shim (all arches of a shim share one version). */
export function lockVersionFor(lock: LockFile | undefined, shim: ShimName): string | undefined {
  return lock?.entries.find((e) => e.shim === shim)?.version;
}
