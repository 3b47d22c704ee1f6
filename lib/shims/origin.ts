// Where release archives come from, behind one interface: GitHub (the API and
// its download host), a mirror laid out like github.com, an air-gap bundle,
// or a directory of ready binaries the user vouches for. An origin finds the
// archive for a (shim, version, arch) with the digests it carries itself
// (`resolve`), and puts those verified bytes into the cache (`open`). Pins,
// the catalog's known digests, advisories and de-duplication are the release
// flow's (releases.ts), the same for every origin.
import type { Arch, ShimInfo } from './catalog.js';
import type { DownloadOptions } from './download.js';
import type { LockEntry } from './lockfile.js';
import type { DigestCandidate, GithubAsset } from './resolve.js';

export type ShimOrigin =
  | { kind: 'github'; apiUrl: string; token?: string | undefined }
  /** A plain file server laid out like github.com: URL/OWNER/REPO/releases/download/TAG/ASSET. */
  | { kind: 'mirror'; url: string }
  | { kind: 'bundle'; file: string };

/** Ready shim binaries (containerd-shim-wasmtime-v1, …) in a directory the user vouches for. */
export interface DirectoryOriginSpec {
  kind: 'directory';
  dir: string;
}

/** Every origin the release flow reads from (ShimOrigin keeps its three archive origins for existing callers). */
export type AnyShimOrigin = ShimOrigin | DirectoryOriginSpec;

export interface OriginRequest {
  shim: ShimInfo;
  arch: Arch;
  /** 'latest' or X.Y.Z: the user's pin, else the lock's, else the catalog's default. */
  version: string;
  /** Whether the user named the version (a bundle then must hold exactly it). */
  explicit: boolean;
  /** The lock file's entry for this (shim, arch), if a lock was given. */
  locked?: LockEntry | undefined;
}

/** How the bytes are fetched once resolved (also shown in progress). */
export type FetchHandle =
  | { kind: 'github'; asset: GithubAsset }
  | { kind: 'urls'; urls: string[] }
  | { kind: 'bundle'; file: string }
  | { kind: 'directory'; file: string };

export interface Located {
  version: string;
  /** owner/repo */
  repository: string;
  tag: string;
  asset: string;
  size?: number | undefined;
  /** Digests the origin itself carries: the API digest, checksum files, the Shim yaml, a bundle's lock. */
  candidates: DigestCandidate[];
  /** For messages: the release, URL or file. */
  where: string;
  /** Upload time, when the origin knows it (explains a missing API digest). */
  uploaded?: string | undefined;
  /** Said instead of the generic message when nothing at all gives a digest. */
  noDigest?: { what: string; fix: string } | undefined;
  fetch: FetchHandle;
  /** 'archive': a release tar.gz to unpack; 'binary': the shim binary itself. */
  packaging: 'archive' | 'binary';
}

export interface ShimOriginSource {
  readonly kind: AnyShimOrigin['kind'];
  /** Finds the archive for one (shim, version, arch); refuses with a user-actionable error. */
  resolve(request: OriginRequest): Promise<Located>;
  /** Streams the resolved bytes into the cache under their expected sha256 (verified); returns the bytes fetched. */
  open(located: Pick<Located, 'fetch' | 'repository' | 'size'>, download: DownloadOptions): Promise<number>;
}
