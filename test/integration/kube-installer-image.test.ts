// The node-installer image, built without Docker: its files run (the node
// binary with the libraries and loader from the image, the installer's
// modules, nsenter) in a chroot of the unpacked layer, and real containerd
// 1.6 and 2.2 import the archive, as `ctr -n k8s.io images import` does on a node.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstallerImage, cachedImageArchive } from '../../lib/installer-image/build.js';
import { nativeImageSpec, smokeImageSpec, SMOKE_IMAGE, NATIVE_IMAGE } from '../../lib/installer-image/smoke.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { CONTAINERD_BUILDS, testContainerd, writeStandInShim } from '../../scripts/lab/support/containerd.js';
import { requireFile, requireRoot } from '../../scripts/lab/support/requirements.js';

const root = new URL('../../', import.meta.url).pathname;
const CHROOT = '/usr/sbin/chroot';

/** Unpacks the single layer of an OCI image-layout archive into `dir`. */
function unpack(archive: string, dir: string): { config: { Entrypoint: string[]; Env: string[] } } {
  const layout = mkdtempSync(path.join(tmpdir(), 'kubewasm-oci-'));
  execFileSync('tar', ['-xf', archive, '-C', layout]);
  const blob = (digest: string) => path.join(layout, 'blobs', 'sha256', digest.replace('sha256:', ''));
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', blob(manifest.layers[0]!.digest), '-C', dir]);
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  rmSync(layout, { recursive: true, force: true });
  return config;
}

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
    built = await buildInstallerImage({ packageRoot: root, version: '0.0.0-test', shims }, cache);
    buildMs = Date.now() - t;
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is named by its content and cached: a second build of the same inputs reuses the archive', async () => {
    expect(built.name).toMatch(/^kubewasm\.io\/node-installer:0\.0\.0-test-[0-9a-f]{12}$/);
    expect(built.cached).toBe(false);
    const shims = await shimsFromDir(path.join(work, 'shims'), [SHIMS.wasmtime]);
    const again = await buildInstallerImage({ packageRoot: root, version: '0.0.0-test', shims }, cache);
    expect(again).toMatchObject({ name: built.name, file: built.file, cached: true });
    console.log(`installer image: ${(built.size / 1e6).toFixed(1)} MB of files, archive ${(statSync(built.file).size / 1e6).toFixed(1)} MB, built in ${(buildMs / 1000).toFixed(1)} s`);
  });

  it('its node runs the installer from the image alone (chroot): modules, libraries, loader, verified shims', () => {
    const config = unpack(built.file, rootfs);
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/node', '/app/dist/cmd/node-installer.js']);
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', KUBEWASM_SHIMS: 'wasmtime', KUBEWASM_IMAGE: built.name };
    const out = execFileSync(CHROOT, [rootfs, ...config.config.Entrypoint, '--self-check'], { env, encoding: 'utf8' });
    const check = JSON.parse(out) as { node: string; shims: Array<{ name: string; sha256: string }> };
    expect(check.node).toBe(process.version);
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

  it.each([['1.6'], ['2.2']] as const)('containerd %s imports it and the smoke images into k8s.io', async (version) => {
    const containerd = testContainerd(CONTAINERD_BUILDS[version]);
    try {
      containerd.start();
      const smoke = await cachedImageArchive(smokeImageSpec(), cache);
      const native = await cachedImageArchive(nativeImageSpec(), cache);
      for (const file of [built.file, smoke, native]) execFileSync(containerd.ctr, ['--address', containerd.socket, '-n', 'k8s.io', 'images', 'import', file], { stdio: 'pipe' });
      const names = execFileSync(containerd.ctr, ['--address', containerd.socket, '-n', 'k8s.io', 'images', 'ls', '-q'], { encoding: 'utf8' }).split('\n');
      expect(names).toEqual(expect.arrayContaining([built.name, SMOKE_IMAGE, NATIVE_IMAGE]));
    } finally {
      containerd.cleanup();
    }
  });
});
