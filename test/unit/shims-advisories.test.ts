// Advisories, what a shim says about itself (`-v`), and the digest files a
// release publishes: pure functions on real captured shapes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KubewasmError } from '../../lib/errors.js';
import { advisoriesFor, inRange, refuseUnaccepted } from '../../lib/shims/advisories.js';
import { RELEASES, SHIMS } from '../../lib/shims/catalog.js';
import { pinnedCandidates } from '../../lib/shims/releases.js';
import { parseChecksumFile, parseShimYaml, pickLatest, type GithubRelease } from '../../lib/shims/resolve.js';
import { parseShimVersionOutput } from '../../lib/shims/shim-version.js';
import { errorOf } from '../support/errors.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/github/${name}`, import.meta.url), 'utf8')) as GithubRelease;

describe('advisories', () => {
  it('GHSA-cc25-vq59-rcjx names runwasi shims up to 0.6.0, not 0.6.1, not the Spin shim', () => {
    for (const shim of ['wasmtime', 'wasmedge', 'wasmer'] as const) {
      expect(advisoriesFor(shim, '0.6.0').map((a) => a.id)).toEqual(['GHSA-cc25-vq59-rcjx']);
      expect(advisoriesFor(shim, 'v0.4.0').map((a) => a.id)).toEqual(['GHSA-cc25-vq59-rcjx']);
      expect(advisoriesFor(shim, '0.6.1')).toEqual([]);
      expect(advisoriesFor(shim, '0.10.0')).toEqual([]);
    }
    expect(advisoriesFor('spin', '0.24.0')).toEqual([]);
  });

  it('a version it cannot read matches nothing (the caller says it is unknown)', () => {
    expect(advisoriesFor('wasmtime', undefined)).toEqual([]);
    expect(advisoriesFor('wasmtime', 'unknown')).toEqual([]);
    expect(advisoriesFor('wasmtime', '<none>')).toEqual([]);
  });

  it('reads ranges numerically, every comparator holding', () => {
    expect(inRange('0.10.0', '<=0.6.0')).toBe(false);
    expect(inRange('0.5.9', '>=0.3.0 <0.6.1')).toBe(true);
    expect(inRange('0.2.9', '>=0.3.0 <0.6.1')).toBe(false);
    expect(inRange('0.6.1', '<0.6.1')).toBe(false);
  });

  it('refuses an affected version unless the user names the advisory (by id or alias, any case)', () => {
    const where = 'github.com/containerd/runwasi release containerd-shim-wasmtime/v0.6.0';
    const err = errorOf(() => refuseUnaccepted({ shim: 'wasmtime', version: '0.6.0', where }, []));
    expect(err).toBeInstanceOf(KubewasmError);
    expect(err.message).toMatch(/wasmtime 0\.6\.0 is affected by GHSA-cc25-vq59-rcjx \(CVE-2026-47218, critical\): Forged Wasmtime precompiled OCI layer bypasses runwasi WASI sandbox; fixed in 0\.6\.1/);
    expect(err.fix).toBe('install 0.6.1 or newer (--shim-version wasmtime=0.6.1), or, having read the advisory, accept it: --accept-advisory GHSA-cc25-vq59-rcjx');
    expect(() => refuseUnaccepted({ shim: 'wasmtime', version: '0.6.0', where }, ['ghsa-cc25-vq59-rcjx'])).not.toThrow();
    expect(() => refuseUnaccepted({ shim: 'wasmtime', version: '0.6.0', where }, ['CVE-2026-47218'])).not.toThrow();
    expect(() => refuseUnaccepted({ shim: 'wasmtime', version: '0.6.0', where }, ['GHSA-xxxx-xxxx-xxxx'])).toThrow(/affected by GHSA-cc25-vq59-rcjx/);
    expect(() => refuseUnaccepted({ shim: 'wasmtime', version: '0.6.1', where }, [])).not.toThrow();
  });
});

describe('`<shim> -v` output', () => {
  it('reads the runwasi format (containerd-shimkit shim_main)', () => {
    const out = 'containerd-shim-wasmtime-v1:\n  Runtime: wasmtime\n  Version: 0.6.1\n  Revision: 5680b21a3386\n\n';
    expect(parseShimVersionOutput(out)).toEqual({ binary: 'containerd-shim-wasmtime-v1', runtime: 'wasmtime', version: '0.6.1', revision: '5680b21a3386' });
  });

  it('reads the Spin shim (same format through containerd-shim-wasm), and a build without git metadata', () => {
    const out = 'containerd-shim-spin-v2:\n  Runtime: spin\n  Version: 0.25.1\n  Revision: <none>\n\n';
    expect(parseShimVersionOutput(out)).toEqual({ binary: 'containerd-shim-spin-v2', runtime: 'spin', version: '0.25.1', revision: undefined });
  });

  it('names no version for output that is not a shim\'s', () => {
    expect(parseShimVersionOutput('')).toBeUndefined();
    expect(parseShimVersionOutput('/bin/sh: 1: ./containerd-shim-wasmtime-v1: Exec format error\n')).toBeUndefined();
  });
});

describe('digest files a release publishes', () => {
  it('SHA256SUMS: bare names, ./ or a directory prefix, binary-mode stars; another archive is not this one', () => {
    const sums = `${'a'.repeat(64)}  containerd-shim-wasmtime-aarch64-linux-musl.tar.gz\n${'b'.repeat(64)} *dist/containerd-shim-wasmtime-x86_64-linux-musl.tar.gz\n`;
    expect(parseChecksumFile(sums, 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz')).toBe('b'.repeat(64));
    expect(parseChecksumFile(sums, 'containerd-shim-wasmtime-aarch64-linux-musl.tar.gz')).toBe('a'.repeat(64));
    expect(parseChecksumFile(sums, 'containerd-shim-wasmer-x86_64-linux-musl.tar.gz')).toBeUndefined();
  });

  it('a SHA256SUMS naming one archive twice with two digests is refused', () => {
    const sums = `${'a'.repeat(64)}  x.tar.gz\n${'b'.repeat(64)}  ./x.tar.gz\n`;
    expect(() => parseChecksumFile(sums, 'x.tar.gz')).toThrow(/names x\.tar\.gz with 2 different sha256s/);
  });

  // runtime-class-manager's config/samples/sample_shim_spin.yaml at 114a365b (the shape of a Spin release's Shim yaml).
  const rcmSample = `apiVersion: runtime.spinkube.dev/v1alpha1 
kind: Shim
metadata:
  name: spin-v2
spec:
  nodeSelector:
    spin: "true"

  fetchStrategy:
    platforms:
      - os: linux
        arch: aarch64
        location: "https://github.com/spinframework/containerd-shim-spin/releases/download/v0.23.0/containerd-shim-spin-v2-linux-aarch64.tar.gz"
        sha256: "a923f08d91c110d2cda29fbc380273e6d0a97aa0bab455c55f613c8d5a8bfbe4"
      - os: linux
        arch: x86_64
        location: "https://github.com/spinframework/containerd-shim-spin/releases/download/v0.23.0/containerd-shim-spin-v2-linux-x86_64.tar.gz"
        sha256: "eec8df96fa3a4fe5dbc57ffb706461692c055299dd6d22dff9444863a2a12281"

  # Each runtime can provide a set of containerd runtime options
  containerdRuntimeOptions:
    SystemdCgroup: "true"

  runtimeClass:
    name: wasmtime-spin-v2
    handler: spin-v2
`;

  it('the Spin Shim yaml: the sha256 of the platform whose location is this archive', () => {
    expect(parseShimYaml(rcmSample, 'containerd-shim-spin-v2-linux-x86_64.tar.gz', 'amd64')).toBe('eec8df96fa3a4fe5dbc57ffb706461692c055299dd6d22dff9444863a2a12281');
    expect(parseShimYaml(rcmSample, 'containerd-shim-spin-v2-linux-aarch64.tar.gz', 'arm64')).toBe('a923f08d91c110d2cda29fbc380273e6d0a97aa0bab455c55f613c8d5a8bfbe4');
    expect(parseShimYaml(rcmSample, 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz', 'amd64')).toBeUndefined();
    // It agrees with the catalog's pin of v0.23.0: two independent sources.
    expect(RELEASES.spin.knownDigests['0.23.0']?.amd64?.sha256).toBe('eec8df96fa3a4fe5dbc57ffb706461692c055299dd6d22dff9444863a2a12281');
  });
});

describe('pins and latest', () => {
  it("the catalog's public pin is a candidate beside the user's", () => {
    const c = pinnedCandidates({ digests: { 'wasmedge/amd64': 'f'.repeat(64) } }, SHIMS.wasmedge, '0.6.1', 'amd64', 'containerd-shim-wasmedge-x86_64-linux-musl.tar.gz');
    expect(c.map((x) => x.source)).toEqual(['pinned with --sha256 wasmedge/amd64', "kubewasm's catalog (github.com/siderolabs/extensions@654609939c43551f7073dc42f6f04a100fd01ff1:container-runtime/vars.yaml)"]);
    expect(pinnedCandidates({}, SHIMS.wasmtime, '0.6.1', 'amd64', 'x')).toEqual([]);
  });

  it('latest is the highest version, whatever the order the API lists them in', () => {
    const v060 = fixture('runwasi-containerd-shim-wasmtime-v0.6.0.json');
    const v061 = fixture('runwasi-containerd-shim-wasmtime-v0.6.1.json');
    const edge = fixture('runwasi-containerd-shim-wasmedge-v0.6.1.json');
    expect(pickLatest(RELEASES.wasmtime, [v060, edge, v061])?.version).toBe('0.6.1');
    expect(pickLatest(RELEASES.wasmtime, [v061, v060])?.version).toBe('0.6.1');
    expect(pickLatest(RELEASES.spin, [fixture('spin-containerd-shim-spin-v0.24.0.json'), fixture('spin-containerd-shim-spin-v0.25.1.json')])?.version).toBe('0.25.1');
  });

  it('0.6.1 fixtures have what the real release has: an API digest per archive and a SHA256SUMS; 0.6.0 has neither', () => {
    const v061 = fixture('runwasi-containerd-shim-wasmtime-v0.6.1.json');
    expect(v061.assets.map((a) => a.name).sort()).toEqual(['SHA256SUMS', 'containerd-shim-wasmtime-aarch64-linux-musl.tar.gz', 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz']);
    expect(v061.assets.every((a) => /^sha256:[0-9a-f]{64}$/.test(a.digest ?? ''))).toBe(true);
    const v060 = fixture('runwasi-containerd-shim-wasmtime-v0.6.0.json');
    expect(v060.assets.map((a) => a.digest)).toEqual([null, null]);
    expect(v060.assets.some((a) => a.name === 'SHA256SUMS')).toBe(false);
    // wasmedge 0.6.1's API digests are the sha256s siderolabs/extensions pins.
    const edge = fixture('runwasi-containerd-shim-wasmedge-v0.6.1.json');
    expect(edge.assets.find((a) => a.name.includes('x86_64'))?.digest).toBe(`sha256:${RELEASES.wasmedge.knownDigests['0.6.1']?.amd64?.sha256}`);
  });
});
