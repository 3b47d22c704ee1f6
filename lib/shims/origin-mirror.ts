// The mirror origin: a plain file server laid out like github.com
// (URL/OWNER/REPO/releases/download/TAG/ASSET). It cannot list releases nor
// vouch for bytes: the version must be named and the digest pinned (the
// catalog, --sha256 or a lock file).
import { KubewasmError, UsageError } from '../errors.js';
import { releaseChannel } from './catalog.js';
import { downloadVerified, getNoRedirect, type DownloadOptions } from './download.js';
import type { Located, OriginRequest, ShimOriginSource } from './origin.js';
import { assetNamesFor, tagsFor } from './resolve.js';

export class MirrorOrigin implements ShimOriginSource {
  readonly kind = 'mirror' as const;
  private readonly root: string;

  constructor(url: string) {
    this.root = url.replace(/\/+$/, '');
  }

  async resolve({ shim, arch, version, locked }: OriginRequest): Promise<Located> {
    const channel = releaseChannel(shim.name);
    if (version === 'latest') throw new UsageError(`a mirror cannot tell which ${shim.name} version is the latest`, `pin it: --shim-version ${shim.name}=X.Y.Z (or give --lock FILE)`);
    const pairs = locked && locked.version === version ? [{ tag: locked.tag, asset: locked.asset }] : tagsFor(channel, version).flatMap((tag) => assetNamesFor(channel, version, arch).map((asset) => ({ tag, asset })));
    const url = (p: { tag: string; asset: string }) => `${this.root}/${channel.owner}/${channel.repo}/releases/download/${p.tag}/${p.asset}`;
    const first = pairs[0]!;
    return {
      version,
      repository: `${channel.owner}/${channel.repo}`,
      tag: first.tag,
      asset: first.asset,
      size: locked?.size || undefined,
      candidates: [],
      where: url(first),
      noDigest: {
        what: `no sha256 to verify ${first.asset} (${shim.name} ${version}, ${arch}) against: a mirror carries no digests and nothing is pinned`,
        fix: `kubewasm installs nothing unverified: give --lock FILE (from kubewasm bundle), or --sha256 ${shim.name}/${arch}=HEX of the release archive`,
      },
      fetch: { kind: 'urls', urls: pairs.map(url) },
      packaging: 'archive',
    };
  }

  async open(located: Pick<Located, 'fetch'>, download: DownloadOptions): Promise<number> {
    if (located.fetch.kind !== 'urls') throw new Error(`the mirror origin cannot open a ${located.fetch.kind} artifact`);
    const urls = located.fetch.urls;
    for (const [i, url] of urls.entries()) {
      const hop = await getNoRedirect(url);
      if (hop.status === 404 && i < urls.length - 1) {
        await hop.body?.cancel().catch(() => {});
        continue; // an older naming convention is next
      }
      return (await downloadVerified(hop, { ...download, label: url.slice(url.lastIndexOf('/') + 1) })).bytes;
    }
    throw new KubewasmError({ what: `no download address for ${download.label}` });
  }
}
