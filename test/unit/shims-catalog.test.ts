import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/errors.js';
import { ARCHES, expandTemplate, parseArch, parseArchList, RELEASES, SHIMS } from '../../lib/shims/catalog.js';
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

  it('every shim has a default version and both arches', () => {
    for (const name of Object.keys(SHIMS) as Array<keyof typeof SHIMS>) {
      expect(RELEASES[name].defaultVersion).toMatch(/^\d+\.\d+\.\d+$/);
      for (const arch of ARCHES) expect(assetNamesFor(RELEASES[name], RELEASES[name].defaultVersion, arch).length).toBeGreaterThan(0);
    }
  });

  it('carries no known digest without an independent source beside it', () => {
    for (const channel of Object.values(RELEASES)) {
      for (const perArch of Object.values(channel.knownDigests)) {
        for (const known of Object.values(perArch)) {
          expect(known!.sha256).toMatch(/^[0-9a-f]{64}$/);
          expect(known!.source.length).toBeGreaterThan(10);
        }
      }
    }
  });

  it('expands templates', () => {
    expect(expandTemplate('a-{arch}-{goarch}-v{version}', { version: '1.2.3', arch: 'arm64' })).toBe('a-aarch64-arm64-v1.2.3');
  });
});
