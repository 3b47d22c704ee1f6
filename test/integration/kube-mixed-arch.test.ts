// `kubewasm install` on a cluster with amd64 and arm64 nodes, against a real
// kube-apiserver (Node objects whose status says their architecture; no
// kubelet, so nothing converges) and the loopback GitHub stand-in serving a
// release shaped like runwasi's v0.6.1 (x86_64 and aarch64 archives,
// SHA256SUMS): each architecture's archive is downloaded once however many
// nodes have it, the DaemonSet runs one image whose index has a platform per
// architecture, each carrying its own shim (the arm64 one checked by running
// that platform's installer under qemu-aarch64-static), and `status` shows
// every node's architecture and the shim sha256 it reports.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1DaemonSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installerArchivePath } from '../../lib/installer-image/build.js';
import { Kube, loadKubeConfig } from '../../lib/kube/client.js';
import { install, type ClusterEvent } from '../../lib/kube/install.js';
import { ANNOTATIONS, INSTALLER, NAMESPACE } from '../../lib/kube/names.js';
import { clusterStatus, nodeStatus, statusTable } from '../../lib/kube/status.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { releaseFromFixture, runwasiArchive, runwasiAssetName, sha256, standInShim, start, type GithubServer, type ReleaseFixture } from '../../scripts/lab/support/github-server.js';
import { IMAGE_INPUTS, requireImageInputs, requireProgram } from '../../scripts/lab/support/requirements.js';
import { createNode, startApiserver, type TestApiserver } from '../support/apiserver.js';
import { layoutPlatforms, unpackPlatform } from '../support/oci-layout.js';

const root = new URL('../../', import.meta.url).pathname;
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/github/${name}`, import.meta.url), 'utf8')) as ReleaseFixture;
const NODES = { 'amd-1': 'amd64', 'amd-2': 'amd64', 'arm-1': 'arm64', 'arm-2': 'arm64' } as const;

describe('install on a mixed amd64 + arm64 cluster (real kube-apiserver, loopback GitHub)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-mixed-'));
  const cacheDir = path.join(work, 'cache');
  const binary = { amd64: standInShim(SHIMS.wasmtime.binaryName, '0.6.1-x86_64'), arm64: standInShim(SHIMS.wasmtime.binaryName, '0.6.1-aarch64') };
  let api: TestApiserver;
  let github: GithubServer;
  let kube: Kube;
  const events: ClusterEvent[] = [];
  let failure: Error | undefined;

  beforeAll(async () => {
    requireImageInputs();
    api = await startApiserver();
    for (const [name, architecture] of Object.entries(NODES)) {
      createNode(api, name);
      const nodeInfo = { architecture, operatingSystem: 'linux', kubeletVersion: 'v1.34.4', containerRuntimeVersion: 'containerd://2.2.9', kernelVersion: '6.1.0', osImage: 'Debian GNU/Linux 12', machineID: name, systemUUID: name, bootID: name, kubeProxyVersion: '' };
      api.kubectl(['patch', 'node', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { nodeInfo } })]);
    }
    const archives = { [runwasiAssetName('wasmtime', 'x86_64')]: runwasiArchive('wasmtime', binary.amd64), [runwasiAssetName('wasmtime', 'aarch64')]: runwasiArchive('wasmtime', binary.arm64) };
    github = await start({ rateLimit: 10_000, releases: [releaseFromFixture(fixture('runwasi-containerd-shim-wasmtime-v0.6.1.json'), { archives })] });
    kube = new Kube(loadKubeConfig({ kubeconfig: api.kubeconfig }));
    process.env['KUBEWASM_IMAGE_INPUTS'] = IMAGE_INPUTS.dir; // the pinned runtime inputs, never the network
    try {
      await install(kube, {
        namespace: NAMESPACE, selection: { names: Object.keys(NODES) }, shims: [SHIMS.wasmtime],
        supply: { kind: 'releases', origin: { kind: 'github', apiUrl: github.apiUrl }, cacheDir, pins: {} },
        cacheDir, load: 'none', timeoutMs: 2_000, verify: false, dryRun: false,
      }, (e) => events.push(e));
    } catch (err) {
      failure = err as Error; // no kubelet runs the installer: the wait ends without a ready node
    } finally {
      delete process.env['KUBEWASM_IMAGE_INPUTS'];
    }
  }, 300_000);
  afterAll(async () => {
    await github?.close();
    await api?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const info = () => events.filter((e): e is Extract<ClusterEvent, { type: 'info' }> => e.type === 'info').map((e) => e.text);
  const daemonSet = async () => (await kube.read<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: INSTALLER, namespace: NAMESPACE } }))!;

  it('gets past the image and objects (no amd64-only refusal) and stops only at the wait, which no kubelet answers', () => {
    expect(failure?.message ?? '', info().join('\n')).toMatch(/node installer failed on|timed out|did not/);
    expect(failure?.message ?? '').not.toMatch(/linux\/amd64, but/);
    expect(info().join('\n')).toMatch(/installer image kubewasm\.io\/node-installer:\S+ \(linux\/amd64, linux\/arm64\)/);
  });

  it('downloads each architecture’s archive once for four nodes', () => {
    const downloads = (asset: string) => github.requests.filter((r) => r.server === 'download' && r.status === 200 && r.path.includes(asset)).length;
    expect(downloads(runwasiAssetName('wasmtime', 'x86_64'))).toBe(1);
    expect(downloads(runwasiAssetName('wasmtime', 'aarch64'))).toBe(1);
  });

  it('the DaemonSet runs one image on every node; its index gives each architecture its own shim', async () => {
    const ds = await daemonSet();
    const image = ds.spec?.template.spec?.containers[0]?.image ?? '';
    expect(JSON.stringify(ds.spec?.template.spec?.affinity ?? {})).not.toContain('kubernetes.io/arch');
    expect(ds.spec?.template.spec?.nodeSelector?.['kubernetes.io/arch']).toBeUndefined();
    const archive = installerArchivePath(cacheDir, image);
    expect(layoutPlatforms(archive)).toMatchObject({ names: [image], platforms: ['linux/amd64', 'linux/arm64'] });
    for (const arch of ['amd64', 'arm64'] as const) {
      const rootfs = path.join(work, `rootfs-${arch}`);
      unpackPlatform(archive, rootfs, arch);
      const manifest = JSON.parse(readFileSync(path.join(rootfs, 'opt/kubewasm/shims/shims.json'), 'utf8')) as { shims: Array<{ name: string; sha256: string }> };
      expect(manifest.shims, arch).toEqual([{ name: 'wasmtime', version: '0.6.1', sha256: sha256(binary[arch]), file: SHIMS.wasmtime.binaryName }]);
      expect(readFileSync(path.join(rootfs, 'opt/kubewasm/shims', SHIMS.wasmtime.binaryName)).equals(binary[arch])).toBe(true);
    }
    // What an arm64 node's pod would run: that platform's installer takes (and verifies) the aarch64 shim.
    const qemu = requireProgram('qemu-aarch64-static');
    const rootfs = path.join(work, 'rootfs-arm64');
    const check = spawnSync(qemu, ['-L', rootfs, path.join(rootfs, 'usr/local/bin/node'), path.join(rootfs, 'app/dist/cmd/node-installer.js'), '--self-check'], {
      encoding: 'utf8', env: { KUBEWASM_SHIMS: 'wasmtime', KUBEWASM_IMAGE: image, KUBEWASM_IMAGE_SHIM_DIR: path.join(rootfs, 'opt/kubewasm/shims') }, timeout: 60_000,
    });
    expect(check.stderr).toBe('');
    expect(JSON.parse(check.stdout)).toMatchObject({ arch: 'arm64', shims: [{ name: 'wasmtime', sha256: sha256(binary.arm64) }] });
  });

  it('status shows each node’s architecture and the shim sha256 it reports', async () => {
    // What each node's installer writes once converged (lib/kube/node-report.ts), with its architecture's shim.
    for (const [name, arch] of Object.entries(NODES)) {
      const shims = JSON.stringify([{ name: 'wasmtime', version: '0.6.1', sha256: sha256(binary[arch]), runtime: 'wasmtime' }]);
      api.kubectl(['annotate', 'node', name, '--overwrite', `${ANNOTATIONS.shims}=${shims}`, `${ANNOTATIONS.state}=Ready`]);
    }
    const nodes = await kube.listNodes();
    const status = clusterStatus(nodes, [], await daemonSet());
    expect(status.nodes.map((n) => [n.name, n.architecture, n.shims[0]?.sha256])).toEqual(Object.entries(NODES).map(([name, arch]) => [name, arch, sha256(binary[arch])]));
    const table = statusTable(status);
    for (const [name, arch] of Object.entries(NODES)) expect(table).toMatch(new RegExp(`^${name}\\s+${arch}\\s+yes\\s+Ready\\s+.*sha256:${sha256(binary[arch]).slice(0, 12)}`, 'm'));
    expect(nodeStatus(nodes[0]!).architecture).toBe('amd64');
  });
});
