// The release flow end to end against the loopback GitHub stand-in: real
// @octokit/rest, real HTTP with a redirect to a second host, real tar.gz
// archives, a real cache on disk. Every fault is refused with a clear message
// and leaves nothing behind.
import { existsSync, globSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shimSourcesForNode } from '../../cmd/shim-sources.js';
import { KubewasmError } from '../../lib/errors.js';
import { LocalHost } from '../../lib/host/local.js';
import { SHIMS, type Arch } from '../../lib/shims/catalog.js';
import { ShimReleases, type Pins, type ShimOrigin } from '../../lib/shims/releases.js';
import { runwasiArchive, runwasiAssetName, sha256, spinArchive, spinAssetName, standInShim, start, tarball, type FakeRelease, type GithubServer } from '../../scripts/lab/support/github-server.js';

// The lab builds a real wasmtime shim (scripts/lab/build/wasmtime-shim.sh); serve the newest finished
// build (its .done is written last) when there is one.
const labShim = globSync('/var/cache/kubewasm-lab/wasmtime-shim-*/bin/containerd-shim-wasmtime-v1')
  .filter((bin) => existsSync(path.join(bin, '..', '..', '.done')))
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
const WASMTIME = labShim ? readFileSync(labShim) : standInShim('containerd-shim-wasmtime-v1', '0.6.0');
const WASMTIME_KIND = labShim ? `the real lab-built wasmtime shim (${labShim})` : 'a generated stand-in executable (the lab wasmtime shim is not built)';
const SPIN = standInShim('containerd-shim-spin-v2', '0.24.0');
const SPIN_ARM = standInShim('containerd-shim-spin-v2', '0.24.0 (aarch64)');
const SPIN_KIND = 'a generated stand-in executable (no Spin shim is built in the lab)';

const R = 'containerd/runwasi';
const evilTarget = path.join(os.tmpdir(), `kubewasm-evil-${process.pid}`);
const wasmtimeTag = (v: string) => `containerd-shim-wasmtime/v${v}`;
const amd = runwasiAssetName('wasmtime', 'x86_64');
const good = runwasiArchive('wasmtime', WASMTIME);
const fault = (version: string, data: Buffer, extra: Partial<FakeRelease['assets'][number]> = {}): FakeRelease => ({ repo: R, tag: wasmtimeTag(version), prerelease: true, assets: [{ name: amd, data, ...extra }] });

const RELEASES: FakeRelease[] = [
  { repo: R, tag: 'containerd-shim-wasm/v1.0.0', assets: [] }, // GitHub's "latest" of runwasi: a library, no binaries
  {
    repo: R,
    tag: wasmtimeTag('0.6.0'),
    publishedAt: '2025-07-01T00:00:00Z',
    assets: [
      { name: runwasiAssetName('wasmtime', 'aarch64'), data: runwasiArchive('wasmtime', WASMTIME, { signature: 'aarch64' }) },
      { name: amd, data: good },
    ],
  },
  { repo: R, tag: wasmtimeTag('0.5.0'), assets: [{ name: amd, data: good, digest: null, uploadedAt: '2024-12-05T17:00:00Z' }] },
  { repo: R, tag: wasmtimeTag('0.4.0'), prerelease: true, assets: [{ name: 'containerd-shim-wasmtime-x86_64.tar.gz', data: runwasiArchive('wasmtime', WASMTIME, { legacy: true }) }] },
  { repo: R, tag: 'containerd-shim-wasmedge/v0.6.0', assets: [{ name: runwasiAssetName('wasmedge', 'x86_64'), data: runwasiArchive('wasmedge', standInShim('containerd-shim-wasmedge-v1')) }] },
  fault('0.7.1', good, { serve: Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good[good.length - 1]! ^ 1])]) }),
  fault('0.7.2', good, { fault: 'truncate' }),
  fault('0.7.3', good, { fault: 'reset' }),
  fault('0.7.4', tarball([{ path: '../evil', data: Buffer.from('x') }, { path: './containerd-shim-wasmtime-v1', data: WASMTIME }])),
  fault('0.7.5', tarball([{ path: './containerd-shim-wasmtime-v1', data: WASMTIME }, { path: evilTarget, data: Buffer.from('x') }])),
  fault('0.7.6', tarball([{ path: './containerd-shim-wasmtime-v1', type: 'SymbolicLink', linkpath: '/bin/sh' }])),
  fault('0.7.7', tarball([{ path: './', type: 'Directory' }, { path: './containerd-shim-wasmtime-v1.sig', data: Buffer.from('sig') }])),
  fault('0.7.8', tarball([{ path: './null', type: 'CharacterDevice' }, { path: './containerd-shim-wasmtime-v1', data: WASMTIME }])),
  { repo: R, tag: wasmtimeTag('0.7.9'), prerelease: true, assets: [{ name: 'containerd-shim-wasmtime-riscv64-linux-musl.tar.gz', data: good }] },
  fault('0.8.0', Buffer.from('this is not a tar.gz at all')),
  fault('0.8.1', good.subarray(0, Math.floor(good.length / 2))), // published cut short: the digest matches, the archive ends inside the binary
  {
    repo: 'spinframework/containerd-shim-spin',
    tag: 'v0.24.0',
    publishedAt: '2026-04-11T19:10:00Z',
    assets: [
      { name: 'runtime.yaml', data: Buffer.from('kind: RuntimeClass\n') },
      { name: spinAssetName('x86_64'), data: spinArchive(SPIN) },
      { name: spinAssetName('aarch64'), data: spinArchive(SPIN_ARM) },
    ],
  },
];

let server: GithubServer;
let scratch: string;

beforeAll(async () => {
  server = await start({ releases: RELEASES, rateLimit: 10_000 });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'kubewasm-shims-'));
});
afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * Runs the release flow in a separate Node process (the lib's TypeScript
 * sources, loaded with Node's type stripping and a resolve hook for the .js
 * import suffixes) and returns the binary paths it got.
 */
async function inChildProcess(apiUrl: string, cacheDir: string): Promise<string[]> {
  const hooks = `export async function resolve(specifier, context, next) {
    try { return await next(specifier, context); }
    catch (err) { if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context); throw err; }
  }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const lib = new URL('../../lib/shims/', import.meta.url).pathname;
  const script = `import { ShimReleases } from '${lib}releases.ts'; import { SHIMS } from '${lib}catalog.ts';
    const a = await new ShimReleases({ origin: { kind: 'github', apiUrl: process.argv[1] }, cacheDir: process.argv[2] }).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64']);
    process.stdout.write(JSON.stringify(a.map((x) => x.binaryPath)));`;
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script, apiUrl, cacheDir]);
  return JSON.parse(stdout) as string[];
}

let n = 0;
async function freshCache(): Promise<string> {
  return mkdtemp(path.join(scratch, `cache-${n++}-`));
}
function releasesFor(cacheDir: string, pins: Pins = {}, origin?: ShimOrigin): ShimReleases {
  return new ShimReleases({ origin: origin ?? { kind: 'github', apiUrl: server.apiUrl }, cacheDir, pins });
}
/** Every file under the cache directory (relative), temporary ones included. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}
async function refused(cacheDir: string, run: () => Promise<unknown>, message: RegExp): Promise<KubewasmError> {
  const err = await run().then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubewasmError);
  expect((err as KubewasmError).message).toMatch(message);
  expect(filesUnder(cacheDir)).toEqual([]); // nothing kept: no archive, no binary, no temporary file
  for (const sub of ['sha256', 'unpacked']) expect(existsSync(path.join(cacheDir, sub)) ? readdirSync(path.join(cacheDir, sub)) : []).toEqual([]);
  return err as KubewasmError;
}
const wasmtime = (version: string, arch: Arch = 'amd64', pins: Pins = {}) => async (cacheDir: string) => releasesFor(cacheDir, { ...pins, versions: { wasmtime: version } }).provide([SHIMS.wasmtime], [arch]);

describe('resolve, download once, verify, unpack', () => {
  it(`installs wasmtime 0.6.0 and spin 0.24.0 for amd64 and arm64 — wasmtime is ${WASMTIME_KIND}; spin is ${SPIN_KIND}`, async () => {
    const cacheDir = await freshCache();
    const before = server.requests.length;
    const artifacts = await releasesFor(cacheDir).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64', 'arm64']);
    expect(artifacts.map((a) => `${a.shim.name} ${a.version} ${a.arch} ${a.asset}`)).toEqual([
      'wasmtime 0.6.0 amd64 containerd-shim-wasmtime-x86_64-linux-musl.tar.gz',
      'wasmtime 0.6.0 arm64 containerd-shim-wasmtime-aarch64-linux-musl.tar.gz',
      'spin 0.24.0 amd64 containerd-shim-spin-v2-linux-x86_64.tar.gz',
      'spin 0.24.0 arm64 containerd-shim-spin-v2-linux-aarch64.tar.gz',
    ]);
    for (const a of artifacts) {
      expect(a.digestSource).toBe('GitHub API asset digest');
      expect(a.archivePath).toBe(path.join(cacheDir, 'sha256', a.sha256));
      expect(sha256(readFileSync(a.archivePath))).toBe(a.sha256);
      const binary = readFileSync(a.binaryPath);
      expect(binary.equals(a.shim.name === 'wasmtime' ? WASMTIME : a.arch === 'amd64' ? SPIN : SPIN_ARM)).toBe(true);
      expect(a.binarySha256).toBe(sha256(binary));
      expect(statSync(a.binaryPath).mode & 0o777).toBe(0o755);
      expect(readdirSync(path.dirname(a.binaryPath))).toEqual([a.shim.binaryName]); // no .sig/.pem, no links
    }
    // GitHub's way: the API answers 302, the bytes come from the other host.
    const mine = server.requests.slice(before);
    expect(mine.filter((r) => r.server === 'api' && r.status === 302)).toHaveLength(4);
    expect(mine.filter((r) => r.server === 'download' && r.status === 200)).toHaveLength(4);
    expect(new URL(server.downloadHost).hostname).toBe('127.0.0.2');
    expect(filesUnder(cacheDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('runs the unpacked binary', async () => {
    const [a] = await releasesFor(await freshCache()).provide([SHIMS.wasmtime], ['amd64']);
    const { execFileSync } = await import('node:child_process');
    if (labShim) {
      expect(execFileSync(a!.binaryPath, ['-v'], { encoding: 'utf8' })).toMatch(/Runtime: wasmtime\s+Version: \d+\.\d+\.\d+/);
    } else {
      expect(execFileSync(a!.binaryPath, ['-v'], { encoding: 'utf8' })).toMatch(/Version: 0\.6\.0/);
    }
  });

  it('downloads each archive once: 20 nodes fetch the same bytes as 1, and a warm cache fetches none', async () => {
    const one = await freshCache();
    let before = server.bytesServed.download;
    await releasesFor(one).provide([SHIMS.wasmtime], ['amd64']);
    const bytesOne = server.bytesServed.download - before;
    expect(bytesOne).toBe(good.length);

    const twenty = await freshCache();
    before = server.bytesServed.download;
    const r = releasesFor(twenty);
    const perNode = await Promise.all(Array.from({ length: 20 }, () => r.provide([SHIMS.wasmtime], ['amd64'])));
    expect(server.bytesServed.download - before).toBe(bytesOne);
    expect(new Set(perNode.map((a) => a[0]!.binaryPath)).size).toBe(1);

    before = server.bytesServed.download;
    const warm = await releasesFor(twenty).provide([SHIMS.wasmtime], ['amd64']);
    expect(server.bytesServed.download - before).toBe(0);
    expect(warm[0]!.fetchedBytes).toBe(0);
  });

  it('resolves latest by the shim tag convention, skipping the library release and prereleases', async () => {
    const [a] = await releasesFor(await freshCache(), { versions: { wasmtime: 'latest' } }).provide([SHIMS.wasmtime], ['amd64']);
    expect(a!.tag).toBe('containerd-shim-wasmtime/v0.6.0');
  });

  it('reads runwasi v0.4-style archives: old asset name, symlinks skipped, never created', async () => {
    const cacheDir = await freshCache();
    const skipped: string[] = [];
    const [a] = await releasesFor(cacheDir, { versions: { wasmtime: '0.4.0' } }).provide([SHIMS.wasmtime], ['amd64'], (e) => {
      if (e.type === 'skipped-entry') skipped.push(e.reason);
    });
    expect(a!.asset).toBe('containerd-shim-wasmtime-x86_64.tar.gz');
    expect(skipped.filter((s) => s.startsWith('link'))).toEqual([
      "link './containerd-shim-wasmtimed-v1' not extracted (links are never created)",
      "link './containerd-wasmtimed' not extracted (links are never created)",
    ]);
    expect(readdirSync(path.dirname(a!.binaryPath))).toEqual(['containerd-shim-wasmtime-v1']);
  });

  it('two kubewasm instances in one process filling one cache at once end with one verified copy and no temporary files', async () => {
    const cacheDir = await freshCache();
    const [a, b] = await Promise.all([releasesFor(cacheDir).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64']), releasesFor(cacheDir).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64'])]);
    expect(a!.map((x) => x.binaryPath)).toEqual(b!.map((x) => x.binaryPath));
    expect(filesUnder(cacheDir).sort()).toEqual(
      [...a!.map((x) => `sha256/${x.sha256}`), ...a!.map((x) => `unpacked/${x.sha256}/${x.shim.binaryName}`)].sort(),
    );
  });

  it('two kubewasm processes filling one cache at once: both succeed, one copy, no temporary files', async () => {
    const cacheDir = await freshCache();
    const runs = await Promise.all([0, 1, 2].map(() => inChildProcess(server.apiUrl, cacheDir)));
    expect(new Set(runs.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(filesUnder(cacheDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(filesUnder(cacheDir)).toHaveLength(4); // two archives, two binaries
  });

  it('re-fetches an archive corrupted in the cache', async () => {
    const cacheDir = await freshCache();
    const [a] = await releasesFor(cacheDir).provide([SHIMS.wasmtime], ['amd64']);
    writeFileSync(a!.archivePath, 'rotten');
    await rm(path.dirname(a!.binaryPath), { recursive: true });
    const [b] = await releasesFor(cacheDir).provide([SHIMS.wasmtime], ['amd64']);
    expect(b!.fetchedBytes).toBe(good.length);
    expect(sha256(readFileSync(b!.archivePath))).toBe(b!.sha256);
  });

  it('gives node install the ShimBinary for this machine, with plain progress lines off a terminal', async () => {
    const cacheDir = await freshCache();
    let err = '';
    const sink = (fn: (s: string) => void) => new Writable({ write: (c, _e, cb) => (fn(String(c)), cb()) });
    const ctx = { options: { 'github-api-url': server.apiUrl, 'cache-dir': cacheDir }, args: [], stdout: sink(() => {}), stderr: sink((s) => (err += s)) };
    const [source] = await shimSourcesForNode(ctx, new LocalHost(), [SHIMS.wasmtime]);
    expect(source!.shim).toBe(SHIMS.wasmtime);
    expect(source!.version).toBe('0.6.0');
    expect(source!.sha256).toBe(sha256(WASMTIME));
    expect(source!.localPath.startsWith(path.join(cacheDir, 'unpacked'))).toBe(true);
    expect(err).toMatch(/^wasmtime 0\.6\.0 (amd64|arm64): containerd-shim-wasmtime-\S+-linux-musl\.tar\.gz \(containerd-shim-wasmtime\/v0\.6\.0\), sha256 [0-9a-f]{12}… from GitHub API asset digest$/m);
    expect(err).toMatch(/downloaded 0\.0 MB, sha256 verified|downloaded \d+\.\d MB, sha256 verified/);
    expect(err).toMatch(/containerd-shim-wasmtime-v1 ready \(sha256 [0-9a-f]{12}…\)/);
  });
});

describe('tokens', () => {
  it('sends GITHUB_TOKEN to the API host only, never to the download host', async () => {
    const authed = await start({ releases: RELEASES, token: 's3cret' });
    try {
      await new ShimReleases({ origin: { kind: 'github', apiUrl: authed.apiUrl, token: 's3cret' }, cacheDir: await freshCache() }).provide([SHIMS.wasmtime], ['amd64']);
      const api = authed.requests.filter((r) => r.server === 'api');
      const dl = authed.requests.filter((r) => r.server === 'download');
      expect(api.length).toBeGreaterThan(0);
      expect(api.every((r) => r.authorization === 'token s3cret')).toBe(true);
      expect(dl).toHaveLength(1);
      expect(dl[0]!.authorization).toBeUndefined();
      const bad = await freshCache();
      await refused(bad, () => new ShimReleases({ origin: { kind: 'github', apiUrl: authed.apiUrl, token: 'wrong' }, cacheDir: bad }).provide([SHIMS.wasmtime], ['amd64']), /GitHub rejected the token \(HTTP 401: Bad credentials[^)]*\)[\s\S]*fix: renew GITHUB_TOKEN/);
    } finally {
      await authed.close();
    }
  });
});

describe('faults: each refused with a clear message, nothing left in the cache', () => {
  it('checksum mismatch', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.1')(cacheDir), /sha256 mismatch for containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz: expected [0-9a-f]{64} \(GitHub API asset digest\), got [0-9a-f]{64}[\s\S]*nothing was kept or extracted/);
  });

  it('truncated body', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.2')(cacheDir), /the download of containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz broke off after \d+ of \d+ bytes[\s\S]*run again; nothing from this download was kept/);
  });

  it('connection reset mid-download', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.3')(cacheDir), /broke off after \d+ of \d+ bytes: .*(ECONNRESET|reset|closed)/i);
  });

  it('missing release (404) and missing asset', async () => {
    const a = await freshCache();
    await refused(a, () => wasmtime('0.9.9')(a), /no release 0\.9\.9 of the wasmtime shim in containerd\/runwasi \(HTTP 404 for tag containerd-shim-wasmtime\/v0\.9\.9, tag v0\.9\.9\)/);
    const b = await freshCache();
    await refused(b, () => wasmtime('0.7.9')(b), /the release has no wasmtime shim archive \(looked for containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz or containerd-shim-wasmtime-x86_64\.tar\.gz or [^)]*\)[\s\S]*the release has: containerd-shim-wasmtime-riscv64-linux-musl\.tar\.gz/);
  });

  it('no asset for the node architecture', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => releasesFor(cacheDir).provide([SHIMS.wasmedge], ['arm64']), /the wasmedge shim 0\.6\.0 has no build for arm64 nodes \(only for amd64\)/);
  });

  it('an entry climbing out with ../', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.4')(cacheDir), /refused the archive: entry '\.\.\/evil' climbs out of the archive/);
    expect(existsSync(path.join(cacheDir, 'evil'))).toBe(false);
    expect(existsSync(path.join(cacheDir, 'unpacked', 'evil'))).toBe(false);
  });

  it('an absolute path', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.5')(cacheDir), new RegExp(`refused the archive: entry '${evilTarget}' has an absolute path`));
    expect(existsSync(evilTarget)).toBe(false);
  });

  it('a symlink in place of the binary', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.6')(cacheDir), /refused the archive: '\.\/containerd-shim-wasmtime-v1' is a symbolic link, not the shim binary itself/);
  });

  it('an archive without the expected binary', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.7')(cacheDir), /wasmtime 0\.7\.7 amd64 \(containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz\): the archive holds no containerd-shim-wasmtime-v1/);
  });

  it('a device file', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.7.8')(cacheDir), /entry '\.\/null' is a device or FIFO \(CharacterDevice\)/);
  });

  it('bytes that are no tar.gz', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.8.0')(cacheDir), /the archive is not a valid tar\(\.gz\)/);
  });

  it('an archive that ends inside the binary (published that way: its digest matches)', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.8.1')(cacheDir), /the archive is not a valid tar\(\.gz\)/);
  });

  it('no digest anywhere (an asset from before June 2025), then the same with a pin', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.5.0')(cacheDir), /no sha256 to verify containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz \(wasmtime 0\.5\.0, amd64\) against: GitHub reports no digest for it \(uploaded 2024-12-05, before GitHub computed asset digests in June 2025\)[\s\S]*--sha256 wasmtime\/amd64=HEX/);
    const [a] = await wasmtime('0.5.0', 'amd64', { digests: { 'wasmtime/amd64': sha256(good) } })(cacheDir);
    expect(a!.digestSource).toBe('pinned with --sha256 wasmtime/amd64');
  });

  it('a pin that contradicts the API digest', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.6.0', 'amd64', { digests: { 'wasmtime/amd64': 'f'.repeat(64) } })(cacheDir), /differs between sources: pinned with --sha256 wasmtime\/amd64 says f{64}; GitHub API asset digest says [0-9a-f]{64}/);
  });

  it('the core rate limit, with its reset time', async () => {
    const limited = await start({ releases: RELEASES, rateLimit: 1 });
    try {
      const cacheDir = await freshCache();
      const err = await refused(cacheDir, () => new ShimReleases({ origin: { kind: 'github', apiUrl: limited.apiUrl }, cacheDir }).provide([SHIMS.wasmtime], ['amd64']), /GitHub API rate limit exceeded \(1 of 1 requests used, resource "core"\), HTTP 403; the limit resets at \S+ \(in (59|60) min\)/);
      expect(err.fix).toMatch(/set GITHUB_TOKEN/);
    } finally {
      await limited.close();
    }
  });

  it('a secondary rate limit (429 with retry-after)', async () => {
    server.addFault({ path: /\/releases\/tags\//, status: 429, headers: { 'retry-after': '42' }, body: { message: 'You have exceeded a secondary rate limit.' } });
    const cacheDir = await freshCache();
    await refused(cacheDir, () => releasesFor(cacheDir).provide([SHIMS.spin], ['amd64']), /GitHub API secondary rate limit hit \(too many requests at once\) \(\d+ of 10000 requests used, resource "core"\), HTTP 429; GitHub asks to retry after 42 s/);
  });

  it('no route to the API', async () => {
    const cacheDir = await freshCache();
    const closed = await closedPort();
    await refused(cacheDir, () => releasesFor(cacheDir, {}, { kind: 'github', apiUrl: `http://127.0.0.1:${closed}` }).provide([SHIMS.wasmtime], ['amd64']), /no answer from the GitHub API \(.*ECONNREFUSED/);
  });
});
