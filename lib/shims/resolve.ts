// Pure decisions of the release flow: which release, which asset, which
// expected sha256, and what a GitHub error means for the user.
import { KubewasmError, UsageError } from '../errors.js';
import { expandTemplate, type Arch, type ReleaseChannel, type ShimInfo } from './catalog.js';

/** The fields of a GitHub release asset kubewasm reads (REST schema "release-asset"). */
export interface GithubAsset {
  id: number;
  name: string;
  /** API URL of the asset; GET with Accept: application/octet-stream redirects to the bytes. */
  url: string;
  browser_download_url: string;
  size: number;
  /** "sha256:<hex>", computed by GitHub at upload since June 2025; null for older assets. */
  digest?: string | null;
  state?: string;
  created_at?: string;
}

/** The fields of a GitHub release kubewasm reads (REST schema "release"). */
export interface GithubRelease {
  tag_name: string;
  draft: boolean;
  prerelease: boolean;
  published_at?: string | null;
  assets: GithubAsset[];
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/** 'latest', 'v0.6.0', '0.6.0' or a full tag ('containerd-shim-wasmtime/v0.6.0') -> 'latest' or 'X.Y.Z'. */
export function normalizeVersion(input: string, channel: ReleaseChannel, shim: ShimInfo): string {
  const value = input.trim();
  if (value === 'latest') return 'latest';
  const plain = value.replace(/^v/, '');
  if (SEMVER.test(plain)) return plain;
  for (const template of channel.tags) {
    const version = matchTemplate(template, value);
    if (version) return version;
  }
  throw new UsageError(`'${input}' is not a version of the ${shim.name} shim`, `give X.Y.Z (e.g. ${channel.defaultVersion}), vX.Y.Z, a tag like '${expandTemplate(channel.tags[0] ?? 'v{version}', { version: channel.defaultVersion })}', or 'latest'`);
}

function matchTemplate(template: string, tag: string): string | undefined {
  const [before, after] = template.split('{version}') as [string, string | undefined];
  if (after === undefined || !tag.startsWith(before) || !tag.endsWith(after)) return undefined;
  const version = tag.slice(before.length, tag.length - after.length);
  return SEMVER.test(version) ? version : undefined;
}

/** The tags a pinned version may carry, current convention first. */
export function tagsFor(channel: ReleaseChannel, version: string): string[] {
  return channel.tags.map((t) => expandTemplate(t, { version }));
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The newest published, non-prerelease release of this shim. runwasi releases
 * several crates from one repository, so GitHub's own "latest release" may be a
 * library crate without binaries: select by the shim's tag convention instead.
 */
export function pickLatest(channel: ReleaseChannel, releases: GithubRelease[]): { release: GithubRelease; version: string } | undefined {
  const primary = channel.tags[0];
  if (!primary) return undefined;
  let best: { release: GithubRelease; version: string } | undefined;
  for (const release of releases) {
    if (release.draft || release.prerelease) continue;
    const version = matchTemplate(primary, release.tag_name);
    if (!version) continue;
    if (!best || compareVersions(version, best.version) > 0) best = { release, version };
  }
  return best;
}

/** Asset names this shim may carry for a version and arch, current convention first. */
export function assetNamesFor(channel: ReleaseChannel, version: string, arch: Arch): string[] {
  return channel.assets.filter((a) => !a.archs || a.archs.includes(arch)).map((a) => expandTemplate(a.name, { version, arch }));
}

/** The release asset for the node's architecture, or an error that says what the release has. */
export function pickAsset(channel: ReleaseChannel, shim: ShimInfo, release: GithubRelease, version: string, arch: Arch): GithubAsset {
  const where = `github.com/${channel.owner}/${channel.repo} release ${release.tag_name}`;
  const uploaded = release.assets.filter((a) => a.state === undefined || a.state === 'uploaded');
  for (const name of assetNamesFor(channel, version, arch)) {
    const asset = uploaded.find((a) => a.name === name);
    if (asset) return asset;
  }
  const otherArchs = (['amd64', 'arm64'] as Arch[]).filter((other) => other !== arch && assetNamesFor(channel, version, other).some((n) => uploaded.some((a) => a.name === n)));
  const present = uploaded.map((a) => a.name).join(', ') || 'no assets at all';
  if (otherArchs.length > 0) {
    return fail({
      what: `the ${shim.name} shim ${version} has no build for ${arch} nodes (only for ${otherArchs.join(', ')})`,
      where,
      fix: `choose a version that ships ${assetNamesFor(channel, version, arch)[0]}, or leave ${arch} nodes out (the release has: ${present})`,
    });
  }
  return fail({
    what: `the release has no ${shim.name} shim archive (looked for ${assetNamesFor(channel, version, arch).join(' or ')})`,
    where,
    fix: `the release may still be uploading or use another naming scheme; pin another version (the release has: ${present})`,
  });
}

function fail(details: { what: string; where: string; fix: string }): never {
  throw new KubewasmError(details);
}

/** "sha256:<hex>" -> hex; undefined when GitHub has none (null) or uses another algorithm. */
export function parseAssetDigest(digest: string | null | undefined, where: string): string | undefined {
  if (digest === null || digest === undefined || digest === '') return undefined;
  const [algorithm, hex] = digest.split(':', 2);
  if (algorithm !== 'sha256') return undefined;
  if (!hex || !isSha256Hex(hex.toLowerCase())) {
    throw new KubewasmError({ what: `GitHub reported a malformed digest '${digest}'`, where, fix: 'pin the sha256 yourself (--sha256) after checking the archive' });
  }
  return hex.toLowerCase();
}

/** Checksum assets a release might publish beside an archive (runwasi publishes SHA256SUMS from v0.6.1). */
export function checksumAssetNames(assetName: string): string[] {
  return [`${assetName}.sha256`, `${assetName}.sha256sum`, 'SHA256SUMS', 'SHA256SUMS.txt', 'sha256sums.txt', 'checksums.txt'];
}

/**
 * The sha256 of `assetName` in a checksum file ("<hex>  name", "<hex> *name",
 * a path such as "dist/name", or a bare hex for NAME.sha256). A file that
 * names the asset twice with different digests is refused.
 */
export function parseChecksumFile(text: string, assetName: string): string | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const found = new Set<string>();
  for (const line of lines) {
    const m = /^([0-9a-fA-F]{64})(?:\s+\*?(\S.*))?$/.exec(line);
    if (!m) continue;
    const [, hex, name] = m;
    if (name === undefined ? lines.length === 1 : baseName(name) === assetName) found.add(hex!.toLowerCase());
  }
  if (found.size > 1) throw new KubewasmError({ what: `the checksum file names ${assetName} with ${found.size} different sha256s`, fix: 'do not install from this release until its publisher explains it' });
  return [...found][0];
}

function baseName(name: string): string {
  return name.trim().replace(/^.*[\\/]/, '');
}

/**
 * The sha256 of `assetName` in a runtime-class-manager Shim
 * (runtime.spinkube.dev/v1alpha1): spec.fetchStrategy.platforms[] items with
 * os, arch, location and sha256, matched by the location's file name (or by
 * arch when no location names the asset). A small reader for this one shape,
 * not a YAML parser: list items under `platforms:` with `key: value` lines.
 */
export function parseShimYaml(text: string, assetName: string, arch: Arch): string | undefined {
  const items: Array<Record<string, string>> = [];
  let inPlatforms = false;
  let indent = -1;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '');
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const lead = line.length - line.trimStart().length;
    if (/^\s*platforms:\s*$/.test(line)) {
      inPlatforms = true;
      indent = lead;
      continue;
    }
    if (!inPlatforms) continue;
    const body = line.trimStart();
    if (lead <= indent && !body.startsWith('- ')) {
      inPlatforms = false;
      continue;
    }
    const m = /^(-\s+)?([A-Za-z0-9_]+):\s*(.*)$/.exec(body);
    if (!m) continue;
    if (m[1] || items.length === 0) items.push({});
    items[items.length - 1]![m[2]!] = m[3]!.trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  const machine = arch === 'amd64' ? ['x86_64', 'amd64'] : ['aarch64', 'arm64'];
  const byName = items.filter((i) => i['location'] && baseName(decodeURIComponent(i['location'])) === assetName);
  const chosen = byName.length > 0 ? byName : items.filter((i) => !i['location'] && machine.includes(i['arch'] ?? ''));
  const digests = new Set(chosen.map((i) => (i['sha256'] ?? '').toLowerCase()).filter((h) => isSha256Hex(h)));
  if (digests.size > 1) throw new KubewasmError({ what: `the Shim yaml names ${assetName} with ${digests.size} different sha256s`, fix: 'do not install from this release until its publisher explains it' });
  return [...digests][0];
}

export interface DigestCandidate {
  sha256: string;
  /** Where this digest comes from, for messages and the lock file. */
  source: string;
}

/** The expected sha256: every source that has one must agree; with none, refuse. */
export function chooseDigest(candidates: DigestCandidate[], what: { shim: string; version: string; arch: Arch; asset: string; where: string; uploaded?: string | undefined }): DigestCandidate {
  const first = candidates[0];
  if (!first) {
    const before = what.uploaded && what.uploaded < '2025-06' ? ` (uploaded ${what.uploaded.slice(0, 10)}, before GitHub computed asset digests in June 2025)` : '';
    throw new KubewasmError({
      what: `no sha256 to verify ${what.asset} (${what.shim} ${what.version}, ${what.arch}) against: GitHub reports no digest for it${before}, the release publishes no checksum file and nothing is pinned`,
      where: what.where,
      fix: `kubewasm installs nothing unverified. Check the archive yourself (e.g. cosign verify-blob with the .sig/.pem inside) and pin it: --sha256 ${what.shim}/${what.arch}=HEX, or --lock FILE, or install from a bundle (--bundle FILE) made where it was verified`,
    });
  }
  const disagreeing = candidates.filter((c) => c.sha256 !== first.sha256);
  if (disagreeing.length > 0) {
    throw new KubewasmError({
      what: `the expected sha256 of ${what.asset} (${what.shim} ${what.version}, ${what.arch}) differs between sources: ${candidates.map((c) => `${c.source} says ${c.sha256}`).join('; ')}`,
      where: what.where,
      fix: 'find out which one is wrong before installing anything; correct or drop the pin that does not match the release',
    });
  }
  return { sha256: first.sha256, source: candidates.map((c) => c.source).join(' + ') };
}

export interface HttpFailure {
  /** HTTP status; undefined when no response came (connection refused, DNS, TLS). */
  status?: number | undefined;
  headers?: Record<string, string | number | undefined>;
  url: string;
  message: string;
  /** What kubewasm was doing, e.g. "list the releases of containerd/runwasi". */
  doing: string;
  /** Whether a token was sent. */
  authenticated: boolean;
}

const AIR_GAP_HINT = 'or, without GitHub, make a bundle where GitHub is reachable (kubewasm bundle) and use --bundle FILE';

/** A GitHub REST failure as a user can act on it: rate limits with their reset time, 404s, bad tokens, no route. */
export function explainGithubError(failure: HttpFailure, now: Date = new Date()): KubewasmError {
  const h = (name: string) => {
    const v = failure.headers?.[name];
    return v === undefined ? undefined : String(v);
  };
  const where = failure.url;
  if (failure.status === undefined) {
    return new KubewasmError({ what: `could not ${failure.doing}: no answer from the GitHub API (${failure.message})`, where, fix: `check --github-api-url and the network path to it, ${AIR_GAP_HINT} or --mirror URL` });
  }
  const remaining = h('x-ratelimit-remaining');
  const retryAfter = h('retry-after');
  const rateLimited = (failure.status === 403 || failure.status === 429) && (remaining === '0' || retryAfter !== undefined || /rate limit/i.test(failure.message));
  if (rateLimited) {
    const limit = h('x-ratelimit-limit');
    const used = h('x-ratelimit-used');
    const resource = h('x-ratelimit-resource');
    const reset = Number(h('x-ratelimit-reset'));
    let when = '';
    if (retryAfter !== undefined && Number.isFinite(Number(retryAfter))) when = `GitHub asks to retry after ${Number(retryAfter)} s`;
    else if (Number.isFinite(reset) && reset > 0) {
      const at = new Date(reset * 1000);
      const minutes = Math.max(0, Math.ceil((at.getTime() - now.getTime()) / 60_000));
      when = `the limit resets at ${at.toISOString()} (in ${minutes} min)`;
    }
    const counts = limit ? ` (${used ?? '?'} of ${limit} requests used${resource ? `, resource "${resource}"` : ''})` : '';
    const kind = remaining === '0' ? 'rate limit exceeded' : 'secondary rate limit hit (too many requests at once)';
    return new KubewasmError({
      what: `could not ${failure.doing}: GitHub API ${kind}${counts}, HTTP ${failure.status}${when ? `; ${when}` : ''}`,
      where,
      fix: failure.authenticated
        ? `wait${when ? ' as said' : ''} and run again, ${AIR_GAP_HINT}`
        : `set GITHUB_TOKEN (authenticated requests get 5,000 per hour instead of 60), or wait${when ? ' as said' : ''} and run again, ${AIR_GAP_HINT}`,
    });
  }
  if (failure.status === 401) {
    return new KubewasmError({ what: `could not ${failure.doing}: GitHub rejected the token (HTTP 401: ${failure.message})`, where, fix: 'renew GITHUB_TOKEN, or unset it to read public releases anonymously' });
  }
  if (failure.status === 403) {
    return new KubewasmError({ what: `could not ${failure.doing}: GitHub refused access (HTTP 403: ${failure.message})`, where, fix: failure.authenticated ? 'give the token read access to the repository contents (contents: read)' : `set GITHUB_TOKEN, ${AIR_GAP_HINT}` });
  }
  if (failure.status === 404) {
    return new KubewasmError({ what: `could not ${failure.doing}: not found (HTTP 404)`, where, fix: 'check the version (kubewasm lists what it looked for above) and --github-api-url; a private mirror needs GITHUB_TOKEN' });
  }
  if (failure.status >= 500) {
    return new KubewasmError({ what: `could not ${failure.doing}: GitHub API error (HTTP ${failure.status}: ${failure.message})`, where, fix: `run again later, ${AIR_GAP_HINT}` });
  }
  return new KubewasmError({ what: `could not ${failure.doing}: HTTP ${failure.status}: ${failure.message}`, where, fix: 'check --github-api-url points at a GitHub REST API' });
}
