// The shims kubewasm knows: the containerd runtime each one registers, the
// binary containerd runs for it, and where its release archives come from.
// Every release fact below carries its source; re-check them when a project
// changes its release workflow.
import { UsageError } from '../errors.js';

export type ShimName = 'wasmtime' | 'wasmedge' | 'wasmer' | 'spin';

export interface ShimInfo {
  name: ShimName;
  /** The containerd runtime name, which is also the RuntimeClass handler. */
  runtimeName: string;
  /** containerd derives the binary name from it: io.containerd.wasmtime.v1 -> containerd-shim-wasmtime-v1. */
  runtimeType: string;
  /** The binary containerd runs. */
  binaryName: string;
}

export const SHIMS: Readonly<Record<ShimName, ShimInfo>> = {
  wasmtime: { name: 'wasmtime', runtimeName: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1', binaryName: 'containerd-shim-wasmtime-v1' },
  wasmedge: { name: 'wasmedge', runtimeName: 'wasmedge', runtimeType: 'io.containerd.wasmedge.v1', binaryName: 'containerd-shim-wasmedge-v1' },
  wasmer: { name: 'wasmer', runtimeName: 'wasmer', runtimeType: 'io.containerd.wasmer.v1', binaryName: 'containerd-shim-wasmer-v1' },
  spin: { name: 'spin', runtimeName: 'spin', runtimeType: 'io.containerd.spin.v2', binaryName: 'containerd-shim-spin-v2' },
};

export function shimInfo(name: string): ShimInfo {
  const info = (SHIMS as Record<string, ShimInfo | undefined>)[name];
  if (!info) throw new UsageError(`unknown shim '${name}'`, `choose from: ${Object.keys(SHIMS).join(', ')}`);
  return info;
}

/** Parses "wasmtime,spin" into known shim names, refusing unknown ones. */
export function parseShimList(list: string): ShimInfo[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('no shims given', `name at least one of: ${Object.keys(SHIMS).join(', ')}`);
  return [...new Set(names)].map(shimInfo);
}

// ---------------------------------------------------------------------------
// Architectures: Kubernetes/Go names (amd64, arm64) are kubewasm's; release
// assets use the machine names (x86_64, aarch64).

export type Arch = 'amd64' | 'arm64';
export const ARCHES: readonly Arch[] = ['amd64', 'arm64'];
const MACHINE: Record<Arch, string> = { amd64: 'x86_64', arm64: 'aarch64' };
const ALIASES: Record<string, Arch> = { amd64: 'amd64', x86_64: 'amd64', x64: 'amd64', 'x86-64': 'amd64', arm64: 'arm64', aarch64: 'arm64', arm64v8: 'arm64' };

/** amd64/x86_64/x64 -> amd64, arm64/aarch64 -> arm64 (node labels, `uname -m`, process.arch). */
export function parseArch(value: string): Arch {
  const arch = ALIASES[value.trim().toLowerCase()];
  if (!arch) throw new UsageError(`unsupported architecture '${value}'`, 'the shims are released for amd64 (x86_64) and arm64 (aarch64) only');
  return arch;
}

export function parseArchList(list: string): Arch[] {
  const archs = list.split(',').map((s) => s.trim()).filter(Boolean).map(parseArch);
  if (archs.length === 0) throw new UsageError('no architectures given', 'name amd64, arm64 or both');
  return [...new Set(archs)];
}

// ---------------------------------------------------------------------------
// Release channels.

/** A sha256 carried by kubewasm itself, with the independent public source that pins it. */
export interface KnownDigest {
  sha256: string;
  source: string;
}

export interface ReleaseChannel {
  owner: string;
  repo: string;
  /**
   * Tag templates ({version} = X.Y.Z), current convention first. `latest` only
   * considers tags of the first template; a pinned version tries them in order.
   */
  tags: string[];
  /**
   * Asset name templates, current convention first ({arch} = x86_64/aarch64,
   * {goarch} = amd64/arm64, {version} = X.Y.Z). The resolver takes the first
   * one the release has; an old convention that had no build for an arch
   * lists `archs`.
   */
  assets: Array<{ name: string; archs?: Arch[] }>;
  /** The version installed when the user pins none: reproducible installs by default. */
  defaultVersion: string;
  /** Digests per version and arch from an independent source (see the note at KNOWN_DIGESTS). */
  knownDigests: Record<string, Partial<Record<Arch, KnownDigest>>>;
  /** Where the facts above come from. */
  sources: string[];
}

// runwasi (containerd/runwasi), checked in the repository at the tagged commits:
// - Tags: `<crate>/v<version>`, created by .github/workflows/release.yml
//   ("Tag the the release": git tag "${crate}/v${version}"); e.g.
//   containerd-shim-wasmtime/v0.6.0 = 5680b21a (2025-05-20), also wasmedge/wasmer v0.6.0.
// - v0.5.0+ assets: `containerd-shim-<engine>-<arch>-linux-musl.tar.gz` for arch x86_64, aarch64:
//   release.yml at 5680b21a (matrix arch [x86_64, aarch64], slug "${arch}-linux-musl") and
//   .github/workflows/action-build.yml (`tar -czf dist/containerd-shim-<runtime>-<slug>.tar.gz -C dist/bin .`).
//   Contents: ./containerd-shim-<engine>-v1 plus cosign ./containerd-shim-<engine>-v1.sig and .pem
//   (.github/actions/sign/action.yml copies *.sig, *.pem into dist/bin; Makefile dist-%/install-%).
// - v0.3.0..v0.4.0 assets: `containerd-shim-<engine>-<arch>.tar.gz` (release.yml at fc7aa53b, the
//   v0.4.0 tag, and f3bc0c43, wasmtime v0.3.0), created as GitHub prereleases; they also hold the
//   symlinks containerd-shim-<engine>d-v1 and containerd-<engine>d (Makefile install-%: $(LN)),
//   which extraction skips.
// - The very first runwasi release, plain tag v0.1.0 (a063a670, 2022-04-06), published only
//   `containerd-shim-wasmtime-v1-v0.1.0-linux-amd64.tar.gz` (its .github/workflows/release.yml).
// - No checksum asset is published by any of these workflows.
const runwasi = (engine: 'wasmtime' | 'wasmedge' | 'wasmer'): ReleaseChannel => ({
  owner: 'containerd',
  repo: 'runwasi',
  tags: [`containerd-shim-${engine}/v{version}`, ...(engine === 'wasmtime' ? ['v{version}'] : [])],
  assets: [
    { name: `containerd-shim-${engine}-{arch}-linux-musl.tar.gz` },
    { name: `containerd-shim-${engine}-{arch}.tar.gz` },
    ...(engine === 'wasmtime' ? [{ name: 'containerd-shim-wasmtime-v1-v{version}-linux-{goarch}.tar.gz', archs: ['amd64' as Arch] }] : []),
  ],
  defaultVersion: '0.6.0',
  knownDigests: {},
  sources: [
    'github.com/containerd/runwasi .github/workflows/release.yml and action-build.yml at tag containerd-shim-' + engine + '/v0.6.0 (5680b21a)',
    'github.com/containerd/runwasi .github/workflows/release.yml and Makefile at tag containerd-shim-' + engine + '/v0.4.0 (fc7aa53b)',
  ],
});

// The Spin shim (spinframework/containerd-shim-spin, formerly spinkube/containerd-shim-spin and,
// before that, deislabs/containerd-wasm-shims; GitHub redirects the old names):
// - Tags `v<version>`: .github/workflows/release.yaml (`on.push.tags: "v[0-9]+.[0-9]+.*"`,
//   `gh release create ${RELEASE_VERSION}`); newest tag in the repository: v0.24.0
//   (d9659f10, 2026-04-11; Cargo workspace version 0.24.0 at HEAD 2026-05-12). A "v0.25.1"
//   seen in some scripts has no tag there.
// - Assets `containerd-shim-spin-v2-linux-<arch>.tar.gz`, arch x86_64, aarch64, holding the single
//   entry `containerd-shim-spin-v2` (no ./ prefix): .github/workflows/action-build.yaml
//   ("Package release assets": cd _dist; tar czf containerd-shim-spin-v2-${os}-${arch}.tar.gz containerd-shim-spin-v2).
// - No checksum asset (release.yaml uploads only ./_artifacts/*/*.tar.gz and two example YAMLs).
const spin: ReleaseChannel = {
  owner: 'spinframework',
  repo: 'containerd-shim-spin',
  tags: ['v{version}'],
  assets: [{ name: 'containerd-shim-spin-v2-linux-{arch}.tar.gz' }],
  defaultVersion: '0.24.0',
  knownDigests: {},
  sources: ['github.com/spinframework/containerd-shim-spin .github/workflows/release.yaml and action-build.yaml at tag v0.24.0 (d9659f10)'],
};

// KNOWN_DIGESTS: empty on purpose. No independent public source (a distribution's package recipe
// such as nixpkgs, AUR, Homebrew or Alpine pinning the same URL with a sha256) was found for the
// default versions above. So the expected sha256 comes from the GitHub API's asset `digest`, a
// checksum asset, or a digest the user pinned (--sha256, --lock, a bundle); with none of them the
// install is refused. runwasi v0.6.0 was uploaded on 2025-05-20, before GitHub started computing
// asset digests (June 2025), so its `digest` may be null: pin it after checking the archive
// yourself (e.g. `cosign verify-blob` with the .sig/.pem inside), or install from a bundle.
export const RELEASES: Readonly<Record<ShimName, ReleaseChannel>> = {
  wasmtime: runwasi('wasmtime'),
  wasmedge: runwasi('wasmedge'),
  wasmer: runwasi('wasmer'),
  spin,
};

export function releaseChannel(name: ShimName): ReleaseChannel {
  return RELEASES[name];
}

/** The machine name used in asset names. */
export function machineArch(arch: Arch): string {
  return MACHINE[arch];
}

/** Expands an asset or tag template. */
export function expandTemplate(template: string, values: { version: string; arch?: Arch }): string {
  return template
    .replaceAll('{version}', values.version)
    .replaceAll('{arch}', values.arch ? MACHINE[values.arch] : '{arch}')
    .replaceAll('{goarch}', values.arch ?? '{goarch}');
}
