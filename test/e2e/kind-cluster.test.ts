// `kubewasm cluster create | delete` with the real kind CLI (built from
// sigs.k8s.io/kind by scripts/lab/build/kind.sh) and a kind node image the
// project builds (scripts/lab/kind/node-image: Kubernetes v1.34.4, containerd
// 2.2, kind's own entrypoint and containerd config), on the lab's dockerd, on
// kind's own docker network, with no registry: one control plane and one
// worker from kind-config.yaml. The installer image and the smoke image reach
// the nodes through `kind load image-archive`; the Wasm pod runs through the
// lab-built wasmtime shim (GitHub is unreachable here: --shim-dir).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSummary } from '../../lib/kube/cluster.js';
import { SMOKE_LINE } from '../../lib/installer-image/smoke.js';
import { kubewasm } from '../support/kubewasm-cli.js';
import { labEnv } from '../support/lab.js';
import { LAB_CACHE, requireRoot } from '../../scripts/lab/support/requirements.js';

const root = new URL('../../', import.meta.url).pathname;
const KIND_VERSION = 'v0.33.0';
const KIND_DIR = path.join(LAB_CACHE, `kind-${KIND_VERSION}`, 'bin');
const NAME = 'kw-e2e';
const CONFIG = '/etc/containerd/config.toml';
const sh = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

describe('kubewasm cluster create --provider kind (real kind CLI, project-built node image)', () => {
  let image: string;
  let shimDir: string;
  let work: string;
  let kubeconfig: string;
  const figures: string[] = [];
  const env = () => ({ PATH: `${KIND_DIR}:${process.env['PATH']}`, CI: '1' });
  const run = (args: string[]) => kubewasm(args, env());
  const kind = (args: string[]) => sh([path.join(KIND_DIR, 'kind'), ...args]);
  const onNode = (node: string, script: string) => sh(['docker', 'exec', node, 'sh', '-c', script]);

  beforeAll(() => {
    requireRoot();
    if (!existsSync(path.join(KIND_DIR, 'kind'))) throw new Error(`no kind CLI in ${KIND_DIR}; run: scripts/lab/build/kind.sh ${KIND_VERSION}`);
    image = sh([path.join(root, 'scripts/lab/kind/node-image'), '--print-name']).trim();
    try {
      sh(['docker', 'image', 'inspect', image]);
    } catch {
      throw new Error(`the kind node image ${image} is not in the lab's dockerd; run: scripts/lab/kind/node-image (or scripts/lab/prepare)`);
    }
    shimDir = path.dirname(labEnv().shimBinary);
    work = mkdtempSync(path.join(tmpdir(), 'kubewasm-kind-'));
    kubeconfig = path.join(work, 'kubeconfig');
    // A clean start: nothing left of an earlier, interrupted run.
    for (const name of [NAME, `${NAME}-plain`, `${NAME}-bad`]) kind(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfig]);
  }, 300_000);

  afterAll(() => {
    if (figures.length) console.log(`\n${figures.join('\n')}\n`);
    if (work) for (const name of [NAME, `${NAME}-plain`, `${NAME}-bad`]) kind(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfig]);
  }, 300_000);

  it('kind create cluster alone (the baseline for the figures)', () => {
    const t0 = Date.now();
    kind(['create', 'cluster', '--name', `${NAME}-plain`, '--image', image, '--config', path.join(root, 'kind-config.yaml'), '--kubeconfig', kubeconfig]);
    figures.push(`kind create cluster alone (control plane + worker): ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    expect(kind(['get', 'nodes', '--name', `${NAME}-plain`]).split('\n').filter(Boolean).sort()).toEqual([`${NAME}-plain-control-plane`, `${NAME}-plain-worker`]);
    kind(['delete', 'cluster', '--name', `${NAME}-plain`, '--kubeconfig', kubeconfig]);
  });

  let summary: ClusterSummary;
  it('cluster create: a kind cluster from kind-config.yaml, Wasm-capable, verified by a Wasm pod whose log is read back', async () => {
    const t0 = Date.now();
    const result = await run(['cluster', 'create', '--provider', 'kind', '--name', NAME, '--config', path.join(root, 'kind-config.yaml'), '--image', image,
      '--kubeconfig', kubeconfig, '--shim-dir', shimDir, '--wait', '5m', '-o', 'json', '--logs-dir', path.join(work, 'logs-create')]);
    expect(result.code, result.stderr).toBe(0);
    figures.push(`kubewasm cluster create (kind create + install + verify): ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    summary = JSON.parse(result.stdout) as ClusterSummary;
    figures.push(`  timings: ${JSON.stringify(summary.timings)}`);
    expect(summary.cluster).toMatchObject({ provider: 'kind', name: NAME, context: `kind-${NAME}` });
    expect(summary.nodes.map((n) => n.name).sort()).toEqual([`${NAME}-control-plane`, `${NAME}-worker`]);
    expect(summary.nodes.find((n) => n.name === `${NAME}-control-plane`)?.roles).toContain('control-plane');
    expect(summary.nodes.every((n) => n.kubelet === 'v1.34.4')).toBe(true);
    // The worker takes the shim; the control plane (NoSchedule) is left alone.
    const shim = summary.shims.find((s) => s.node === `${NAME}-worker` && s.name === 'wasmtime');
    expect(shim?.ready).toBe(true);
    expect(shim?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.shims.some((s) => s.node === `${NAME}-control-plane`)).toBe(false);
    const passed = summary.verify.results.find((r) => r.runtimeClass === 'wasmtime');
    expect(passed).toMatchObject({ ok: true, node: `${NAME}-worker` });
    expect(passed?.message).toContain(SMOKE_LINE);
    // CI output: timestamped lines; the images went in through `kind load image-archive`.
    expect(result.stderr).toMatch(/^\d\d:\d\d:\d\d → kind create cluster 'kw-e2e'$/m);
    expect(result.stderr).toMatch(new RegExp(`images loaded into ${NAME}-worker with kind in`));
    expect(onNode(`${NAME}-worker`, 'crictl images | grep -c kubewasm.io/node-installer').trim()).toBe('1');
    // The shim kubewasm placed is the one it reported.
    expect(onNode(`${NAME}-worker`, 'sha256sum /usr/local/bin/containerd-shim-wasmtime-v1').split(' ')[0]).toBe(shim?.sha256);
  });

  it("uninstall / install / uninstall leaves kind's containerd config byte for byte as kind wrote it", async () => {
    const target = ['--kubeconfig', kubeconfig, '--context', `kind-${NAME}`];
    // The control plane was never opted in: its file is the one kind's entrypoint left.
    const asKindWroteIt = onNode(`${NAME}-control-plane`, `cat ${CONFIG}`);
    expect(asKindWroteIt).toContain('version = 2');
    expect(onNode(`${NAME}-worker`, `cat ${CONFIG}`)).not.toBe(asKindWroteIt);

    const un1 = await run(['uninstall', ...target, '--timeout', '5m']);
    expect(un1.code, un1.stderr).toBe(0);
    expect(onNode(`${NAME}-worker`, `cat ${CONFIG}`)).toBe(asKindWroteIt);

    const inst = await run(['install', '--selector', '!node-role.kubernetes.io/control-plane', '--shim-dir', shimDir, '--timeout', '5m', ...target]);
    expect(inst.code, inst.stderr).toBe(0);
    expect(onNode(`${NAME}-worker`, `cat ${CONFIG}`)).not.toBe(asKindWroteIt);

    const un2 = await run(['uninstall', ...target, '--timeout', '5m']);
    expect(un2.code, un2.stderr).toBe(0);
    expect(onNode(`${NAME}-worker`, `cat ${CONFIG}`)).toBe(asKindWroteIt);
    expect(onNode(`${NAME}-worker`, 'test -e /usr/local/bin/containerd-shim-wasmtime-v1 && echo present || echo gone').trim()).toBe('gone');
  });

  it('cluster delete removes the cluster: no nodes, no containers', async () => {
    const result = await run(['cluster', 'delete', '--name', NAME, '--kubeconfig', kubeconfig]);
    expect(result.code, result.stderr).toBe(0);
    expect(kind(['get', 'clusters']).split('\n')).not.toContain(NAME);
    expect(sh(['docker', 'ps', '-a', '--filter', `label=io.x-k8s.kind.cluster=${NAME}`, '--format', '{{.Names}}']).trim()).toBe('');
  });

  it('a failing create (a node image that does not exist) exits 1 and names the folder with the logs', async () => {
    const logs = path.join(work, 'logs-bad');
    const result = await run(['cluster', 'create', '--name', `${NAME}-bad`, '--config', path.join(root, 'kind-config.yaml'), '--image', 'kubewasm-lab/kind-node:does-not-exist',
      '--kubeconfig', kubeconfig, '--shim-dir', shimDir, '--wait', '2m', '--logs-dir', logs]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(logs);
    expect(result.stderr).toMatch(/kind cluster 'kw-e2e-bad' failed to be created/);
    expect(readdirSync(logs)).toEqual(expect.arrayContaining(['failure.txt', 'collected.txt']));
    expect(readFileSync(path.join(logs, 'failure.txt'), 'utf8')).toContain('kind create cluster');
    expect(kind(['get', 'clusters']).split('\n')).not.toContain(`${NAME}-bad`);
  });
});
