// A new user's first command, on the lab: `kubewasm install node-1` with no
// source flag but --github-api-url, pointing at the loopback GitHub stand-in
// serving a release shaped like runwasi's v0.6.1 (API digests and SHA256SUMS)
// whose x86_64 archive is the lab's own shim tarball (scripts/lab/shim-tarball).
// The catalog pins no wasmtime 0.6.1 archive, so the stand-in's bytes are
// verified by what the release itself publishes. The same with
// --shim-version wasmtime=0.6.0 is refused for GHSA-cc25-vq59-rcjx.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEASES } from '../../lib/shims/catalog.js';
import { releaseFromFixture, runwasiArchive, runwasiAssetName, sha256, start, type GithubServer, type ReleaseFixture } from '../../scripts/lab/support/github-server.js';
import { requireRoot } from '../../scripts/lab/support/requirements.js';
import { kubewasm } from '../support/kubewasm-cli.js';
import { LAB_SCRIPT, labEnv, type LabEnv } from '../support/lab.js';
import { LAB_CONTAINERDS } from './global-setup.js';

const root = new URL('../../', import.meta.url).pathname;
const NODE = 'kubewasm-lab-node-1';
const SHIM = '/usr/local/bin/containerd-shim-wasmtime-v1';
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/github/${name}`, import.meta.url), 'utf8')) as ReleaseFixture;

describe('kubewasm install from a GitHub release shaped like runwasi v0.6.1 (lab node-1)', () => {
  let env: LabEnv;
  let server: GithubServer;
  let tarball: Buffer;
  let cacheDir: string;
  const run = (args: string[]) => kubewasm([...args, '--kubeconfig', env.kubeconfig], { CI: '1' });
  const onNode = (script: string) => execFileSync('docker', ['exec', NODE, 'sh', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const uninstall = () => execFileSync(process.execPath, [path.join(root, 'dist/cmd/kubewasm.js'), 'uninstall', '--force', '--kubeconfig', env.kubeconfig, '--timeout', '3m'], { stdio: 'ignore' });

  beforeAll(async () => {
    requireRoot();
    env = labEnv();
    // The stand-in's bytes are the lab's: the version served must be one no public pin names.
    expect(RELEASES.wasmtime.defaultVersion).toBe('0.6.1');
    expect(RELEASES.wasmtime.knownDigests['0.6.1'], 'the catalog now pins wasmtime 0.6.1: serve a version it does not pin').toBeUndefined();
    tarball = readFileSync(env.shimTarball);
    const x86 = runwasiAssetName('wasmtime', 'x86_64');
    const arm = runwasiAssetName('wasmtime', 'aarch64');
    const archives = { [x86]: tarball, [arm]: runwasiArchive('wasmtime', readFileSync(env.shimBinary), { signature: 'aarch64' }) };
    server = await start({
      rateLimit: 10_000,
      releases: [
        releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.0.json'), { archives }),
        releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.1.json'), { archives }),
      ],
    });
    cacheDir = mkdtempSync(path.join(os.tmpdir(), 'kubewasm-shims-release-'));
    uninstall(); // a clean start: nothing of kubewasm's from an earlier, interrupted run
  }, 1_800_000);

  afterAll(async () => {
    await server?.close();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
    if (env) {
      uninstall();
      // uninstall removed the smoke image the lab preloads; `up` (idempotent) loads what is missing again.
      execFileSync(LAB_SCRIPT, ['up', '--containerd', LAB_CONTAINERDS], { stdio: 'ignore' });
    }
  }, 1_800_000);

  it('installs with only --github-api-url: resolved from the release, checked against its API digest and SHA256SUMS, converged and verified', async () => {
    const result = await run(['install', 'node-1', '--github-api-url', server.apiUrl, '--cache-dir', cacheDir, '--timeout', '5m']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/wasmtime 0\.6\.1 amd64: containerd-shim-wasmtime-x86_64-linux-musl\.tar\.gz \(containerd-shim-wasmtime\/v0\.6\.1\), sha256 [0-9a-f]{12}… from GitHub API asset digest \+ the release's SHA256SUMS/);
    expect(result.stderr).toContain('node-1: ✓ ready: wasmtime');
    expect(result.stdout).toMatch(/✓ RuntimeClass wasmtime: printed "hello from kubewasm wasm" on node-1/);
    // The binary on the node is the one inside the served archive.
    expect(onNode(`sha256sum ${SHIM}`).split(' ')[0]).toBe(sha256(readFileSync(env.shimBinary)));
    // The archive was fetched from the stand-in's download host, following the API's redirect.
    expect(server.requests.some((r) => r.server === 'download' && r.path.includes('containerd-shim-wasmtime-x86_64-linux-musl.tar.gz') && r.status === 200)).toBe(true);
    expect(server.requests.some((r) => r.server === 'download' && r.path.includes('SHA256SUMS') && r.status === 200)).toBe(true);
  });

  it('--shim-version wasmtime=0.6.0 is refused with the advisory id and the flag that accepts it, before anything reaches the cluster', async () => {
    const before = onNode(`sha256sum ${SHIM}`);
    const result = await run(['install', 'node-1', '--github-api-url', server.apiUrl, '--shim-version', 'wasmtime=0.6.0', '--cache-dir', cacheDir, '--timeout', '2m']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/wasmtime 0\.6\.0 is affected by GHSA-cc25-vq59-rcjx \(CVE-2026-47218, critical\)/);
    expect(result.stderr).toContain('--accept-advisory GHSA-cc25-vq59-rcjx');
    expect(result.stderr).toContain('--shim-version wasmtime=0.6.1');
    expect(onNode(`sha256sum ${SHIM}`)).toBe(before); // node-1 keeps the shim it had
  });
});
