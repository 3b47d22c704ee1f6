// The release flow: resolve each (shim, arch) to one release archive and the
// sha256 it must have, then fetch it once into the content-addressed cache,
// verify it and unpack the shim binary. The same artifact serves every node of
// that architecture. Where the bytes come from is an origin's business
// (origin.ts); this file keeps what is the same for all of them: the pins
// (--shim-version, --sha256, --lock, the catalog's known digests), the
// advisories a user must accept, the cache and de-duplication.
import { readFile } from 'node:fs/promises';
import { KubewasmError, UsageError } from '../errors.js';
import { refuseUnaccepted } from './advisories.js';
import { unpackShim, type Unpacked } from './archive.js';
import type { ShimBinary } from './binary.js';
import { ShimCache } from './cache.js';
import { releaseChannel, SHIMS, type Arch, type ShimInfo, type ShimName } from './catalog.js';
import { lockEntryFor, lockVersionFor, parseLock, type LockEntry, type LockFile } from './lockfile.js';
import { BundleOrigin } from './origin-bundle.js';
import { DirectoryOrigin } from './origin-directory.js';
import { GithubOrigin } from './origin-github.js';
import { MirrorOrigin } from './origin-mirror.js';
import type { AnyShimOrigin, FetchHandle, Located, ShimOriginSource } from './origin.js';
import { chooseDigest, isSha256Hex, normalizeVersion, type DigestCandidate } from './resolve.js';

export type { AnyShimOrigin, ShimOrigin } from './origin.js';

export interface Pins {
  /** 'latest', 'X.Y.Z' or a tag, per shim (default: the catalog's version, or the lock's). */
  versions?: Partial<Record<ShimName, string>>;
  /** sha256 of the release archive, keyed "shim/arch". */
  digests?: Partial<Record<string, string>>;
  lock?: LockFile;
  /** Where the lock came from, for messages. */
  lockSource?: string;
  /** Advisory ids (or their CVE aliases) the user accepted with --accept-advisory. */
  acceptAdvisories?: string[];
}

export interface ResolvedArtifact {
  shim: ShimInfo;
  version: string;
  arch: Arch;
  /** owner/repo */
  repository: string;
  tag: string;
  /** The release archive's name. */
  asset: string;
  size?: number | undefined;
  /** Expected sha256 of the release archive. */
  sha256: string;
  digestSource: string;
  fetch: FetchHandle;
  packaging: 'archive' | 'binary';
}

export interface ShimArtifact extends ResolvedArtifact {
  /** The verified release archive in the cache. */
  archivePath: string;
  /** The shim binary unpacked from it. */
  binaryPath: string;
  binarySha256: string;
  /** The binary's entry name in the archive (undefined: a bare binary, or unknown). */
  member?: string | undefined;
  /** Bytes fetched for it in this run (0 when the cache had it). */
  fetchedBytes: number;
}

export type ShimEvent =
  | { type: 'resolved'; artifact: ResolvedArtifact }
  | { type: 'cached'; artifact: ResolvedArtifact }
  | { type: 'progress'; artifact: ResolvedArtifact; received: number; total?: number | undefined }
  | { type: 'verified'; artifact: ResolvedArtifact; bytes: number }
  | { type: 'skipped-entry'; artifact: ResolvedArtifact; reason: string }
  | { type: 'ready'; artifact: ShimArtifact };

export interface ShimReleasesOptions {
  origin: AnyShimOrigin;
  cacheDir: string;
  pins?: Pins;
}

type Fetched = Pick<ShimArtifact, 'fetchedBytes' | 'binaryPath' | 'binarySha256' | 'member'>;

/** What the node algorithm consumes. */
export function toShimBinary(artifact: ShimArtifact): ShimBinary {
  // Only a gzip tar goes to nodes as it is: they unpack it with gzip and tar.
  const gzipTar = artifact.packaging === 'archive' && artifact.member !== undefined && /\.(tar\.gz|tgz)$/.test(artifact.asset);
  return {
    shim: artifact.shim,
    localPath: artifact.binaryPath,
    sha256: artifact.binarySha256,
    ...(/^\d+\.\d+\.\d+$/.test(artifact.version) ? { version: artifact.version } : {}),
    ...(gzipTar ? { archive: { path: artifact.archivePath, sha256: artifact.sha256, member: artifact.member! } } : {}),
  };
}

export function artifactLabel(a: { shim: ShimInfo; version: string; arch: Arch }): string {
  return `${a.shim.name} ${a.version} ${a.arch}`;
}

/** The lock entry of a fetched artifact: the version and digest it resolved to (also for `latest`). */
export function toLockEntry(a: ShimArtifact): LockEntry {
  return {
    shim: a.shim.name,
    version: a.version,
    arch: a.arch,
    repository: a.repository,
    tag: a.tag,
    asset: a.asset,
    sha256: a.sha256,
    size: a.size ?? 0,
    binarySha256: a.binarySha256,
    digestSource: a.digestSource,
  };
}

export function originSource(origin: AnyShimOrigin): ShimOriginSource {
  switch (origin.kind) {
    case 'github':
      return new GithubOrigin(origin);
    case 'mirror':
      return new MirrorOrigin(origin.url);
    case 'bundle':
      return new BundleOrigin(origin.file);
    case 'directory':
      return new DirectoryOrigin(origin.dir);
  }
}

/**
 * The digests kubewasm and the user bring, beside the origin's: --sha256, the
 * lock file (for the same archive), the catalog's public pins. Pure.
 */
export function pinnedCandidates(pins: Pins, shim: ShimInfo, version: string, arch: Arch, asset: string): DigestCandidate[] {
  const candidates: DigestCandidate[] = [];
  const pinned = pins.digests?.[`${shim.name}/${arch}`];
  if (pinned) candidates.push({ sha256: pinned, source: `pinned with --sha256 ${shim.name}/${arch}` });
  const locked = lockEntryFor(pins.lock, shim.name, arch);
  if (locked && locked.version === version && locked.asset === asset) candidates.push({ sha256: locked.sha256, source: `lock file ${pins.lockSource ?? ''}`.trim() });
  const known = releaseChannel(shim.name).knownDigests[version]?.[arch];
  if (known) candidates.push({ sha256: known.sha256, source: `kubewasm's catalog (${known.source})` });
  return candidates;
}

export class ShimReleases {
  readonly cache: ShimCache;
  private readonly origin: ShimOriginSource;
  private readonly pins: Pins;
  private readonly inFlight = new Map<string, Promise<Fetched>>();

  constructor(options: ShimReleasesOptions) {
    this.origin = originSource(options.origin);
    this.pins = options.pins ?? {};
    this.cache = new ShimCache(options.cacheDir);
    for (const [key, hex] of Object.entries(this.pins.digests ?? {})) {
      if (!hex || !isSha256Hex(hex)) throw new UsageError(`--sha256 ${key}=${hex ?? ''} is not a sha256 (64 lowercase hex digits)`);
    }
  }

  /** Resolves every (shim, arch) once, whatever the number of nodes asking for it. */
  async resolve(shims: ShimInfo[], archs: Arch[], onEvent?: (e: ShimEvent) => void): Promise<ResolvedArtifact[]> {
    const pairs = [...new Set(shims.map((s) => s.name))].flatMap((name) => [...new Set(archs)].map((arch) => ({ shim: SHIMS[name], arch })));
    const resolved = await Promise.all(pairs.map(({ shim, arch }) => this.resolveOne(shim, arch)));
    for (const artifact of resolved) onEvent?.({ type: 'resolved', artifact });
    return resolved;
  }

  /** Fetches (or finds in the cache), verifies and unpacks one artifact; concurrent callers share the work. */
  async fetch(resolved: ResolvedArtifact, onEvent?: (e: ShimEvent) => void): Promise<ShimArtifact> {
    const key = `${resolved.sha256}/${resolved.shim.binaryName}`;
    let running = this.inFlight.get(key);
    const first = !running;
    if (!running) {
      running = this.fetchOne(resolved, onEvent);
      this.inFlight.set(key, running);
      running.catch(() => this.inFlight.delete(key));
    }
    const { fetchedBytes, binaryPath, binarySha256, member } = await running;
    // Same bytes, possibly asked for under another (shim, arch): describe what was asked for.
    const artifact: ShimArtifact = { ...resolved, archivePath: this.cache.blobPath(resolved.sha256), binaryPath, binarySha256, member, fetchedBytes: first ? fetchedBytes : 0 };
    onEvent?.({ type: 'ready', artifact });
    return artifact;
  }

  /** resolve + fetch, at most `concurrency` downloads at once. */
  async provide(shims: ShimInfo[], archs: Arch[], onEvent?: (e: ShimEvent) => void, concurrency = 4): Promise<ShimArtifact[]> {
    const resolved = await this.resolve(shims, archs, onEvent);
    const results: ShimArtifact[] = new Array(resolved.length);
    let next = 0;
    const worker = async () => {
      while (next < resolved.length) {
        const i = next++;
        results[i] = await this.fetch(resolved[i]!, onEvent);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, resolved.length) }, worker));
    return results;
  }

  // -------------------------------------------------------------------------

  private async resolveOne(shim: ShimInfo, arch: Arch): Promise<ResolvedArtifact> {
    const channel = releaseChannel(shim.name);
    const pinned = this.pins.versions?.[shim.name];
    const raw = pinned ?? lockVersionFor(this.pins.lock, shim.name) ?? channel.defaultVersion;
    const version = normalizeVersion(raw, channel, shim);
    const located = await this.origin.resolve({ shim, arch, version, explicit: pinned !== undefined, locked: lockEntryFor(this.pins.lock, shim.name, arch) });
    const candidates = [...pinnedCandidates(this.pins, shim, located.version, arch, located.asset), ...located.candidates];
    const what = { shim: shim.name, version: located.version, arch, asset: located.asset, where: located.where, uploaded: located.uploaded };
    refuseUnaccepted({ shim: shim.name, version: located.version, where: located.where }, this.pins.acceptAdvisories ?? [], candidates.length === 0 ? noDigestParts(located, what) : undefined);
    if (candidates.length === 0 && located.noDigest) throw new KubewasmError({ ...located.noDigest, where: located.where });
    const digest = chooseDigest(candidates, what);
    return {
      shim,
      version: located.version,
      arch,
      repository: located.repository,
      tag: located.tag,
      asset: located.asset,
      size: located.size,
      sha256: digest.sha256,
      digestSource: digest.source,
      fetch: located.fetch,
      packaging: located.packaging,
    };
  }

  private async fetchOne(resolved: ResolvedArtifact, onEvent?: (e: ShimEvent) => void): Promise<Fetched> {
    await this.cache.prepare();
    let fetchedBytes = 0;
    if (await this.cache.hasVerifiedBlob(resolved.sha256)) {
      onEvent?.({ type: 'cached', artifact: resolved });
    } else {
      fetchedBytes = await this.origin.open(resolved, {
        label: resolved.asset,
        expectedSha256: resolved.sha256,
        digestSource: resolved.digestSource,
        expectedSize: resolved.size,
        cache: this.cache,
        onProgress: (received, total) => onEvent?.({ type: 'progress', artifact: resolved, received, total }),
      });
      onEvent?.({ type: 'verified', artifact: resolved, bytes: fetchedBytes });
    }
    try {
      const unpacked: Unpacked =
        resolved.packaging === 'binary'
          ? await this.cache.exposeBinary(resolved.sha256, resolved.shim.binaryName)
          : await unpackShim(this.cache, resolved.sha256, resolved.shim.binaryName, (reason) => onEvent?.({ type: 'skipped-entry', artifact: resolved, reason }));
      return { fetchedBytes, binaryPath: unpacked.path, binarySha256: unpacked.sha256, member: unpacked.member };
    } catch (err) {
      await this.cache.forget(resolved.sha256); // a verified archive kubewasm refuses to use is not kept either
      throw err instanceof KubewasmError ? err.at(`${artifactLabel(resolved)} (${resolved.asset})`) : err;
    }
  }
}

/** The no-digest refusal's text, to name it beside an advisory in one message. */
function noDigestParts(located: Located, what: Parameters<typeof chooseDigest>[1]): { what: string; fix: string } {
  if (located.noDigest) return located.noDigest;
  try {
    chooseDigest([], what);
  } catch (err) {
    if (err instanceof KubewasmError) return { what: err.what, fix: err.fix ?? '' };
  }
  return { what: 'no sha256 to verify it against', fix: `pin it: --sha256 ${what.shim}/${what.arch}=HEX` };
}

/** Reads and checks a lock file given with --lock. */
export async function readLockFile(file: string): Promise<LockFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new KubewasmError({ what: `cannot read the lock file: ${(err as Error).message}`, where: file });
  }
  return parseLock(text, file);
}
