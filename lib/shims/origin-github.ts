// The GitHub origin: releases through the REST API, asset bytes through the
// API's redirect to the download host (without the token), and the digests a
// release carries: the asset `digest` (GitHub computes it since June 2025),
// SHA256SUMS (runwasi from v0.6.1) and the Spin shim's runtime-class-manager
// Shim yaml (from v0.25), each a separate candidate so disagreement is refused.
import { KubewasmError } from '../errors.js';
import { expandTemplate, releaseChannel, type ShimInfo } from './catalog.js';
import { downloadVerified, followRedirects, type DownloadOptions } from './download.js';
import { GithubReleases } from './github.js';
import type { Located, OriginRequest, ShimOriginSource } from './origin.js';
import { checksumAssetNames, parseAssetDigest, parseChecksumFile, parseShimYaml, pickAsset, pickLatest, tagsFor, type DigestCandidate, type GithubRelease } from './resolve.js';
import type { Arch } from './catalog.js';

/** Digest files larger than this are not read (a checksum file is a few hundred bytes). */
const MAX_DIGEST_FILE = 1024 * 1024;

export class GithubOrigin implements ShimOriginSource {
  readonly kind = 'github' as const;
  private readonly api: GithubReleases;
  /** One lookup per (shim, version), whatever the number of archs and nodes. */
  private readonly releases = new Map<string, Promise<{ release: GithubRelease; version: string }>>();
  private readonly digestFiles = new Map<string, Promise<string | undefined>>();

  constructor(options: { apiUrl: string; token?: string | undefined }) {
    this.api = new GithubReleases({ apiUrl: options.apiUrl, ...(options.token ? { token: options.token } : {}) });
  }

  async resolve(request: OriginRequest): Promise<Located> {
    const { shim, arch } = request;
    const channel = releaseChannel(shim.name);
    const { release, version } = await this.release(shim, request.version);
    const asset = pickAsset(channel, shim, release, version, arch);
    const where = `github.com/${channel.owner}/${channel.repo} release ${release.tag_name}, asset ${asset.name}`;
    const candidates: DigestCandidate[] = [];
    const fromApi = parseAssetDigest(asset.digest, where);
    if (fromApi) candidates.push({ sha256: fromApi, source: 'GitHub API asset digest' });
    candidates.push(...(await this.digestsFromRelease(shim, release, asset.name, arch)));
    return {
      version,
      repository: `${channel.owner}/${channel.repo}`,
      tag: release.tag_name,
      asset: asset.name,
      size: asset.size,
      candidates,
      where,
      uploaded: asset.created_at,
      fetch: { kind: 'github', asset },
      packaging: 'archive',
    };
  }

  async open(located: Pick<Located, 'fetch' | 'repository'>, download: DownloadOptions): Promise<number> {
    if (located.fetch.kind !== 'github') throw new Error(`the GitHub origin cannot open a ${located.fetch.kind} artifact`);
    const [owner, repo] = located.repository.split('/') as [string, string];
    const first = await this.api.openAsset(owner, repo, located.fetch.asset);
    return (await downloadVerified({ ...first, url: located.fetch.asset.url }, download)).bytes;
  }

  private release(shim: ShimInfo, version: string): Promise<{ release: GithubRelease; version: string }> {
    const key = `${shim.name}@${version}`;
    let found = this.releases.get(key);
    if (!found) {
      found = this.findRelease(shim, version);
      this.releases.set(key, found);
      found.catch(() => this.releases.delete(key));
    }
    return found;
  }

  private async findRelease(shim: ShimInfo, version: string): Promise<{ release: GithubRelease; version: string }> {
    const channel = releaseChannel(shim.name);
    const where = `${this.api.apiUrl} (${channel.owner}/${channel.repo})`;
    if (version === 'latest') {
      const latest = pickLatest(channel, await this.api.listReleases(channel.owner, channel.repo));
      if (!latest) throw new KubewasmError({ what: `no published release of the ${shim.name} shim in ${channel.owner}/${channel.repo} (looked for tags like ${tagsFor(channel, 'X.Y.Z')[0]}, not drafts or prereleases)`, where, fix: `pin a version: --shim-version ${shim.name}=X.Y.Z` });
      return latest;
    }
    const tags = tagsFor(channel, version);
    for (const tag of tags) {
      const release = await this.api.releaseByTag(channel.owner, channel.repo, tag);
      if (release) return { release, version };
    }
    throw new KubewasmError({
      what: `no release ${version} of the ${shim.name} shim in ${channel.owner}/${channel.repo} (HTTP 404 for tag ${tags.join(', tag ')})`,
      where,
      fix: `check the version (the default is ${channel.defaultVersion}; --shim-version ${shim.name}=latest takes the newest)`,
    });
  }

  /** Digests from the checksum files and Shim yaml published with the release, one candidate per file. */
  private async digestsFromRelease(shim: ShimInfo, release: GithubRelease, assetName: string, arch: Arch): Promise<DigestCandidate[]> {
    const channel = releaseChannel(shim.name);
    const yamlNames = channel.digestFiles.filter((f) => f.format === 'rcm-shim-yaml').map((f) => expandTemplate(f.name.replaceAll('{tag}', release.tag_name), { version: '' }));
    const sumNames = checksumAssetNames(assetName);
    const found: DigestCandidate[] = [];
    for (const file of release.assets) {
      const isYaml = yamlNames.includes(file.name);
      if (!isYaml && !sumNames.includes(file.name)) continue;
      const where = `github.com/${channel.owner}/${channel.repo} release ${release.tag_name}, asset ${file.name}`;
      if (file.size > MAX_DIGEST_FILE) throw new KubewasmError({ what: `${file.name} is ${file.size} bytes, too large for a checksum file`, where, fix: 'report it to the publisher; pin the sha256 yourself (--sha256) after checking the archive' });
      const text = await this.digestFile(channel.owner, channel.repo, release, file.name);
      if (text === undefined) continue;
      let hex: string | undefined;
      try {
        hex = isYaml ? parseShimYaml(text, assetName, arch) : parseChecksumFile(text, assetName);
      } catch (err) {
        throw err instanceof KubewasmError ? err.at(where) : err;
      }
      if (hex) found.push({ sha256: hex, source: isYaml ? `the release's Shim yaml ${file.name}` : `the release's ${file.name}` });
    }
    return found;
  }

  private digestFile(owner: string, repo: string, release: GithubRelease, name: string): Promise<string | undefined> {
    const key = `${owner}/${repo}@${release.tag_name}/${name}`;
    let text = this.digestFiles.get(key);
    if (!text) {
      text = (async () => {
        const file = release.assets.find((a) => a.name === name)!;
        const hop = await followRedirects({ ...(await this.api.openAsset(owner, repo, file)), url: file.url }, file.name);
        const body = await new Response(hop.body).text();
        if (body.length > MAX_DIGEST_FILE) throw new KubewasmError({ what: `${name} is larger than a checksum file can be`, where: hop.url });
        return body;
      })();
      this.digestFiles.set(key, text);
      text.catch(() => this.digestFiles.delete(key));
    }
    return text;
  }
}
