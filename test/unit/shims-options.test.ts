import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pinsFromOptions, shimOriginFromOptions } from '../../lib/shims/source-flags.js';
import { UsageError } from '../../lib/errors.js';
import { defaultCacheDir } from '../../lib/shims/cache.js';
import { SHIMS, type Arch } from '../../lib/shims/catalog.js';
import { shimSupply } from '../../lib/node/run-flags.js';
import { githubApiUrlFrom, githubTokenFromEnv } from '../../lib/shims/github.js';
import { serializeLock } from '../../lib/shims/lockfile.js';

describe('shim source options', () => {
  it('defaults to GitHub, honouring GITHUB_API_URL and GITHUB_TOKEN', async () => {
    expect(await shimOriginFromOptions({}, {})).toEqual({ kind: 'github', apiUrl: 'https://api.github.com', token: undefined });
    expect(await shimOriginFromOptions({}, { GITHUB_API_URL: 'https://ghe.example/api/v3/', GITHUB_TOKEN: 't' })).toEqual({ kind: 'github', apiUrl: 'https://ghe.example/api/v3', token: 't' });
    expect(await shimOriginFromOptions({ 'github-api-url': 'http://127.0.0.1:9' }, { GITHUB_API_URL: 'https://ghe.example' })).toMatchObject({ apiUrl: 'http://127.0.0.1:9' });
    expect(githubTokenFromEnv({ GH_TOKEN: 'g' })).toBe('g');
    expect(githubApiUrlFrom(undefined, {})).toBe('https://api.github.com');
  });

  it('takes --bundle or --mirror, one source at a time', async () => {
    expect(await shimOriginFromOptions({ bundle: 'b.tar' }, {})).toEqual({ kind: 'bundle', file: 'b.tar' });
    expect(await shimOriginFromOptions({ mirror: 'http://127.0.0.1:8080/gh' }, {})).toEqual({ kind: 'mirror', url: 'http://127.0.0.1:8080/gh' });
    await expect(shimOriginFromOptions({ bundle: 'b', mirror: 'http://x' }, {})).rejects.toThrow(UsageError);
    await expect(shimOriginFromOptions({ bundle: 'b', 'shim-dir': 'd' }, {})).rejects.toThrow(/--bundle and --shim-dir name different sources/);
    await expect(shimOriginFromOptions({ mirror: 'ftp://x' }, {})).rejects.toThrow(/not an http\(s\) URL/);
    await expect(shimOriginFromOptions({ mirror: 'http://x', 'github-api-url': 'http://y' }, {})).rejects.toThrow(/no use with --mirror/);
  });

  it('reads --accept-advisory as the advisories the user accepted', async () => {
    expect((await pinsFromOptions({ 'accept-advisory': ['GHSA-cc25-vq59-rcjx,CVE-2026-47218'] }, [SHIMS.wasmtime], ['amd64'])).acceptAdvisories).toEqual(['GHSA-cc25-vq59-rcjx', 'CVE-2026-47218']);
  });

  it('reads pins: versions per shim, sha256 per shim/arch', async () => {
    const pins = await pinsFromOptions({ 'shim-version': ['wasmtime=latest,spin=v0.24.0'], sha256: [`wasmtime/arm64=${'A'.repeat(64)}`] }, [SHIMS.wasmtime, SHIMS.spin], ['amd64', 'arm64']);
    expect(pins).toEqual({ versions: { wasmtime: 'latest', spin: 'v0.24.0' }, digests: { 'wasmtime/arm64': 'a'.repeat(64) } });
  });

  it('lets --sha256 SHIM=HEX mean the only architecture asked for, and no other', async () => {
    expect((await pinsFromOptions({ sha256: [`wasmtime=${'b'.repeat(64)}`] }, [SHIMS.wasmtime], ['arm64'])).digests).toEqual({ 'wasmtime/arm64': 'b'.repeat(64) });
    await expect(pinsFromOptions({ sha256: [`wasmtime=${'b'.repeat(64)}`] }, [SHIMS.wasmtime], ['amd64', 'arm64'])).rejects.toThrow(/must name the architecture/);
  });

  it('install and cluster create pin a bare --sha256 to the architecture the cluster turns out to have (arm64 too)', async () => {
    const { INSTALL_SHIM_ARCHS } = await import('../../cmd/commands/install.js');
    const supply = await shimSupply({ sha256: [`wasmtime=${'c'.repeat(64)}`] }, [SHIMS.wasmtime], INSTALL_SHIM_ARCHS, {});
    const pinsFor = async (archs: Arch[]) => (supply.kind === 'releases' ? (typeof supply.pins === 'function' ? await supply.pins(archs) : supply.pins).digests : undefined);
    expect(await pinsFor(['arm64'])).toEqual({ 'wasmtime/arm64': 'c'.repeat(64) });
    expect(await pinsFor(['amd64'])).toEqual({ 'wasmtime/amd64': 'c'.repeat(64) });
    await expect(pinsFor(['amd64', 'arm64'])).rejects.toThrow(/must name the architecture/); // one archive digest cannot fit two archives
  });

  it('refuses malformed or stray pins as usage errors', async () => {
    await expect(pinsFromOptions({ 'shim-version': ['wasmtime'] }, [SHIMS.wasmtime], ['amd64'])).rejects.toThrow(/is not KEY=VALUE/);
    await expect(pinsFromOptions({ 'shim-version': ['wasmer=0.6.0'] }, [SHIMS.wasmtime], ['amd64'])).rejects.toThrow(/not among the shims asked for/);
    await expect(pinsFromOptions({ 'shim-version': ['runc=1'] }, [SHIMS.wasmtime], ['amd64'])).rejects.toThrow(/unknown shim 'runc'/);
  });

  it('reads a lock file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kubewasm-lock-'));
    const file = path.join(dir, 'lock.json');
    writeFileSync(file, serializeLock([{ shim: 'spin', version: '0.24.0', arch: 'amd64', repository: 'spinframework/containerd-shim-spin', tag: 'v0.24.0', asset: 'containerd-shim-spin-v2-linux-x86_64.tar.gz', sha256: 'c'.repeat(64), size: 1 }]));
    try {
      const pins = await pinsFromOptions({ lock: file }, [SHIMS.spin], ['amd64']);
      expect(pins.lock?.entries).toHaveLength(1);
      expect(pins.lockSource).toBe(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts the cache under XDG_CACHE_HOME when it is absolute', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/var/cache/me' }, '/home/u')).toBe('/var/cache/me/kubewasm');
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative' }, '/home/u')).toBe('/home/u/.cache/kubewasm');
    expect(defaultCacheDir({}, '/home/u')).toBe('/home/u/.cache/kubewasm');
  });
});
