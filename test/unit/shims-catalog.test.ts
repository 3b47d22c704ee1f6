import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/errors.js';
import { ADVISORIES, ARCHES, expandTemplate, parseArch, parseArchList, RELEASES, SHIMS } from '../../lib/shims/catalog.js';
import { assetNamesFor, tagsFor } from '../../lib/shims/resolve.js';

describe('architectures', () => {
  it.each([
    ['amd64', 'amd64'],
    ['x86_64', 'amd64'],
    ['x64', 'amd64'],
    ['arm64', 'arm64'],
    ['aarch64', 'arm64'],
    [' AARCH64 ', 'arm64'],
  ])('%s is %s', (input, arch) => expect(parseArch(input)).toBe(arch));

  it('refuses what has no release build, as a usage error', () => {
    expect(() => parseArch('riscv64')).toThrow(UsageError);
    expect(() => parseArch('s390x')).toThrow(/amd64 \(x86_64\) and arm64 \(aarch64\)/);
  });

  it('parses lists without duplicates', () => {
    expect(parseArchList('amd64,x86_64,arm64')).toEqual(['amd64', 'arm64']);
    expect(() => parseArchList(' , ')).toThrow(/no architectures/);
  });
});

describe('release channels (facts checked in the projects release workflows)', () => {
  it('runwasi shims: tags <crate>/vX.Y.Z and -<arch>-linux-musl assets first', () => {
    for (const engine of ['wasmtime', 'wasmedge', 'wasmer'] as const) {
      const channel = RELEASES[engine];
      expect(`${channel.owner}/${channel.repo}`).toBe('containerd/runwasi');
      expect(tagsFor(channel, '0.6.0')[0]).toBe(`containerd-shim-${engine}/v0.6.0`);
      expect(assetNamesFor(channel, '0.6.0', 'amd64')[0]).toBe(`containerd-shim-${engine}-x86_64-linux-musl.tar.gz`);
      expect(assetNamesFor(channel, '0.6.0', 'arm64')[0]).toBe(`containerd-shim-${engine}-aarch64-linux-musl.tar.gz`);
      expect(assetNamesFor(channel, '0.4.0', 'arm64')).toContain(`containerd-shim-${engine}-aarch64.tar.gz`);
      expect(channel.sources.join(' ')).toMatch(/release\.yml/);
    }
  });

  it('the first runwasi release (plain tag v0.1.0) is known for wasmtime, amd64 only', () => {
    expect(tagsFor(RELEASES.wasmtime, '0.1.0')).toEqual(['containerd-shim-wasmtime/v0.1.0', 'v0.1.0']);
    expect(assetNamesFor(RELEASES.wasmtime, '0.1.0', 'amd64')).toContain('containerd-shim-wasmtime-v1-v0.1.0-linux-amd64.tar.gz');
    expect(assetNamesFor(RELEASES.wasmtime, '0.1.0', 'arm64').some((n) => n.includes('v1-v0.1.0'))).toBe(false);
    expect(tagsFor(RELEASES.wasmedge, '0.1.0')).toEqual(['containerd-shim-wasmedge/v0.1.0']);
  });

  it('spin: spinframework/containerd-shim-spin, tags vX.Y.Z, -linux-<arch> assets', () => {
    const channel = RELEASES.spin;
    expect(`${channel.owner}/${channel.repo}`).toBe('spinframework/containerd-shim-spin');
    expect(tagsFor(channel, '0.24.0')).toEqual(['v0.24.0']);
    expect(assetNamesFor(channel, '0.24.0', 'amd64')).toEqual(['containerd-shim-spin-v2-linux-x86_64.tar.gz']);
    expect(assetNamesFor(channel, '0.24.0', 'arm64')).toEqual(['containerd-shim-spin-v2-linux-aarch64.tar.gz']);
  });

  it('defaults to the newest confirmed releases, each default with its source', () => {
    expect(Object.fromEntries(Object.entries(RELEASES).map(([name, c]) => [name, c.defaultVersion]))).toEqual({ wasmtime: '0.6.1', wasmedge: '0.6.1', wasmer: '0.6.1', spin: '0.25.1' });
    for (const name of Object.keys(SHIMS) as Array<keyof typeof SHIMS>) {
      expect(RELEASES[name].defaultSource).toMatch(/github\.com\//);
      for (const arch of ARCHES) expect(assetNamesFor(RELEASES[name], RELEASES[name].defaultVersion, arch).length).toBeGreaterThan(0);
    }
  });

  it('knows every public pin it was given, each with the source that pins it (and no other)', () => {
    const table = Object.entries(RELEASES).flatMap(([name, c]) =>
      Object.entries(c.knownDigests).flatMap(([version, perArch]) => Object.entries(perArch).map(([arch, known]) => `${name} ${version} ${arch} ${known!.sha256} ${/siderolabs/.test(known!.source) ? 'siderolabs' : ''}${/runtime-class-manager/.test(known!.source) ? '+rcm' : ''}`)),
    );
    expect(table.sort()).toEqual(
      [
        'spin 0.22.0 amd64 adeb94339c673f09cffe8c45c04f9b18d410f9375d1570b6d1939758b507d257 siderolabs',
        'spin 0.22.0 arm64 5fde86c310b8b8ef4c1b19a04eece203f4c308f6fb42bfae3babd99d4c04006b siderolabs',
        'spin 0.23.0 amd64 eec8df96fa3a4fe5dbc57ffb706461692c055299dd6d22dff9444863a2a12281 siderolabs+rcm',
        'spin 0.23.0 arm64 a923f08d91c110d2cda29fbc380273e6d0a97aa0bab455c55f613c8d5a8bfbe4 siderolabs+rcm',
        'spin 0.24.0 amd64 558b4e92fb0b39d3e54d8a172cf83fe3b529d541bbec6ef540550c2c514fe131 siderolabs',
        'spin 0.24.0 arm64 9cb14eda7899289d0b8085b8266f77afe27c0ebbd65f745c5291ff28cf538c47 siderolabs',
        'spin 0.25.1 amd64 1755fbeb2dec7d026faf8c37031d8a025975f5e194b782da10188206a386d6e4 siderolabs',
        'spin 0.25.1 arm64 5ca9c9207a146a182dc9c870eaaad1afbf64e1d9a4781228dbf6e7ef90ff2e1f siderolabs',
        'wasmedge 0.6.0 amd64 a41256af75bb587dfa6ab7d5d8ebe92e18ea281406c563266dd96f99fb60b073 siderolabs',
        'wasmedge 0.6.0 arm64 b331a20e7b831da13721eea6b031e5ea79f295480777274b1593e5d612021110 siderolabs',
        'wasmedge 0.6.1 amd64 99f7f56c64a0524ea1ec3922cd095b108825a513d0212db75a5dfb08ba196cce siderolabs',
        'wasmedge 0.6.1 arm64 4a0fbd8323d401ec9ff30e3d666c6b83d278070a9c26490f616b23a97f1bc546 siderolabs',
      ].sort(),
    );
    for (const c of Object.values(RELEASES)) {
      for (const perArch of Object.values(c.knownDigests)) {
        for (const known of Object.values(perArch)) {
          expect(known!.sha256).toMatch(/^[0-9a-f]{64}$/);
          expect(known!.source).toMatch(/^github\.com\/[\w.-]+\/[\w.-]+@[0-9a-f]{40}:\S+/); // repo@commit:path
        }
      }
    }
    // No public pin of a wasmtime or wasmer archive is known: nothing invented.
    expect(RELEASES.wasmtime.knownDigests).toEqual({});
    expect(RELEASES.wasmer.knownDigests).toEqual({});
  });

  it('names the digest files each project publishes, from the version that publishes them', () => {
    expect(RELEASES.wasmtime.digestFiles).toEqual([expect.objectContaining({ name: 'SHA256SUMS', format: 'sha256sums', since: '0.6.1' })]);
    expect(RELEASES.spin.digestFiles).toEqual([expect.objectContaining({ name: 'runtime-class-manager-shim-v1alpha1-{tag}.yaml', format: 'rcm-shim-yaml', since: '0.25.0' })]);
  });

  it('lists advisories as data: id, severity, affected range, fixed version, source', () => {
    expect(ADVISORIES.map((a) => [a.id, a.aliases, a.severity, a.shims, a.affected, a.fixed, a.source])).toEqual([
      ['GHSA-cc25-vq59-rcjx', ['CVE-2026-47218'], 'critical', ['wasmtime', 'wasmedge', 'wasmer'], '<=0.6.0', '0.6.1', 'https://github.com/containerd/runwasi/security/advisories/GHSA-cc25-vq59-rcjx'],
    ]);
  });

  it('expands templates', () => {
    expect(expandTemplate('a-{arch}-{goarch}-v{version}', { version: '1.2.3', arch: 'arm64' })).toBe('a-aarch64-arm64-v1.2.3');
  });
});
