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

/** A file a release publishes beside its archives that names their sha256s. */
export interface DigestFile {
  /** Asset name template ({tag} = the release tag, {version} = X.Y.Z). */
  name: string;
  format: 'sha256sums' | 'rcm-shim-yaml';
  /** The first version that publishes it (older releases lack it). */
  since: string;
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
  /** Digest files the project publishes with a release. */
  digestFiles: DigestFile[];
  /** The version installed when the user pins none: the newest release, reproducible by default. */
  defaultVersion: string;
  /** Where the default comes from. */
  defaultSource: string;
  /** Digests per version and arch from an independent public source. */
  knownDigests: Record<string, Partial<Record<Arch, KnownDigest>>>;
  /** Where the facts above come from. */
  sources: string[];
}

// Public pins of release-archive sha256s. Each one was read in its source; nothing here is computed
// by kubewasm. A GitHub API `digest` or a checksum file that disagrees with one of them is refused.
const SIDERO = (commit: string) => `github.com/siderolabs/extensions@${commit}:container-runtime/vars.yaml`;
const SIDERO_2026_08_13 = SIDERO('654609939c43551f7073dc42f6f04a100fd01ff1'); // wasmedge v0.6.1, spin v0.25.1
const SIDERO_2026_06_03 = SIDERO('87d1abcbeff512d0e9b2e01f6b160bb18d24af57'); // wasmedge v0.6.0, spin v0.24.0
const SIDERO_2026_04_10 = SIDERO('a9a1e7dd9e8c759b365cf8fa0c8bc65be10174f8'); // spin v0.23.0
const SIDERO_2026_02_24 = SIDERO('8b3058b1f05328e14e5ac4f13f03b3a6ff37b59f'); // spin v0.22.0
const RCM_SAMPLE = 'github.com/spinframework/runtime-class-manager@114a365b36cd352917b817ec8cc37036b59276ac:config/samples/sample_shim_spin.yaml';

// runwasi (containerd/runwasi), checked in the repository at the tagged commits:
// - Tags: `<crate>/v<version>`, created by .github/workflows/release.yml
//   ("Tag the the release": git tag "${crate}/v${version}"); e.g.
//   containerd-shim-wasmtime/v0.6.0 = 5680b21a (2025-05-20), also wasmedge/wasmer v0.6.0.
// - Newest: containerd-shim-{wasmtime,wasmedge,wasmer}/v0.6.1, published 2026-06-12 (release
//   listings citing github.com/containerd/runwasi/releases/tag/containerd-shim-wasmtime/v0.6.1;
//   siderolabs/extensions pins containerd-shim-wasmedge/v0.6.1 since 2026-08-13). The runwasi
//   snapshot kubewasm could read ends 2026-04-21, before that tag.
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
// - A `SHA256SUMS` asset from v0.6.1 on: runwasi PR #1109 "release: include SHA256SUMS in github
//   release assets" (merged 2026-05); a public survey read the v0.6.1 SHA256SUMS of all three shims,
//   listing the aarch64- and x86_64-linux-musl archives. Releases up to v0.6.0 publish no checksum file.
const runwasi = (engine: 'wasmtime' | 'wasmedge' | 'wasmer'): ReleaseChannel => ({
  owner: 'containerd',
  repo: 'runwasi',
  tags: [`containerd-shim-${engine}/v{version}`, ...(engine === 'wasmtime' ? ['v{version}'] : [])],
  assets: [
    { name: `containerd-shim-${engine}-{arch}-linux-musl.tar.gz` },
    { name: `containerd-shim-${engine}-{arch}.tar.gz` },
    ...(engine === 'wasmtime' ? [{ name: 'containerd-shim-wasmtime-v1-v{version}-linux-{goarch}.tar.gz', archs: ['amd64' as Arch] }] : []),
  ],
  digestFiles: [{ name: 'SHA256SUMS', format: 'sha256sums', since: '0.6.1', source: 'github.com/containerd/runwasi/pull/1109' }],
  defaultVersion: '0.6.1',
  defaultSource: `github.com/containerd/runwasi/releases/tag/containerd-shim-${engine}/v0.6.1 (2026-06-12)`,
  // wasmedge: siderolabs/extensions pins both arches (WASMEDGE_{ARM64,AMD64}_SHA256 for
  // .../containerd-shim-wasmedge/<version>/containerd-shim-wasmedge-<arch>-linux-musl.tar.gz, its
  // container-runtime/wasmedge/pkg.yaml). No public pin of a wasmtime or wasmer archive is known
  // (runtime-class-manager's sample_shim_wasmtime.yaml names v0.6.0 without a sha256).
  knownDigests:
    engine === 'wasmedge'
      ? {
          '0.6.1': {
            amd64: { sha256: '99f7f56c64a0524ea1ec3922cd095b108825a513d0212db75a5dfb08ba196cce', source: SIDERO_2026_08_13 },
            arm64: { sha256: '4a0fbd8323d401ec9ff30e3d666c6b83d278070a9c26490f616b23a97f1bc546', source: SIDERO_2026_08_13 },
          },
          '0.6.0': {
            amd64: { sha256: 'a41256af75bb587dfa6ab7d5d8ebe92e18ea281406c563266dd96f99fb60b073', source: SIDERO_2026_06_03 },
            arm64: { sha256: 'b331a20e7b831da13721eea6b031e5ea79f295480777274b1593e5d612021110', source: SIDERO_2026_06_03 },
          },
        }
      : {},
  sources: [
    'github.com/containerd/runwasi .github/workflows/release.yml and action-build.yml at tag containerd-shim-' + engine + '/v0.6.0 (5680b21a)',
    'github.com/containerd/runwasi .github/workflows/release.yml and Makefile at tag containerd-shim-' + engine + '/v0.4.0 (fc7aa53b)',
    'github.com/containerd/runwasi/pull/1109 (SHA256SUMS from v0.6.1)',
  ],
});

// The Spin shim (spinframework/containerd-shim-spin, formerly spinkube/containerd-shim-spin and,
// before that, deislabs/containerd-wasm-shims; GitHub redirects the old names):
// - Tags `v<version>`: .github/workflows/release.yaml (`on.push.tags: "v[0-9]+.[0-9]+.*"`,
//   `gh release create ${RELEASE_VERSION}`). v0.25.0 (PR #445, 2026-06-11) and v0.25.1 (PR #448,
//   a patch release after PR #447 moved to containerd-shim-wasm 1.0.1) exist; siderolabs/extensions
//   pins v0.25.1 since 2026-08-13. A v0.26.0 is reported by one write-up, but its version-bump PR
//   (#451) was still open in the copy kubewasm could read: not the default until confirmed.
// - Assets `containerd-shim-spin-v2-linux-<arch>.tar.gz`, arch x86_64, aarch64, holding the single
//   entry `containerd-shim-spin-v2` (no ./ prefix): .github/workflows/action-build.yaml
//   ("Package release assets": cd _dist; tar czf containerd-shim-spin-v2-${os}-${arch}.tar.gz containerd-shim-spin-v2).
// - From v0.25 a release also carries `runtime-class-manager-shim-v1alpha1-<tag>.yaml` (installed by
//   `kubectl apply -f .../releases/download/v0.25.1/runtime-class-manager-shim-v1alpha1-v0.25.1.yaml`
//   in public setup scripts; spinkube-docs PR #359 asked for it), a runtime-class-manager Shim whose
//   spec.fetchStrategy.platforms[] name each archive's location and sha256 (the shape of
//   runtime-class-manager's config/samples/sample_shim_spin.yaml).
const spin: ReleaseChannel = {
  owner: 'spinframework',
  repo: 'containerd-shim-spin',
  tags: ['v{version}'],
  assets: [{ name: 'containerd-shim-spin-v2-linux-{arch}.tar.gz' }],
  digestFiles: [{ name: 'runtime-class-manager-shim-v1alpha1-{tag}.yaml', format: 'rcm-shim-yaml', since: '0.25.0', source: 'the release\'s runtime-class-manager Shim (spec.fetchStrategy.platforms[].sha256)' }],
  defaultVersion: '0.25.1',
  defaultSource: `${SIDERO_2026_08_13} (SPIN_VERSION: v0.25.1); github.com/spinframework/containerd-shim-spin/pull/448`,
  knownDigests: {
    '0.25.1': {
      amd64: { sha256: '1755fbeb2dec7d026faf8c37031d8a025975f5e194b782da10188206a386d6e4', source: SIDERO_2026_08_13 },
      arm64: { sha256: '5ca9c9207a146a182dc9c870eaaad1afbf64e1d9a4781228dbf6e7ef90ff2e1f', source: SIDERO_2026_08_13 },
    },
    '0.24.0': {
      amd64: { sha256: '558b4e92fb0b39d3e54d8a172cf83fe3b529d541bbec6ef540550c2c514fe131', source: SIDERO_2026_06_03 },
      arm64: { sha256: '9cb14eda7899289d0b8085b8266f77afe27c0ebbd65f745c5291ff28cf538c47', source: SIDERO_2026_06_03 },
    },
    // Two independent pins agree on v0.23.0.
    '0.23.0': {
      amd64: { sha256: 'eec8df96fa3a4fe5dbc57ffb706461692c055299dd6d22dff9444863a2a12281', source: `${SIDERO_2026_04_10} and ${RCM_SAMPLE}` },
      arm64: { sha256: 'a923f08d91c110d2cda29fbc380273e6d0a97aa0bab455c55f613c8d5a8bfbe4', source: `${SIDERO_2026_04_10} and ${RCM_SAMPLE}` },
    },
    '0.22.0': {
      amd64: { sha256: 'adeb94339c673f09cffe8c45c04f9b18d410f9375d1570b6d1939758b507d257', source: SIDERO_2026_02_24 },
      arm64: { sha256: '5fde86c310b8b8ef4c1b19a04eece203f4c308f6fb42bfae3babd99d4c04006b', source: SIDERO_2026_02_24 },
    },
  },
  sources: [
    'github.com/spinframework/containerd-shim-spin .github/workflows/release.yaml and action-build.yaml at tag v0.24.0 (d9659f10)',
    'github.com/spinframework/containerd-shim-spin/pull/445 (v0.25.0), /pull/448 (v0.25.1)',
  ],
};

export const RELEASES: Readonly<Record<ShimName, ReleaseChannel>> = {
  wasmtime: runwasi('wasmtime'),
  wasmedge: runwasi('wasmedge'),
  wasmer: runwasi('wasmer'),
  spin,
};

// ---------------------------------------------------------------------------
// Advisories: versions a published advisory names as affected. Installing one
// needs the user to name the advisory (--accept-advisory ID).

export interface Advisory {
  id: string;
  aliases: string[];
  severity: 'low' | 'moderate' | 'high' | 'critical';
  title: string;
  published: string;
  shims: ShimName[];
  /** Space-separated comparators on X.Y.Z, all of which must hold: "<=0.6.0", ">=0.3.0 <0.6.1". */
  affected: string;
  fixed: string;
  source: string;
}

export const ADVISORIES: readonly Advisory[] = [
  {
    // The advisory names runwasi <= v0.6.0 as affected and v0.6.1 as patched (quoted by public
    // write-ups citing the advisory page; GitHub itself is not reachable from kubewasm's build
    // machine). It concerns the Wasmtime precompile path; it is applied to every runwasi shim because
    // the advisory's range is stated for runwasi as a whole. The Spin shim is not listed: the
    // advisory names runwasi, and the Spin shim took the fix in v0.25.1 (PR #447, containerd-shim-wasm 1.0.1).
    id: 'GHSA-cc25-vq59-rcjx',
    aliases: ['CVE-2026-47218'],
    severity: 'critical',
    title: 'Forged Wasmtime precompiled OCI layer bypasses runwasi WASI sandbox',
    published: '2026-06-17',
    shims: ['wasmtime', 'wasmedge', 'wasmer'],
    affected: '<=0.6.0',
    fixed: '0.6.1',
    source: 'https://github.com/containerd/runwasi/security/advisories/GHSA-cc25-vq59-rcjx',
  },
];

export function releaseChannel(name: ShimName): ReleaseChannel {
  return RELEASES[name];
}

/** Expands an asset or tag template. */
export function expandTemplate(template: string, values: { version: string; arch?: Arch }): string {
  return template
    .replaceAll('{version}', values.version)
    .replaceAll('{arch}', values.arch ? MACHINE[values.arch] : '{arch}')
    .replaceAll('{goarch}', values.arch ?? '{goarch}');
}
