// The release flow: resolve each (shim, arch) to one release archive and the
// sha256 it must have, then fetch it once into the content-addressed cache
// (GitHub, a mirror or a bundle), verify it and unpack the shim binary. The
// same artifact serves every node of that architecture.
import { readFile } from 'node:fs/promises';
import { KubewasmError, UsageError } from '../errors.js';
import type { ShimBinary } from './binary.js';
import { unpackShim } from './archive.js';
import { importFromBundle, readBundleLock } from './bundle.js';
import { ShimCache } from './cache.js';
import { releaseChannel, SHIMS, type Arch, type ShimInfo, type ShimName } from './catalog.js';
import { downloadVerified, followRedirects, getNoRedirect } from './download.js';
import { GithubReleases } from './github.js';
import { lockEntryFor, lockVersionFor, parseLock, type LockEntry, type LockFile } from './lockfile.js';
import {
  assetNamesFor,
  checksumAssetNames,
  chooseDigest,
  isSha256Hex,
  normalizeVersion,
  parseAssetDigest,
  parseChecksumFile,
  pickAsset,
  pickLatest,
  tagsFor,
  type DigestCandidate,
  type GithubAsset,
  type GithubRelease,
} from './resolve.js';

export type ShimOrigin =
  | { kind: 'github'; apiUrl: string; token?: string | undefined }
  /** A plain file server laid out like github.com: URL/OWNER/REPO/releases/download/TAG/ASSET. */
  | { kind: 'mirror'; url: string }
  | { kind: 'bundle'; file: string };

export interface Pins {
  /** 'latest', 'X.Y.Z' or a tag, per shim (default: the catalog's version, or the lock's). */
  versions?: Partial<Record<ShimName, string>>;
  /** sha256 of the release archive, keyed "shim/arch". */
  digests?: Partial<Record<string, string>>;
  lock?: LockFile;
  /** Where the lock came from, for messages. */
  lockSource?: string;
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
  fetch: { kind: 'github'; asset: GithubAsset } | { kind: 'urls'; urls: string[] } | { kind: 'bundle'; file: string };
}

export interface ShimArtifact extends ResolvedArtifact {
  /** The verified release archive in the cache. */
  archivePath: string;
  /** The shim binary unpacked from it. */
  binaryPath: string;
  binarySha256: string;
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
  origin: ShimOrigin;
  cacheDir: string;
  pins?: Pins;
}

/** What the node algorithm consumes. */
export function toShimBinary(artifact: ShimArtifact): ShimBinary {
  return { shim: artifact.shim, localPath: artifact.binaryPath, sha256: artifact.binarySha256, version: artifact.version };
}

export function artifactLabel(a: { shim: ShimInfo; version: string; arch: Arch }): string {
  return `${a.shim.name} ${a.version} ${a.arch}`;
}

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

export class ShimReleases {
  readonly cache: ShimCache;
  private readonly origin: ShimOrigin;
  private readonly pins: Pins;
  private readonly github: GithubReleases | undefined;
  private readonly releases = new Map<string, Promise<{ release: GithubRelease; version: string }>>();
  private readonly inFlight = new Map<string, Promise<{ fetchedBytes: number; binaryPath: string; binarySha256: string }>>();
  private bundleLock: Promise<LockFile> | undefined;

  constructor(options: ShimReleasesOptions) {
    this.origin = options.origin;
    this.pins = options.pins ?? {};
    this.cache = new ShimCache(options.cacheDir);
    this.github = options.origin.kind === 'github' ? new GithubReleases({ apiUrl: options.origin.apiUrl, ...(options.origin.token ? { token: options.origin.token } : {}) }) : undefined;
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
    const { fetchedBytes, binaryPath, binarySha256 } = await running;
    // Same bytes, possibly asked for under another (shim, arch): describe what was asked for.
    const artifact: ShimArtifact = { ...resolved, archivePath: this.cache.blobPath(resolved.sha256), binaryPath, binarySha256, fetchedBytes: first ? fetchedBytes : 0 };
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

  private wantedVersion(shim: ShimInfo): string {
    const channel = releaseChannel(shim.name);
    const raw = this.pins.versions?.[shim.name] ?? lockVersionFor(this.pins.lock, shim.name) ?? channel.defaultVersion;
    return normalizeVersion(raw, channel, shim);
  }

  private pinnedCandidates(shim: ShimInfo, version: string, arch: Arch, asset: string): DigestCandidate[] {
    const candidates: DigestCandidate[] = [];
    const pinned = this.pins.digests?.[`${shim.name}/${arch}`];
    if (pinned) candidates.push({ sha256: pinned, source: `pinned with --sha256 ${shim.name}/${arch}` });
    const locked = lockEntryFor(this.pins.lock, shim.name, arch);
    if (locked && locked.version === version && locked.asset === asset) candidates.push({ sha256: locked.sha256, source: `lock file ${this.pins.lockSource ?? ''}`.trim() });
    const known = releaseChannel(shim.name).knownDigests[version]?.[arch];
    if (known) candidates.push({ sha256: known.sha256, source: `kubewasm's catalog (${known.source})` });
    return candidates;
  }

  private async resolveOne(shim: ShimInfo, arch: Arch): Promise<ResolvedArtifact> {
    switch (this.origin.kind) {
      case 'github':
        return this.resolveGithub(shim, arch);
      case 'mirror':
        return this.resolveMirror(shim, arch, this.origin.url);
      case 'bundle':
        return this.resolveBundle(shim, arch, this.origin.file);
    }
  }

  private release(shim: ShimInfo, version: string): Promise<{ release: GithubRelease; version: string }> {
    const key = `${shim.name}@${version}`;
    let found = this.releases.get(key);
    if (!found) {
      found = this.findRelease(shim, version);
      this.releases.set(key, found);
    }
    return found;
  }

  private async findRelease(shim: ShimInfo, version: string): Promise<{ release: GithubRelease; version: string }> {
    const channel = releaseChannel(shim.name);
    const github = this.github!;
    const where = `${github.apiUrl} (${channel.owner}/${channel.repo})`;
    if (version === 'latest') {
      const latest = pickLatest(channel, await github.listReleases(channel.owner, channel.repo));
      if (!latest) throw new KubewasmError({ what: `no published release of the ${shim.name} shim in ${channel.owner}/${channel.repo} (looked for tags like ${tagsFor(channel, 'X.Y.Z')[0]}, not drafts or prereleases)`, where, fix: `pin a version: --shim-version ${shim.name}=X.Y.Z` });
      return latest;
    }
    const tags = tagsFor(channel, version);
    for (const tag of tags) {
      const release = await github.releaseByTag(channel.owner, channel.repo, tag);
      if (release) return { release, version };
    }
    throw new KubewasmError({
      what: `no release ${version} of the ${shim.name} shim in ${channel.owner}/${channel.repo} (HTTP 404 for tag ${tags.join(', tag ')})`,
      where,
      fix: `check the version (the default is ${channel.defaultVersion}; --shim-version ${shim.name}=latest takes the newest)`,
    });
  }

  private async resolveGithub(shim: ShimInfo, arch: Arch): Promise<ResolvedArtifact> {
    const channel = releaseChannel(shim.name);
    const { release, version } = await this.release(shim, this.wantedVersion(shim));
    const asset = pickAsset(channel, shim, release, version, arch);
    const where = `github.com/${channel.owner}/${channel.repo} release ${release.tag_name}, asset ${asset.name}`;
    const candidates = this.pinnedCandidates(shim, version, arch, asset.name);
    const fromApi = parseAssetDigest(asset.digest, where);
    if (fromApi) candidates.push({ sha256: fromApi, source: 'GitHub API asset digest' });
    candidates.push(...(await this.checksumsFromRelease(channel.owner, channel.repo, release, asset.name)));
    const digest = chooseDigest(candidates, { shim: shim.name, version, arch, asset: asset.name, where, uploaded: asset.created_at });
    return {
      shim,
      version,
      arch,
      repository: `${channel.owner}/${channel.repo}`,
      tag: release.tag_name,
      asset: asset.name,
      size: asset.size,
      sha256: digest.sha256,
      digestSource: digest.source,
      fetch: { kind: 'github', asset },
    };
  }

  /** Digests from checksum files published with the release, if any. */
  private async checksumsFromRelease(owner: string, repo: string, release: GithubRelease, assetName: string): Promise<DigestCandidate[]> {
    const names = checksumAssetNames(assetName);
    const found: DigestCandidate[] = [];
    for (const file of release.assets.filter((a) => names.includes(a.name) && a.size < 1024 * 1024)) {
      const hop = await followRedirects({ ...(await this.github!.openAsset(owner, repo, file)), url: file.url }, file.name);
      const text = await new Response(hop.body).text();
      const hex = parseChecksumFile(text, assetName);
      if (hex) found.push({ sha256: hex, source: `checksum file ${file.name} of the release` });
    }
    return found;
  }

  private resolveMirror(shim: ShimInfo, arch: Arch, base: string): ResolvedArtifact {
    const channel = releaseChannel(shim.name);
    const version = this.wantedVersion(shim);
    if (version === 'latest') throw new UsageError(`a mirror cannot tell which ${shim.name} version is the latest`, `pin it: --shim-version ${shim.name}=X.Y.Z (or give --lock FILE)`);
    const locked = lockEntryFor(this.pins.lock, shim.name, arch);
    const root = base.replace(/\/+$/, '');
    const pairs = locked && locked.version === version ? [{ tag: locked.tag, asset: locked.asset }] : tagsFor(channel, version).flatMap((tag) => assetNamesFor(channel, version, arch).map((asset) => ({ tag, asset })));
    const first = pairs[0]!;
    const where = `${root}/${channel.owner}/${channel.repo}/releases/download/${first.tag}/${first.asset}`;
    const candidates = this.pinnedCandidates(shim, version, arch, first.asset);
    if (candidates.length === 0) {
      throw new KubewasmError({
        what: `no sha256 to verify ${first.asset} (${shim.name} ${version}, ${arch}) against: a mirror carries no digests and nothing is pinned`,
        where,
        fix: `kubewasm installs nothing unverified: give --lock FILE (from kubewasm bundle), or --sha256 ${shim.name}/${arch}=HEX of the release archive`,
      });
    }
    const digest = chooseDigest(candidates, { shim: shim.name, version, arch, asset: first.asset, where });
    return {
      shim,
      version,
      arch,
      repository: `${channel.owner}/${channel.repo}`,
      tag: first.tag,
      asset: first.asset,
      size: locked?.size || undefined,
      sha256: digest.sha256,
      digestSource: digest.source,
      fetch: { kind: 'urls', urls: pairs.map((p) => `${root}/${channel.owner}/${channel.repo}/releases/download/${p.tag}/${p.asset}`) },
    };
  }

  private async resolveBundle(shim: ShimInfo, arch: Arch, file: string): Promise<ResolvedArtifact> {
    this.bundleLock ??= readBundleLock(file);
    const lock = await this.bundleLock;
    const entry = lockEntryFor(lock, shim.name, arch);
    if (!entry) {
      const holds = lock.entries.map((e) => `${e.shim} ${e.version} ${e.arch}`).join(', ') || 'nothing';
      throw new KubewasmError({ what: `the bundle has no ${shim.name} shim for ${arch}`, where: file, fix: `make a bundle that includes it (kubewasm bundle --shims ${shim.name} --arch ${arch}); this one holds: ${holds}` });
    }
    const pinnedVersion = this.pins.versions?.[shim.name];
    if (pinnedVersion && pinnedVersion !== 'latest' && normalizeVersion(pinnedVersion, releaseChannel(shim.name), shim) !== entry.version) {
      throw new KubewasmError({ what: `the bundle holds ${shim.name} ${entry.version}, not the ${pinnedVersion} asked for`, where: file, fix: 'drop --shim-version, or make a bundle with that version' });
    }
    const candidates: DigestCandidate[] = [{ sha256: entry.sha256, source: `bundle lock ${file}` }, ...this.pinnedCandidates(shim, entry.version, arch, entry.asset)];
    const digest = chooseDigest(candidates, { shim: shim.name, version: entry.version, arch, asset: entry.asset, where: file });
    return { shim, version: entry.version, arch, repository: entry.repository, tag: entry.tag, asset: entry.asset, size: entry.size, sha256: digest.sha256, digestSource: digest.source, fetch: { kind: 'bundle', file } };
  }

  private async fetchOne(resolved: ResolvedArtifact, onEvent?: (e: ShimEvent) => void): Promise<{ fetchedBytes: number; binaryPath: string; binarySha256: string }> {
    await this.cache.prepare();
    let fetchedBytes = 0;
    if (await this.cache.hasVerifiedBlob(resolved.sha256)) {
      onEvent?.({ type: 'cached', artifact: resolved });
    } else {
      fetchedBytes = await this.download(resolved, onEvent);
      onEvent?.({ type: 'verified', artifact: resolved, bytes: fetchedBytes });
    }
    try {
      const unpacked = await unpackShim(this.cache, resolved.sha256, resolved.shim.binaryName, (reason) => onEvent?.({ type: 'skipped-entry', artifact: resolved, reason }));
      return { fetchedBytes, binaryPath: unpacked.path, binarySha256: unpacked.sha256 };
    } catch (err) {
      await this.cache.forget(resolved.sha256); // a verified archive kubewasm refuses to use is not kept either
      throw err instanceof KubewasmError ? err.at(`${artifactLabel(resolved)} (${resolved.asset})`) : err;
    }
  }

  private async download(resolved: ResolvedArtifact, onEvent?: (e: ShimEvent) => void): Promise<number> {
    const options = {
      label: resolved.asset,
      expectedSha256: resolved.sha256,
      digestSource: resolved.digestSource,
      expectedSize: resolved.size,
      cache: this.cache,
      onProgress: (received: number, total: number | undefined) => onEvent?.({ type: 'progress', artifact: resolved, received, total }),
    };
    const source = resolved.fetch;
    switch (source.kind) {
      case 'github': {
        const [owner, repo] = resolved.repository.split('/') as [string, string];
        const first = await this.github!.openAsset(owner, repo, source.asset);
        return (await downloadVerified({ ...first, url: source.asset.url }, options)).bytes;
      }
      case 'urls': {
        for (const [i, url] of source.urls.entries()) {
          const hop = await getNoRedirect(url);
          if (hop.status === 404 && i < source.urls.length - 1) {
            await hop.body?.cancel().catch(() => {});
            continue; // an older naming convention is next
          }
          return (await downloadVerified(hop, { ...options, label: url.slice(url.lastIndexOf('/') + 1) })).bytes;
        }
        throw new KubewasmError({ what: `no download address for ${resolved.asset}` });
      }
      case 'bundle': {
        await importFromBundle(source.file, [resolved.sha256], this.cache);
        return resolved.size ?? 0;
      }
    }
  }
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
