// The release flow end to end against the loopback GitHub stand-in: real
// @octokit/rest, real HTTP with a redirect to a second host, real tar.gz
// archives, a real cache on disk. Every fault is refused with a clear message
// and leaves nothing behind.
import { existsSync, globSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shimSupply } from '../../cmd/flags.js';
import { plainShimProgress } from '../../lib/shims/shim-lines.js';
import { KubewasmError } from '../../lib/errors.js';
import { provideShims } from '../../lib/node/shim-supply.js';
import { RELEASES as CATALOG, SHIMS, type Arch } from '../../lib/shims/catalog.js';
import { ShimReleases, type Pins, type ShimOrigin } from '../../lib/shims/releases.js';
import { parseShimVersionOutput } from '../../lib/shims/shim-version.js';
import {
  rcmShimYaml,
  releaseFromFixture,
  sha256sums,
  runwasiArchive,
  runwasiAssetName,
  sha256,
  spinArchive,
  spinAssetName,
  standInShim,
  start,
  tarball,
  type FakeRelease,
  type GithubServer,
  type ReleaseFixture,
} from '../../scripts/lab/support/github-server.js';

// The lab builds a real wasmtime shim (scripts/lab/build/wasmtime-shim.sh); the archives served here
// hold the newest finished build (its .done is written last). No Spin shim is built in the lab: spin's
// archives hold a generated stand-in that answers -v like the real one.
const labShim = globSync('/var/cache/kubewasm-lab/wasmtime-shim-*/bin/containerd-shim-wasmtime-v1')
  .filter((bin) => existsSync(path.join(bin, '..', '..', '.done')))
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
const WASMTIME = labShim ? readFileSync(labShim) : Buffer.alloc(0);
const SPIN = standInShim('containerd-shim-spin-v2', '0.90.0');
const SPIN_ARM = standInShim('containerd-shim-spin-v2', '0.90.0 (aarch64)');
const SPIN_KIND = 'a generated stand-in executable (no Spin shim is built in the lab)';

const R = 'containerd/runwasi';
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/github/${name}`, import.meta.url), 'utf8')) as ReleaseFixture;
const evilTarget = path.join(os.tmpdir(), `kubewasm-evil-${process.pid}`);
const wasmtimeTag = (v: string) => `containerd-shim-wasmtime/v${v}`;
const amd = runwasiAssetName('wasmtime', 'x86_64');
const arm = runwasiAssetName('wasmtime', 'aarch64');
const good = runwasiArchive('wasmtime', WASMTIME);
const goodArm = runwasiArchive('wasmtime', WASMTIME, { signature: 'aarch64' });
const runwasiArchives = (engine: 'wasmtime' | 'wasmedge', binary: Buffer) => ({ [runwasiAssetName(engine, 'x86_64')]: runwasiArchive(engine, binary), [runwasiAssetName(engine, 'aarch64')]: runwasiArchive(engine, binary, { signature: 'aarch64' }) });
const spinArchives = { [spinAssetName('x86_64')]: spinArchive(SPIN), [spinAssetName('aarch64')]: spinArchive(SPIN_ARM) };
const fault = (version: string, data: Buffer, extra: Partial<FakeRelease['assets'][number]> = {}): FakeRelease => ({ repo: R, tag: wasmtimeTag(version), prerelease: true, assets: [{ name: amd, data, ...extra }] });
const GHSA = 'GHSA-cc25-vq59-rcjx';
/** The stand-in's spin release: the v0.25.1 shape (API digests + Shim yaml) under a version the catalog does not pin. */
const SPIN_STAND_IN = '0.90.0';

const RELEASES: FakeRelease[] = [
  releaseFromFixture(fixture('runwasi-containerd-shim-wasm-v1.0.0.json'), { archives: {} }), // GitHub's "latest" of runwasi: a library, no binaries
  // Real shapes: 0.6.0 without digests or SHA256SUMS (uploaded 2025-05-20), 0.6.1 with both. Listed
  // before 0.6.1, as a list in upload order would have it: `latest` must still pick 0.6.1.
  releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.0.json'), { archives: { [amd]: good, [arm]: goodArm } }),
  releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.1.json'), { archives: { [amd]: good, [arm]: goodArm } }),
  // wasmedge 0.6.1: the catalog pins the real archives (siderolabs/extensions); these bytes are a stand-in's.
  releaseFromFixture(fixture('runwasi-containerd-shim-wasmedge-v0.6.1.json'), { archives: runwasiArchives('wasmedge', standInShim('containerd-shim-wasmedge-v1', '0.6.1')) }),
  // 0.6.1's shape under 0.6.2 (not pinned anywhere), with a SHA256SUMS that names other bytes.
  { ...releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.1.json'), { tag: wasmtimeTag('0.6.2'), archives: { [amd]: good, [arm]: goodArm }, files: { SHA256SUMS: Buffer.from(`${'e'.repeat(64)}  ${amd}\n${'e'.repeat(64)}  ${arm}\n`) } }), prerelease: true },
  { repo: R, tag: wasmtimeTag('0.5.0'), assets: [{ name: amd, data: good, digest: null, uploadedAt: '2024-12-05T17:00:00Z' }] },
  { repo: R, tag: wasmtimeTag('0.4.0'), prerelease: true, assets: [{ name: 'containerd-shim-wasmtime-x86_64.tar.gz', data: runwasiArchive('wasmtime', WASMTIME, { legacy: true }) }] },
  { repo: R, tag: 'containerd-shim-wasmedge/v0.7.0', prerelease: true, assets: [{ name: runwasiAssetName('wasmedge', 'x86_64'), data: runwasiArchive('wasmedge', standInShim('containerd-shim-wasmedge-v1')) }] },
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
  // spin: v0.24.0 and v0.25.1 as published (the catalog pins both), served with stand-in bytes.
  releaseFromFixture(fixture('spin-containerd-shim-spin-v0.24.0.json'), { archives: spinArchives }),
  releaseFromFixture(fixture('spin-containerd-shim-spin-v0.25.1.json'), { archives: spinArchives, keepDigests: true }),
  { ...releaseFromFixture(fixture('spin-containerd-shim-spin-v0.25.1.json'), { tag: `v${SPIN_STAND_IN}`, archives: spinArchives }), prerelease: true },
  // the same shape whose Shim yaml names other bytes for x86_64
  {
    ...releaseFromFixture(fixture('spin-containerd-shim-spin-v0.25.1.json'), {
      tag: 'v0.90.1',
      archives: spinArchives,
      files: { 'runtime-class-manager-shim-v1alpha1-v0.90.1.yaml': rcmShimYaml('spinframework/containerd-shim-spin', 'v0.90.1', { [spinAssetName('x86_64')]: Buffer.from('other bytes'), [spinAssetName('aarch64')]: spinArchive(SPIN_ARM) }) },
    }),
    prerelease: true,
  },
];

let server: GithubServer;
let scratch: string;

beforeAll(async () => {
  if (!labShim) throw new Error('the lab\'s wasmtime shim is not built (/var/cache/kubewasm-lab/wasmtime-shim-*/bin/containerd-shim-wasmtime-v1); build it: scripts/setup --lab');
  // The happy paths below serve stand-in bytes: they must use versions no public pin names.
  expect(CATALOG.wasmtime.knownDigests['0.6.1']).toBeUndefined();
  expect(CATALOG.spin.knownDigests[SPIN_STAND_IN]).toBeUndefined();
  server = await start({ releases: RELEASES, rateLimit: 10_000 });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'kubewasm-shims-'));
});
afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
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
    const a = await new ShimReleases({ origin: { kind: 'github', apiUrl: process.argv[1] }, cacheDir: process.argv[2], pins: { versions: { spin: '${SPIN_STAND_IN}' } } }).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64']);
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
const standInSpin: Pins = { versions: { spin: SPIN_STAND_IN } };

describe('resolve, download once, verify, unpack', () => {
  it(`installs the default wasmtime (0.6.1: API digests and SHA256SUMS) and spin ${SPIN_STAND_IN} (API digests and Shim yaml) for amd64 and arm64 — wasmtime is the lab-built shim; spin is ${SPIN_KIND}`, async () => {
    const cacheDir = await freshCache();
    const before = server.requests.length;
    const artifacts = await releasesFor(cacheDir, standInSpin).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64', 'arm64']);
    expect(artifacts.map((a) => `${a.shim.name} ${a.version} ${a.arch} ${a.asset}`)).toEqual([
      'wasmtime 0.6.1 amd64 containerd-shim-wasmtime-x86_64-linux-musl.tar.gz',
      'wasmtime 0.6.1 arm64 containerd-shim-wasmtime-aarch64-linux-musl.tar.gz',
      `spin ${SPIN_STAND_IN} amd64 containerd-shim-spin-v2-linux-x86_64.tar.gz`,
      `spin ${SPIN_STAND_IN} arm64 containerd-shim-spin-v2-linux-aarch64.tar.gz`,
    ]);
    for (const a of artifacts) {
      // Every digest the release carries was read and agrees.
      expect(a.digestSource).toBe(a.shim.name === 'wasmtime' ? "GitHub API asset digest + the release's SHA256SUMS" : `GitHub API asset digest + the release's Shim yaml runtime-class-manager-shim-v1alpha1-v${SPIN_STAND_IN}.yaml`);
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
    expect(mine.filter((r) => r.server === 'api' && r.status === 302)).toHaveLength(6); // 4 archives, SHA256SUMS and the Shim yaml once each
    expect(mine.filter((r) => r.server === 'download' && r.status === 200)).toHaveLength(6);
    expect(new URL(server.downloadHost).hostname).toBe('127.0.0.2');
    expect(filesUnder(cacheDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('runs the unpacked binary', async () => {
    const [a] = await releasesFor(await freshCache()).provide([SHIMS.wasmtime], ['amd64']);
    const { execFileSync } = await import('node:child_process');
    const info = parseShimVersionOutput(execFileSync(a!.binaryPath, ['-v'], { encoding: 'utf8' }));
    expect(info?.runtime).toBe('wasmtime');
    expect(info?.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('downloads each archive once: 20 nodes fetch the same bytes as 1, and a warm cache fetches no archive (only SHA256SUMS, to resolve)', async () => {
    const one = await freshCache();
    let before = server.bytesServed.download;
    await releasesFor(one).provide([SHIMS.wasmtime], ['amd64']);
    const bytesOne = server.bytesServed.download - before;
    expect(bytesOne).toBe(good.length + sha256sums({ [amd]: good, [arm]: goodArm }).length); // the archive and SHA256SUMS

    const twenty = await freshCache();
    before = server.bytesServed.download;
    const r = releasesFor(twenty);
    const perNode = await Promise.all(Array.from({ length: 20 }, () => r.provide([SHIMS.wasmtime], ['amd64'])));
    expect(server.bytesServed.download - before).toBe(bytesOne);
    expect(new Set(perNode.map((a) => a[0]!.binaryPath)).size).toBe(1);

    before = server.bytesServed.download;
    const warm = await releasesFor(twenty).provide([SHIMS.wasmtime], ['amd64']);
    expect(server.bytesServed.download - before).toBe(sha256sums({ [amd]: good, [arm]: goodArm }).length); // resolving reads SHA256SUMS again; no archive byte
    expect(warm[0]!.fetchedBytes).toBe(0);
  });

  it('resolves latest by semver among the shim\'s own tags: not the library release, not prereleases, not the first listed', async () => {
    const listed = (await (await fetch(`${server.apiUrl}/repos/${R}/releases?per_page=100`)).json()) as Array<{ tag_name: string; prerelease: boolean }>;
    expect(listed.filter((r) => !r.prerelease && r.tag_name.startsWith('containerd-shim-wasmtime/'))[0]!.tag_name).toBe(wasmtimeTag('0.6.0')); // first in the list
    const [a] = await releasesFor(await freshCache(), { versions: { wasmtime: 'latest' } }).provide([SHIMS.wasmtime], ['amd64']);
    expect(a!.tag).toBe(wasmtimeTag('0.6.1'));
    expect(a!.version).toBe('0.6.1');
  });

  it('reads runwasi v0.4-style archives: old asset name, symlinks skipped, never created', async () => {
    const cacheDir = await freshCache();
    const skipped: string[] = [];
    const [a] = await releasesFor(cacheDir, { versions: { wasmtime: '0.4.0' }, acceptAdvisories: [GHSA] }).provide([SHIMS.wasmtime], ['amd64'], (e) => {
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
    const [a, b] = await Promise.all([releasesFor(cacheDir, standInSpin).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64']), releasesFor(cacheDir, standInSpin).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64'])]);
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

  it('gives node install the ShimBinary for this machine (flags to supply to binaries), with plain progress lines', async () => {
    const cacheDir = await freshCache();
    const lines: string[] = [];
    const supply = await shimSupply({ 'github-api-url': server.apiUrl, 'cache-dir': cacheDir }, [SHIMS.wasmtime], ['amd64'], {});
    const [source] = (await provideShims(supply, [SHIMS.wasmtime], ['amd64'], plainShimProgress((l) => lines.push(l))))('amd64');
    const err = lines.join('\n');
    expect(source!.shim).toBe(SHIMS.wasmtime);
    expect(source!.version).toBe('0.6.1');
    expect(source!.sha256).toBe(sha256(WASMTIME));
    expect(source!.localPath.startsWith(path.join(cacheDir, 'unpacked'))).toBe(true);
    expect(err).toMatch(/^wasmtime 0\.6\.1 amd64: containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz \(containerd-shim-wasmtime\/v0\.6\.1\), sha256 [0-9a-f]{12}… from GitHub API asset digest \+ the release's SHA256SUMS$/m);
    expect(err).toMatch(/downloaded \d+\.\d (kB|MB), sha256 verified/);
    expect(err).toMatch(/containerd-shim-wasmtime-v1 ready \(sha256 [0-9a-f]{12}…\)/);
  });

  it('refuses an affected version through the flags too, and --accept-advisory lets it through', async () => {
    const cacheDir = await freshCache();
    const options = { 'github-api-url': server.apiUrl, 'cache-dir': cacheDir, 'shim-version': ['wasmtime=0.6.0'], sha256: [`wasmtime/amd64=${sha256(good)}`] };
    await refused(cacheDir, async () => provideShims(await shimSupply(options, [SHIMS.wasmtime], ['amd64'], {}), [SHIMS.wasmtime], ['amd64']), /wasmtime 0\.6\.0 is affected by GHSA-cc25-vq59-rcjx[\s\S]*--accept-advisory GHSA-cc25-vq59-rcjx/);
    const [source] = (await provideShims(await shimSupply({ ...options, 'accept-advisory': [GHSA] }, [SHIMS.wasmtime], ['amd64'], {}), [SHIMS.wasmtime], ['amd64']))('amd64');
    expect(source!.version).toBe('0.6.0');
  });
});

describe('digests and advisories: every public source is read, any disagreement or advisory refuses', () => {
  it('0.6.0 (no API digest, no SHA256SUMS, affected by the advisory) is refused with the advisory, the flag that accepts it and how to pin', async () => {
    const cacheDir = await freshCache();
    const err = await refused(cacheDir, () => wasmtime('0.6.0')(cacheDir), /wasmtime 0\.6\.0 is affected by GHSA-cc25-vq59-rcjx \(CVE-2026-47218, critical\): Forged Wasmtime precompiled OCI layer bypasses runwasi WASI sandbox; fixed in 0\.6\.1[\s\S]*Also: no sha256 to verify containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz \(wasmtime 0\.6\.0, amd64\) against: GitHub reports no digest for it \(uploaded 2025-05-20, before GitHub computed asset digests in June 2025\)/);
    expect(err.fix).toMatch(/--shim-version wasmtime=0\.6\.1/);
    expect(err.fix).toMatch(/--accept-advisory GHSA-cc25-vq59-rcjx/);
    expect(err.fix).toMatch(/--sha256 wasmtime\/amd64=HEX/);
    // Accepted (by its CVE id) and pinned, it installs.
    const [a] = await wasmtime('0.6.0', 'amd64', { acceptAdvisories: ['CVE-2026-47218'], digests: { 'wasmtime/amd64': sha256(good) } })(cacheDir);
    expect(a!.digestSource).toBe('pinned with --sha256 wasmtime/amd64');
  });

  it('a SHA256SUMS that names other bytes is refused, naming it and the API digest', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.6.2')(cacheDir), /differs between sources: GitHub API asset digest says [0-9a-f]{64}; the release's SHA256SUMS says e{64}/);
  });

  it("a Spin Shim yaml that names other bytes is refused, naming it and the API digest", async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => releasesFor(cacheDir, { versions: { spin: '0.90.1' } }).provide([SHIMS.spin], ['amd64']), new RegExp(`differs between sources: GitHub API asset digest says [0-9a-f]{64}; the release's Shim yaml runtime-class-manager-shim-v1alpha1-v0\\.90\\.1\\.yaml says ${sha256(Buffer.from('other bytes'))}`));
  });

  it("a catalog pin beats the release: wasmedge 0.6.1 served with other bytes (API digest and SHA256SUMS agree with them) is refused, both named", async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => releasesFor(cacheDir).provide([SHIMS.wasmedge], ['amd64']), /differs between sources: kubewasm's catalog \(github\.com\/siderolabs\/extensions@654609939c43551f7073dc42f6f04a100fd01ff1:container-runtime\/vars\.yaml\) says 99f7f56c64a0524ea1ec3922cd095b108825a513d0212db75a5dfb08ba196cce; GitHub API asset digest says [0-9a-f]{64}; the release's SHA256SUMS says [0-9a-f]{64}/);
  });

  it('spin 0.25.1 (the default) with its real API digests but other bytes: the catalog and API agree, the Shim yaml written from the bytes does not', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => releasesFor(cacheDir).provide([SHIMS.spin], ['amd64']), /kubewasm's catalog \(github\.com\/siderolabs\/extensions@[0-9a-f]{40}:container-runtime\/vars\.yaml\) says 1755fbeb2dec7d026faf8c37031d8a025975f5e194b782da10188206a386d6e4; GitHub API asset digest says 1755fbeb2dec7d026faf8c37031d8a025975f5e194b782da10188206a386d6e4; the release's Shim yaml runtime-class-manager-shim-v1alpha1-v0\.25\.1\.yaml says [0-9a-f]{64}/);
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
      expect(dl).toHaveLength(2); // SHA256SUMS and the archive
      expect(dl.every((r) => r.authorization === undefined)).toBe(true);
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
    await refused(cacheDir, () => releasesFor(cacheDir, { versions: { wasmedge: '0.7.0' } }).provide([SHIMS.wasmedge], ['arm64']), /the wasmedge shim 0\.7\.0 has no build for arm64 nodes \(only for amd64\)/);
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
    await refused(cacheDir, () => wasmtime('0.5.0', 'amd64', { acceptAdvisories: [GHSA] })(cacheDir), /no sha256 to verify containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz \(wasmtime 0\.5\.0, amd64\) against: GitHub reports no digest for it \(uploaded 2024-12-05, before GitHub computed asset digests in June 2025\)[\s\S]*--sha256 wasmtime\/amd64=HEX/);
    const [a] = await wasmtime('0.5.0', 'amd64', { digests: { 'wasmtime/amd64': sha256(good) }, acceptAdvisories: [GHSA] })(cacheDir);
    expect(a!.digestSource).toBe('pinned with --sha256 wasmtime/amd64');
  });

  it('a pin that contradicts the API digest', async () => {
    const cacheDir = await freshCache();
    await refused(cacheDir, () => wasmtime('0.6.1', 'amd64', { digests: { 'wasmtime/amd64': 'f'.repeat(64) } })(cacheDir), /differs between sources: pinned with --sha256 wasmtime\/amd64 says f{64}; GitHub API asset digest says [0-9a-f]{64}; the release's SHA256SUMS says [0-9a-f]{64}/);
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
    await refused(cacheDir, () => releasesFor(cacheDir, standInSpin).provide([SHIMS.spin], ['amd64']), /GitHub API secondary rate limit hit \(too many requests at once\) \(\d+ of 10000 requests used, resource "core"\), HTTP 429; GitHub asks to retry after 42 s/);
  });

  it('no route to the API', async () => {
    const cacheDir = await freshCache();
    const closed = await closedPort();
    await refused(cacheDir, () => releasesFor(cacheDir, {}, { kind: 'github', apiUrl: `http://127.0.0.1:${closed}` }).provide([SHIMS.wasmtime], ['amd64']), /no answer from the GitHub API \(.*ECONNREFUSED/);
  });
});
