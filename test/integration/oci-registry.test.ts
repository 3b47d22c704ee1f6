// kubewasm's OCI push against a real registry (distribution v3, built by
// scripts/lab/build/registry.sh) with TLS from a test CA and htpasswd users:
// credentials from a docker config.json, nothing sent twice, and a wrong
// password, an unknown CA and an unreachable registry each failing with a
// clear error before any tag exists (checked through the registry's API).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubewasmError } from '../../lib/errors.js';
import { buildInstallerImage, cachedImageArchive } from '../../lib/installer-image/build.js';
import { nativeImageSpec, smokeImageSpec } from '../../lib/installer-image/smoke.js';
import { pushArchives, type PushOptions } from '../../lib/oci/registry-push.js';
import { parseRegistryTarget } from '../../lib/oci/registry-ref.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { writeStandInShim } from '../../scripts/lab/support/containerd.js';
import { dockerConfig, startRegistry, type Registry } from '../../scripts/lab/support/registry.js';
import { requireFile } from '../../scripts/lab/support/requirements.js';
import { kubewasm } from '../support/kubewasm-cli.js';

const root = new URL('../../', import.meta.url).pathname;
const MANIFEST_ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';

describe('kubewasm image push to a real registry (TLS, htpasswd)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-registry-'));
  const cache = path.join(work, 'cache');
  let registry: Registry;
  let smokeArchives: string[] = [];
  let goodConfig = '';
  const figures: string[] = [];

  beforeAll(async () => {
    registry = await startRegistry({ dir: path.join(work, 'registry') });
    goodConfig = path.join(work, 'docker', 'config.json');
    mkdirSync(path.dirname(goodConfig), { recursive: true });
    writeFileSync(goodConfig, dockerConfig(registry.address, registry.users[0]!));
    smokeArchives = [await cachedImageArchive(smokeImageSpec(), cache), await cachedImageArchive(nativeImageSpec(), cache)];
  }, 60_000);
  afterAll(async () => {
    if (figures.length) console.log(`\n${figures.join('\n')}\n`);
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const push = (repo: string, extra: Partial<PushOptions> = {}) =>
    pushArchives({ target: parseRegistryTarget(`${registry.address}/${repo}`), archives: smokeArchives, registryConfig: goodConfig, caFile: registry.caFile, ...extra });

  /** The repository's tags, each with whether its manifest and everything it references can be fetched. */
  async function tagsOf(repo: string): Promise<Record<string, boolean>> {
    const list = await registry.api(`/v2/${repo}/tags/list`);
    if (list.status === 404) return {};
    const out: Record<string, boolean> = {};
    for (const tag of (JSON.parse(list.body) as { tags?: string[] | null }).tags ?? []) out[tag] = await complete(repo, tag);
    return out;
  }
  async function complete(repo: string, reference: string): Promise<boolean> {
    const m = await registry.api(`/v2/${repo}/manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (m.status !== 200) return false;
    const body = JSON.parse(m.body) as { manifests?: Array<{ digest: string }>; config?: { digest: string }; layers?: Array<{ digest: string }> };
    for (const child of body.manifests ?? []) if (!(await complete(repo, child.digest))) return false;
    for (const blob of [...(body.config ? [body.config] : []), ...(body.layers ?? [])]) {
      if ((await registry.api(`/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' })).status !== 200) return false;
    }
    return true;
  }
  const subRepos = async (prefix: string) => ((JSON.parse((await registry.api('/v2/_catalog')).body) as { repositories: string[] }).repositories ?? []).filter((r) => r.startsWith(`${prefix}/`));

  it('pushes the smoke images with docker config.json credentials under content-addressed tags; a second push sends no blob', async () => {
    const first = await push('team/kubewasm');
    expect(first.images.map((i) => i.reference)).toEqual([
      expect.stringMatching(new RegExp(`^${registry.address.replace(/\./g, '\\.')}/team/kubewasm/smoke:hello-[0-9a-f]{12}$`)),
      expect.stringMatching(/\/team\/kubewasm\/smoke:native-[0-9a-f]{12}$/),
    ]);
    for (const image of first.images) expect(image.reference.endsWith(image.digest.slice('sha256:'.length, 'sha256:'.length + 12))).toBe(true);
    expect(first.blobsUploaded).toBe(6); // a config and a layer each: smoke:hello, and smoke:native per platform (amd64, arm64)
    expect(first.blobsSkipped).toBe(0);
    const tags = await tagsOf('team/kubewasm/smoke');
    expect(Object.keys(tags).sort()).toEqual(first.images.map((i) => i.reference.split(':').pop()).sort());
    expect(Object.values(tags).every(Boolean)).toBe(true);
    // The registry serves the manifest under the tag with the digest kubewasm computed.
    const served = await registry.api(`/v2/team/kubewasm/smoke/manifests/${first.images[0]!.reference.split(':').pop()}`, { accept: MANIFEST_ACCEPT });
    expect(served.headers.get('docker-content-digest')).toBe(first.images[0]!.digest);

    const second = await push('team/kubewasm');
    expect(second.images).toEqual(first.images);
    expect(second.blobsUploaded).toBe(0);
    expect(second.blobsSkipped).toBe(6);
  });

  it('a wrong password fails with the registry, the user and what to do; nothing is pushed', async () => {
    const wrong = path.join(work, 'wrong.json');
    writeFileSync(wrong, dockerConfig(registry.address, { user: registry.users[0]!.user, password: 'not-the-password' }));
    const err = await push('wrongpass', { registryConfig: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubewasmError);
    expect((err as KubewasmError).what).toMatch(new RegExp(`registry ${registry.address} refused the credentials \\(401.*user kubewasm from ${wrong}`));
    expect((err as KubewasmError).fix).toContain(`docker login ${registry.address}`);
    expect(await subRepos('wrongpass')).toEqual([]);
  });

  it('no credentials at all: says the registry needs them and where kubewasm looks', async () => {
    const empty = path.join(work, 'empty.json');
    writeFileSync(empty, '{"auths":{}}\n');
    const err = (await push('nocreds', { registryConfig: empty }).catch((e: unknown) => e)) as KubewasmError;
    expect(err.what).toMatch(/needs credentials \(401\) and kubewasm has none/);
    expect(err.fix).toMatch(/docker login .*--registry-config/);
  });

  it('an unknown CA fails as an untrusted certificate, naming --ca-file; nothing is pushed', async () => {
    const err = (await push('unknownca', { caFile: undefined }).catch((e: unknown) => e)) as KubewasmError;
    expect(err).toBeInstanceOf(KubewasmError);
    expect(err.what).toMatch(/TLS certificate is signed by a CA this machine does not trust \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    expect(err.where).toBe(`https://${registry.address}`);
    expect(err.fix).toContain('--ca-file');
    expect(await subRepos('unknownca')).toEqual([]);
  });

  it('an unreachable registry fails as connection refused, where and what to do', async () => {
    const [host] = registry.address.split(':');
    const closed = `${host}:1`;
    const err = (await pushArchives({ target: parseRegistryTarget(`${closed}/x`), archives: smokeArchives, registryConfig: goodConfig, caFile: registry.caFile }).catch((e: unknown) => e)) as KubewasmError;
    expect(err).toBeInstanceOf(KubewasmError);
    expect(err.what).toBe('cannot connect to the registry: connection refused');
    expect(err.where).toBe(`https://${closed}`);
    expect(err.fix).toMatch(/registry runs; nothing was pushed/);
  });

  it('the installer image: cold push, then the same image again (figures)', async () => {
    requireFile(path.join(root, 'dist/cmd/node-installer.js'), 'npm run build');
    const shimDir = path.join(work, 'shims');
    mkdirSync(shimDir, { recursive: true });
    writeStandInShim(shimDir, SHIMS.wasmtime.binaryName);
    const built = await buildInstallerImage({ packageRoot: root, version: '0.0.0-test', shims: await shimsFromDir(shimDir, [SHIMS.wasmtime]) }, cache);
    const target = parseRegistryTarget(`${registry.address}/bench`);
    const cold = await pushArchives({ target, archives: [built.file], registryConfig: goodConfig, caFile: registry.caFile });
    const warm = await pushArchives({ target, archives: [built.file], registryConfig: goodConfig, caFile: registry.caFile });
    expect(cold.images[0]!.reference).toMatch(/\/bench\/node-installer:0\.0\.0-test-[0-9a-f]{12}$/);
    expect(cold.blobsUploaded).toBeGreaterThan(0);
    expect(warm.blobsUploaded).toBe(0);
    expect(warm.bytesSent).toBeLessThan(20_000); // manifests only
    expect(Object.values(await tagsOf('bench/node-installer'))).toEqual([true]);
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    figures.push(
      `installer image ${built.name}: archive ${mb(statSync(built.file).size)}, files ${mb(built.size)} uncompressed`,
      `push cold: ${cold.seconds.toFixed(2)} s, ${mb(cold.bytesSent)} sent, ${cold.blobsUploaded} blobs uploaded`,
      `push again: ${warm.seconds.toFixed(2)} s, ${warm.bytesSent} bytes sent, ${warm.blobsUploaded} blobs uploaded, ${warm.blobsSkipped} skipped`,
    );
  }, 300_000);

  it('the CLI: image build -o DIR writes the archives; image push --from pushes them and prints each reference; a wrong password exits 1', async () => {
    requireFile(path.join(root, 'dist/cmd/kubewasm.js'), 'npx tsc -p tsconfig.json');
    const shimDir = path.join(work, 'cli-shims');
    mkdirSync(shimDir, { recursive: true });
    writeStandInShim(shimDir, SHIMS.wasmtime.binaryName);
    const out = path.join(work, 'images');
    const built = await kubewasm(['image', 'build', '-o', out, '--shim-dir', shimDir, '--cache-dir', cache]);
    expect(built.stderr).toMatch(/installer image kubewasm\.io\/node-installer:\S+: \d+ MB/);
    expect(built.code).toBe(0);
    const archives = built.stdout.trim().split('\n');
    expect(archives).toHaveLength(3);
    expect(readdirSync(out).sort()).toEqual(archives.map((a) => path.basename(a)).sort());

    const from = archives.flatMap((a) => ['--from', a]);
    const pushed = await kubewasm(['image', 'push', `${registry.address}/cli`, ...from, '--registry-config', goodConfig, '--ca-file', registry.caFile]);
    expect(pushed.stderr).toMatch(/^pushed 3 image\(s\) in [\d.]+s: 8 blob\(s\) uploaded, 0 already there/); // a config and a layer each: installer (amd64), smoke:hello, smoke:native per platform
    expect(pushed.code).toBe(0);
    const refs = pushed.stdout.trim().split('\n');
    expect(refs.map((r) => r.replace(/-[0-9a-f]{12}$/, '-X'))).toEqual([`${registry.address}/cli/node-installer:0.1.0-X`, `${registry.address}/cli/smoke:hello-X`, `${registry.address}/cli/smoke:native-X`]);
    for (const ref of refs) {
      const [repo, tag] = ref.slice(registry.address.length + 1).split(':');
      expect(await complete(repo!, tag!), ref).toBe(true);
    }

    const wrong = path.join(work, 'wrong-cli.json');
    writeFileSync(wrong, dockerConfig(registry.address, { user: 'kubewasm', password: 'nope' }));
    const refused = await kubewasm(['image', 'push', `${registry.address}/cli-wrong`, ...from, '--registry-config', wrong, '--ca-file', registry.caFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused the credentials[\s\S]*fix: check the password: run docker login/);
    expect(refused.stdout).toBe('');
  }, 300_000);
});
