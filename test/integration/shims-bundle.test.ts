// Air gap: `kubewasm bundle` against the loopback GitHub, then installs from
// the bundle with the server gone, and from a github.com-style mirror with the
// bundle's lock. Tampered or hostile bundles are refused and leave nothing.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { list } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../cmd/commands/bundle.js';
import { shimSupply } from '../../cmd/flags.js';
import { KubewasmError, UsageError } from '../../lib/errors.js';
import { provideShims } from '../../lib/node/shim-supply.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { BUNDLE_LOCK_NAME, parseLock, serializeLock } from '../../lib/shims/lockfile.js';
import { ShimReleases, type AnyShimOrigin, type Pins } from '../../lib/shims/releases.js';
import { releaseFromFixture, runwasiArchive, runwasiAssetName, sha256, spinArchive, spinAssetName, standInShim, start, tarball, type GithubServer, type ReleaseFixture } from '../../scripts/lab/support/github-server.js';

// Stand-in binaries: this file checks bytes end to end and never runs a shim.
const WASMTIME = standInShim('containerd-shim-wasmtime-v1', '0.6.1');
const SPIN = standInShim('containerd-shim-spin-v2', '0.90.0');
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/github/${name}`, import.meta.url), 'utf8')) as ReleaseFixture;
const archives = {
  wasmtimeAmd: runwasiArchive('wasmtime', WASMTIME, { signature: 'x86_64' }),
  wasmtimeArm: runwasiArchive('wasmtime', WASMTIME, { signature: 'aarch64' }),
  spinAmd: spinArchive(SPIN),
  spinArm: spinArchive(standInShim('containerd-shim-spin-v2', '0.90.0 aarch64')),
};

let server: GithubServer;
let scratch: string;
let bundleFile: string;
let amd64Only: string;

const sink = (into: { text: string }) => new Writable({ write: (c, _e, cb) => ((into.text += String(c)), cb()) });
function ctx(options: Record<string, string | boolean | string[]>) {
  const out = { text: '' };
  const err = { text: '' };
  return { ctx: { options, args: [], stdout: sink(out), stderr: sink(err) }, out, err };
}
let n = 0;
const freshDir = () => mkdtemp(path.join(scratch, `d${n++}-`));
const files = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => !e.isDirectory())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    : [];
async function refused(cacheDir: string, run: () => Promise<unknown>, message: RegExp): Promise<void> {
  const err = await run().then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubewasmError);
  expect((err as Error).message).toMatch(message);
  expect(files(cacheDir)).toEqual([]);
}
const releases = (origin: AnyShimOrigin, cacheDir: string, pins: Pins = {}) => new ShimReleases({ origin, cacheDir, pins });

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'kubewasm-bundle-'));
  const wasmtimeArchives = { [runwasiAssetName('wasmtime', 'x86_64')]: archives.wasmtimeAmd, [runwasiAssetName('wasmtime', 'aarch64')]: archives.wasmtimeArm };
  server = await start({
    releases: [
      // Real shapes (digests and SHA256SUMS of the stand-in bytes); 0.6.0 listed first, `latest` is 0.6.1.
      releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.0.json'), { archives: wasmtimeArchives }),
      releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.1.json'), { archives: wasmtimeArchives }),
      // spin: the v0.25.1 shape under a version no public pin names (these bytes are a stand-in's).
      releaseFromFixture(fixture('spin-containerd-shim-spin-v0.25.1.json'), { tag: 'v0.90.0', archives: { [spinAssetName('x86_64')]: archives.spinAmd, [spinAssetName('aarch64')]: archives.spinArm } }),
    ],
  });
  bundleFile = path.join(scratch, 'bundle.tar');
  amd64Only = path.join(scratch, 'amd64.tar');
});
afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('kubewasm bundle', () => {
  it('writes the verified archives of wasmtime and spin for amd64 and arm64, and a lock file', async () => {
    const { ctx: c, out, err } = ctx({ shims: 'wasmtime,spin', 'shim-version': ['wasmtime=latest,spin=latest'], output: bundleFile, 'github-api-url': server.apiUrl, 'cache-dir': await freshDir() });
    expect(await bundle.run(c)).toBe(0);
    expect(out.text).toMatch(/^wasmtime 0\.6\.1 amd64: containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz sha256 [0-9a-f]{64}$/m);
    expect(out.text).toMatch(/^spin 0\.90\.0 arm64: containerd-shim-spin-v2-linux-aarch64\.tar\.gz sha256 [0-9a-f]{64}$/m);
    expect(out.text).toMatch(/wrote .*bundle\.tar/);
    expect(err.text).toMatch(/sha256 verified/);

    const entries: string[] = [];
    await list({ file: bundleFile, onReadEntry: (e) => entries.push(e.path) });
    expect(entries).toEqual([BUNDLE_LOCK_NAME, ...entries.slice(1)]);
    expect(entries.slice(1).sort()).toEqual(Object.values(archives).map((a) => `sha256/${sha256(a)}`).sort());
    expect(readdirSync(scratch).filter((f) => f.includes('.tmp-'))).toEqual([]);

    // The lock records what `latest` resolved to: the version, the tag and the verified digest.
    const chunks: Buffer[] = [];
    await list({ file: bundleFile, onReadEntry: (e) => (e.path === BUNDLE_LOCK_NAME ? e.on('data', (d: Buffer) => chunks.push(d)) : undefined) });
    const lock = parseLock(Buffer.concat(chunks).toString(), 'bundle');
    expect(lock.entries.map((e) => `${e.shim} ${e.arch} ${e.version} ${e.tag} ${e.sha256}`)).toEqual([
      `spin amd64 0.90.0 v0.90.0 ${sha256(archives.spinAmd)}`,
      `spin arm64 0.90.0 v0.90.0 ${sha256(archives.spinArm)}`,
      `wasmtime amd64 0.6.1 containerd-shim-wasmtime/v0.6.1 ${sha256(archives.wasmtimeAmd)}`,
      `wasmtime arm64 0.6.1 containerd-shim-wasmtime/v0.6.1 ${sha256(archives.wasmtimeArm)}`,
    ]);
    expect(lock.entries.find((e) => e.shim === 'wasmtime')?.digestSource).toBe("GitHub API asset digest + the release's SHA256SUMS");

    const { ctx: c2 } = ctx({ shims: 'wasmtime', arch: 'amd64', output: amd64Only, 'github-api-url': server.apiUrl, 'cache-dir': await freshDir() });
    expect(await bundle.run(c2)).toBe(0);
  });

  it('refuses bad usage', async () => {
    await expect(bundle.run(ctx({ shims: 'wasmtime' }).ctx)).rejects.toThrow(UsageError);
    await expect(bundle.run(ctx({ output: 'x.tar', 'shim-dir': '/tmp' }).ctx)).rejects.toThrow(/--shim-dir has no use with kubewasm bundle/);
    await expect(bundle.run(ctx({ output: 'x.tar', arch: 'riscv64' }).ctx)).rejects.toThrow(/unsupported architecture 'riscv64'/);
  });
});

describe('installing from a bundle, with no server', () => {
  beforeAll(async () => {
    await server.close(); // from here on nothing is reachable: the bundle must be enough
  });

  it('gives the same verified binaries', async () => {
    const cacheDir = await freshDir();
    const artifacts = await releases({ kind: 'bundle', file: bundleFile }, cacheDir).provide([SHIMS.wasmtime, SHIMS.spin], ['amd64', 'arm64']);
    expect(artifacts.map((a) => `${a.shim.name} ${a.version} ${a.arch}`)).toEqual(['wasmtime 0.6.1 amd64', 'wasmtime 0.6.1 arm64', 'spin 0.90.0 amd64', 'spin 0.90.0 arm64']);
    for (const a of artifacts) {
      expect(a.digestSource).toMatch(/^bundle lock /);
      expect(sha256(readFileSync(a.archivePath))).toBe(a.sha256);
    }
    expect(readFileSync(artifacts[0]!.binaryPath).equals(WASMTIME)).toBe(true);
    expect(readFileSync(artifacts[2]!.binaryPath).equals(SPIN)).toBe(true);
  });

  it('feeds node install (--bundle) for this machine', async () => {
    const supply = await shimSupply({ bundle: bundleFile, 'cache-dir': await freshDir() }, [SHIMS.spin], ['amd64'], {});
    const [source] = (await provideShims(supply, [SHIMS.spin], ['amd64']))('amd64');
    expect(source).toMatchObject({ shim: SHIMS.spin, version: '0.90.0' });
  });

  it('says what the bundle holds when it lacks an arch', async () => {
    const cacheDir = await freshDir();
    await refused(cacheDir, () => releases({ kind: 'bundle', file: amd64Only }, cacheDir).provide([SHIMS.wasmtime], ['arm64']), /the bundle has no wasmtime shim for arm64[\s\S]*this one holds: wasmtime 0\.6\.1 amd64/);
  });

  it('refuses a version pin the bundle does not hold', async () => {
    const cacheDir = await freshDir();
    await refused(cacheDir, () => releases({ kind: 'bundle', file: bundleFile }, cacheDir, { versions: { wasmtime: '0.5.0' } }).provide([SHIMS.wasmtime], ['amd64']), /the bundle holds wasmtime 0\.6\.1, not the 0\.5\.0 asked for/);
  });

  it('refuses a bundle whose archive was altered', async () => {
    const tampered = path.join(scratch, 'tampered.tar');
    const bytes = Buffer.from(readFileSync(bundleFile));
    const at = bytes.indexOf(archives.wasmtimeAmd.subarray(100, 132));
    expect(at).toBeGreaterThan(0);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(tampered, bytes);
    const cacheDir = await freshDir();
    await refused(cacheDir, () => releases({ kind: 'bundle', file: tampered }, cacheDir).provide([SHIMS.wasmtime], ['amd64']), /sha256 mismatch in the bundle: sha256\/[0-9a-f]{64} has sha256 [0-9a-f]{64}/);
  });

  it('refuses a hostile bundle (an entry climbing out with ..)', async () => {
    const lock = serializeLock([{ shim: 'wasmtime', version: '0.6.1', arch: 'amd64', repository: 'containerd/runwasi', tag: 'containerd-shim-wasmtime/v0.6.1', asset: runwasiAssetName('wasmtime', 'x86_64'), sha256: sha256(archives.wasmtimeAmd), size: archives.wasmtimeAmd.length }]);
    const hostile = path.join(scratch, 'hostile.tar');
    writeFileSync(hostile, tarball([{ path: BUNDLE_LOCK_NAME, data: Buffer.from(lock), mode: 0o644 }, { path: '../evil', data: Buffer.from('x') }, { path: `sha256/${sha256(archives.wasmtimeAmd)}`, data: archives.wasmtimeAmd }], false));
    const cacheDir = await freshDir();
    await refused(cacheDir, () => releases({ kind: 'bundle', file: hostile }, cacheDir).provide([SHIMS.wasmtime], ['amd64']), /refused the archive: entry '\.\.\/evil' climbs out of the archive/);
    expect(existsSync(path.join(scratch, 'evil'))).toBe(false);
  });

  it('refuses a file that is not a bundle', async () => {
    const cacheDir = await freshDir();
    const notBundle = path.join(scratch, 'not-a-bundle.tar');
    writeFileSync(notBundle, tarball([{ path: 'README', data: Buffer.from('hi') }], false));
    await refused(cacheDir, () => releases({ kind: 'bundle', file: notBundle }, cacheDir).provide([SHIMS.wasmtime], ['amd64']), /not a kubewasm bundle: no kubewasm-bundle\.lock\.json inside/);
  });
});

describe('a github.com-style mirror', () => {
  let mirror: GithubServer;
  beforeAll(async () => {
    mirror = await start({
      releases: [{ repo: 'containerd/runwasi', tag: 'containerd-shim-wasmtime/v0.6.1', assets: [{ name: runwasiAssetName('wasmtime', 'x86_64'), data: archives.wasmtimeAmd }] }],
    });
  });
  afterAll(() => mirror.close());

  it('installs with the digests of a lock file, following the redirect to the file host', async () => {
    const lockText = (await (async () => {
      const chunks: Buffer[] = [];
      await list({ file: bundleFile, onReadEntry: (e) => (e.path === BUNDLE_LOCK_NAME ? e.on('data', (c: Buffer) => chunks.push(c)) : undefined) });
      return Buffer.concat(chunks).toString();
    })());
    const lock = parseLock(lockText, 'bundle');
    const [a] = await releases({ kind: 'mirror', url: mirror.apiUrl }, await freshDir(), { lock, lockSource: 'bundle.lock' }).provide([SHIMS.wasmtime], ['amd64']);
    expect(a!.digestSource).toBe('lock file bundle.lock');
    expect(readFileSync(a!.binaryPath).equals(WASMTIME)).toBe(true);
    expect(mirror.requests.map((r) => `${r.server} ${r.status} ${r.path.split('?')[0]}`)).toEqual([
      'api 302 /containerd/runwasi/releases/download/containerd-shim-wasmtime/v0.6.1/containerd-shim-wasmtime-x86_64-linux-musl.tar.gz',
      `download 200 /github-production-release-asset/${mirror.requests[1]!.path.split('/')[2]}/containerd-shim-wasmtime-x86_64-linux-musl.tar.gz`,
    ]);
  });

  it('refuses without a digest, and cannot tell "latest"', async () => {
    const cacheDir = await freshDir();
    await refused(cacheDir, () => releases({ kind: 'mirror', url: mirror.apiUrl }, cacheDir).provide([SHIMS.wasmtime], ['amd64']), /a mirror carries no digests and nothing is pinned[\s\S]*--lock FILE/);
    await expect(releases({ kind: 'mirror', url: mirror.apiUrl }, cacheDir, { versions: { wasmtime: 'latest' } }).provide([SHIMS.wasmtime], ['amd64'])).rejects.toThrow(/a mirror cannot tell which wasmtime version is the latest/);
  });

  it('refuses bytes that do not match the pin', async () => {
    const cacheDir = await freshDir();
    await refused(cacheDir, () => releases({ kind: 'mirror', url: mirror.apiUrl }, cacheDir, { digests: { 'wasmtime/amd64': 'e'.repeat(64) } }).provide([SHIMS.wasmtime], ['amd64']), /sha256 mismatch for containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz: expected e{64} \(pinned with --sha256 wasmtime\/amd64\)/);
  });
});

describe('a directory of ready binaries (--shim-dir) as an origin', () => {
  it('gives the file itself, its own sha256 as the digest, and refuses a file changed after it was resolved', async () => {
    const dir = await freshDir();
    writeFileSync(path.join(dir, 'containerd-shim-wasmtime-v1'), WASMTIME, { mode: 0o755 });
    const cacheDir = await freshDir();
    const r = releases({ kind: 'directory', dir }, cacheDir);
    const [a] = await r.provide([SHIMS.wasmtime], ['amd64']);
    expect(a).toMatchObject({ version: 'unknown', packaging: 'binary', sha256: sha256(WASMTIME), binarySha256: sha256(WASMTIME) });
    expect(a!.digestSource).toBe(`the file in ${dir} (you vouch for it)`);
    expect(readFileSync(a!.binaryPath).equals(WASMTIME)).toBe(true);

    const other = await freshDir();
    const [resolved] = await releases({ kind: 'directory', dir }, other).resolve([SHIMS.wasmtime], ['amd64']);
    writeFileSync(path.join(dir, 'containerd-shim-wasmtime-v1'), Buffer.from(WASMTIME.toString().replace('stand-in', 'stand-up'))); // same size, other bytes
    await refused(other, () => releases({ kind: 'directory', dir }, other).fetch(resolved!), /sha256 mismatch for containerd-shim-wasmtime-v1: expected [0-9a-f]{64} \(the file in .* \(you vouch for it\)\), got [0-9a-f]{64}/);
    await refused(await freshDir(), () => releases({ kind: 'directory', dir }, cacheDir).provide([SHIMS.spin], ['amd64']), /no spin shim binary 'containerd-shim-spin-v2' in the shim directory/);
  });
});
