import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KubewasmError, UsageError } from '../../lib/errors.js';
import { RELEASES, SHIMS } from '../../lib/shims/catalog.js';
import {
  chooseDigest,
  compareVersions,
  explainGithubError,
  normalizeVersion,
  parseAssetDigest,
  parseChecksumFile,
  pickAsset,
  pickLatest,
  type GithubRelease,
} from '../../lib/shims/resolve.js';
import { errorOf } from '../support/errors.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/github/${name}`, import.meta.url), 'utf8')) as GithubRelease;
const wasmtime060 = fixture('runwasi-containerd-shim-wasmtime-v0.6.0.json');
const wasmtime040 = fixture('runwasi-containerd-shim-wasmtime-v0.4.0.json');
const wasmLib = fixture('runwasi-containerd-shim-wasm-v1.0.0.json');
const wasmedge060 = fixture('runwasi-containerd-shim-wasmedge-v0.6.0.json');
const spin0240 = fixture('spin-containerd-shim-spin-v0.24.0.json');


describe('versions', () => {
  it.each([
    ['latest', 'latest'],
    ['0.6.0', '0.6.0'],
    ['v0.6.0', '0.6.0'],
    ['containerd-shim-wasmtime/v0.6.0', '0.6.0'],
  ])('%s -> %s', (input, version) => expect(normalizeVersion(input, RELEASES.wasmtime, SHIMS.wasmtime)).toBe(version));

  it('refuses what is not a version, with an example', () => {
    const err = errorOf(() => normalizeVersion('containerd-shim-wasmedge/v0.6.0', RELEASES.wasmtime, SHIMS.wasmtime));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.fix).toMatch(/containerd-shim-wasmtime\/v0\.6\.1/); // the example is the default version
  });

  it('compares numerically', () => {
    expect(compareVersions('0.10.0', '0.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0', '1.0.0')).toBe(0);
  });
});

describe('latest release', () => {
  it("skips other crates' releases, prereleases and drafts (runwasi's own 'latest' may have no binaries)", () => {
    const draft = { ...wasmtime060, tag_name: 'containerd-shim-wasmtime/v0.9.0', draft: true };
    const pre = { ...wasmtime060, tag_name: 'containerd-shim-wasmtime/v0.8.0', prerelease: true };
    const found = pickLatest(RELEASES.wasmtime, [wasmLib, draft, pre, wasmedge060, wasmtime040, wasmtime060]);
    expect(found?.version).toBe('0.6.0');
    expect(found?.release.tag_name).toBe('containerd-shim-wasmtime/v0.6.0');
  });

  it('orders by version, not by list position', () => {
    const v0100 = { ...wasmtime060, tag_name: 'containerd-shim-wasmtime/v0.10.0' };
    expect(pickLatest(RELEASES.wasmtime, [wasmtime060, v0100])?.version).toBe('0.10.0');
  });

  it('finds nothing when only other crates released', () => {
    expect(pickLatest(RELEASES.wasmtime, [wasmLib, wasmedge060])).toBeUndefined();
  });

  it('spin tags are plain vX.Y.Z', () => {
    expect(pickLatest(RELEASES.spin, [spin0240])?.version).toBe('0.24.0');
  });
});

describe('assets', () => {
  it('picks the musl archive for each arch of runwasi v0.6.0', () => {
    expect(pickAsset(RELEASES.wasmtime, SHIMS.wasmtime, wasmtime060, '0.6.0', 'amd64').name).toBe('containerd-shim-wasmtime-x86_64-linux-musl.tar.gz');
    expect(pickAsset(RELEASES.wasmtime, SHIMS.wasmtime, wasmtime060, '0.6.0', 'arm64').name).toBe('containerd-shim-wasmtime-aarch64-linux-musl.tar.gz');
  });

  it('falls back to the v0.3/v0.4 names', () => {
    expect(pickAsset(RELEASES.wasmtime, SHIMS.wasmtime, wasmtime040, '0.4.0', 'arm64').name).toBe('containerd-shim-wasmtime-aarch64.tar.gz');
  });

  it('picks the Spin archive, not the example YAMLs', () => {
    expect(pickAsset(RELEASES.spin, SHIMS.spin, spin0240, '0.24.0', 'arm64').name).toBe('containerd-shim-spin-v2-linux-aarch64.tar.gz');
  });

  it('says when the release has no build for the node architecture', () => {
    const err = errorOf(() => pickAsset(RELEASES.wasmedge, SHIMS.wasmedge, wasmedge060, '0.6.0', 'arm64'));
    expect(err.what).toBe('the wasmedge shim 0.6.0 has no build for arm64 nodes (only for amd64)');
    expect(err.fix).toMatch(/containerd-shim-wasmedge-aarch64-linux-musl\.tar\.gz/);
    expect(err.where).toMatch(/containerd\/runwasi release containerd-shim-wasmedge\/v0\.6\.0/);
  });

  it('says when the release has no shim archive at all', () => {
    const err = errorOf(() => pickAsset(RELEASES.wasmtime, SHIMS.wasmtime, { ...wasmLib, tag_name: 'containerd-shim-wasmtime/v0.6.0' }, '0.6.0', 'amd64'));
    expect(err.what).toMatch(/no wasmtime shim archive/);
    expect(err.fix).toMatch(/no assets at all/);
  });

  it('ignores assets still uploading', () => {
    const uploading = { ...wasmtime060, assets: wasmtime060.assets.map((a) => ({ ...a, state: 'starter' })) };
    expect(() => pickAsset(RELEASES.wasmtime, SHIMS.wasmtime, uploading, '0.6.0', 'amd64')).toThrow(KubewasmError);
  });
});

describe('digests', () => {
  it('reads the API digest field', () => {
    expect(parseAssetDigest(spin0240.assets[0]!.digest, 'x')).toMatch(/^[0-9a-f]{64}$/);
    expect(parseAssetDigest(null, 'x')).toBeUndefined();
    expect(parseAssetDigest('sha512:abcd', 'x')).toBeUndefined();
    expect(() => parseAssetDigest('sha256:xyz', 'x')).toThrow(/malformed digest/);
  });

  it('reads checksum files in the usual layouts', () => {
    const hex = 'a'.repeat(64);
    expect(parseChecksumFile(`${hex}  other.tar.gz\n${'b'.repeat(64)} *x.tar.gz\n`, 'x.tar.gz')).toBe('b'.repeat(64));
    expect(parseChecksumFile(`${hex}  ./x.tar.gz\n`, 'x.tar.gz')).toBe(hex);
    expect(parseChecksumFile(`${hex.toUpperCase()}\n`, 'x.tar.gz')).toBe(hex);
    expect(parseChecksumFile(`${hex}  y.tar.gz\n`, 'x.tar.gz')).toBeUndefined();
  });

  const what = { shim: 'wasmtime', version: '0.6.0', arch: 'amd64' as const, asset: 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz', where: 'containerd/runwasi' };

  it('refuses when no source has a digest, explaining why for pre-June-2025 assets', () => {
    const err = errorOf(() => chooseDigest([], { ...what, uploaded: wasmtime060.assets[1]!.created_at }));
    expect(err.what).toMatch(/no sha256 to verify containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz/);
    expect(err.what).toMatch(/uploaded 2025-05-20, before GitHub computed asset digests in June 2025/);
    expect(err.fix).toMatch(/--sha256 wasmtime\/amd64=HEX/);
    expect(err.fix).toMatch(/--bundle FILE/);
  });

  it('refuses when sources disagree, naming each', () => {
    const err = errorOf(() => chooseDigest([{ sha256: 'a'.repeat(64), source: 'pinned' }, { sha256: 'b'.repeat(64), source: 'GitHub API asset digest' }], what));
    expect(err.what).toMatch(/differs between sources: pinned says a+; GitHub API asset digest says b+/);
  });

  it('combines agreeing sources', () => {
    expect(chooseDigest([{ sha256: 'a'.repeat(64), source: 'pinned' }, { sha256: 'a'.repeat(64), source: 'GitHub API asset digest' }], what)).toEqual({ sha256: 'a'.repeat(64), source: 'pinned + GitHub API asset digest' });
  });
});

describe('GitHub errors', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  const base = { url: 'http://127.0.0.1:1/repos/containerd/runwasi/releases', doing: 'list the releases of containerd/runwasi', authenticated: false };

  it('explains the core rate limit with the reset time and the token advice', () => {
    const err = explainGithubError(
      { ...base, status: 403, message: 'API rate limit exceeded for 1.2.3.4.', headers: { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '60', 'x-ratelimit-resource': 'core', 'x-ratelimit-reset': String(now.getTime() / 1000 + 25 * 60) } },
      now,
    );
    expect(err.what).toBe('could not list the releases of containerd/runwasi: GitHub API rate limit exceeded (60 of 60 requests used, resource "core"), HTTP 403; the limit resets at 2026-01-01T12:25:00.000Z (in 25 min)');
    expect(err.fix).toMatch(/set GITHUB_TOKEN \(authenticated requests get 5,000 per hour instead of 60\)/);
    expect(err.fix).toMatch(/kubewasm bundle/);
  });

  it('explains a 429 secondary limit with retry-after', () => {
    const err = explainGithubError({ ...base, authenticated: true, status: 429, message: 'You have exceeded a secondary rate limit', headers: { 'retry-after': '30' } }, now);
    expect(err.what).toMatch(/secondary rate limit hit .*HTTP 429; GitHub asks to retry after 30 s/);
    expect(err.fix).not.toMatch(/set GITHUB_TOKEN/);
  });

  it('tells a bad token from a forbidden repository', () => {
    expect(explainGithubError({ ...base, authenticated: true, status: 401, message: 'Bad credentials' }).fix).toMatch(/renew GITHUB_TOKEN/);
    expect(explainGithubError({ ...base, authenticated: true, status: 403, message: 'Resource not accessible' }).fix).toMatch(/contents: read/);
  });

  it('explains 404 and no route', () => {
    expect(explainGithubError({ ...base, status: 404, message: 'Not Found' }).what).toMatch(/not found \(HTTP 404\)/);
    const err = explainGithubError({ ...base, status: undefined, message: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(err.what).toMatch(/no answer from the GitHub API \(connect ECONNREFUSED/);
    expect(err.fix).toMatch(/--github-api-url/);
  });
});
