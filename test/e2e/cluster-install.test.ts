// kubewasm install / label / unlabel / verify --bench / uninstall on the lab's
// real cluster (scripts/lab, brought up by global-setup.ts): node-1 with
// containerd 1.6 and node-2 with containerd 2.2, kubelet v1.34.4 (node-3 with
// containerd 2.4 stays out of it). The node installer runs as the real
// DaemonSet from the image kubewasm builds and loads; the Wasm pods run
// through the lab-built runwasi wasmtime shim that the installer put there.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../lib/kube/status.js';
import type { BenchResult } from '../../lib/kube/verify.js';
import { NATIVE_LINE } from '../../lib/installer-image/smoke.js';
import { kubewasm } from '../support/kubewasm-cli.js';
import { LAB_SCRIPT, labEnv, type LabEnv } from '../support/lab.js';
import { requireRoot } from '../../scripts/lab/support/requirements.js';
import { LAB_CONTAINERDS } from './global-setup.js';

const root = new URL('../../', import.meta.url).pathname;
const NODES = { 'node-1': 'kubewasm-lab-node-1', 'node-2': 'kubewasm-lab-node-2' } as const;
type NodeName = keyof typeof NODES;
const CONFIG = '/etc/containerd/config.toml';
const SHIM = '/usr/local/bin/containerd-shim-wasmtime-v1';
/** kubewasm's own label and annotation keys (the lab's lab.kubewasm.io/ labels are not kubewasm's). */
const isKubewasmKey = (k: string) => k.startsWith('kubewasm.io/') || k.startsWith('runtime.kubewasm.io/');

function lab(args: string[]): string {
  return execFileSync(LAB_SCRIPT, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function onNode(node: NodeName, script: string): string {
  return execFileSync('docker', ['exec', NODES[node], 'sh', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('kubewasm on a real cluster (lab: node-1 containerd 1.6, node-2 containerd 2.2)', () => {
  let env: LabEnv;
  let kubeconfig: string;
  const original: Partial<Record<NodeName, string>> = {};
  const figures: string[] = [];
  const kubectl = (args: string[], input?: string) => execFileSync(env.kubectl, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
  const run = (args: string[]) => kubewasm([...args, '--kubeconfig', kubeconfig], { CI: '1' });
  const podJson = (name: string) => JSON.parse(kubectl(['get', 'pod', name, '-o', 'json'])) as { spec: { nodeName?: string }; status: { phase: string; conditions?: Array<{ type: string; status: string; reason?: string }> } };

  beforeAll(() => {
    requireRoot();
    env = labEnv();
    kubeconfig = env.kubeconfig;
    for (const node of Object.keys(NODES)) if (!env.nodes.some((n) => n.startsWith(`${node}:`))) throw new Error(`the lab has no ${node} (it has ${env.nodes.join(', ')}); run scripts/lab/lab up --containerd ${LAB_CONTAINERDS}`);
    // A clean start: nothing of kubewasm's from an earlier, interrupted run.
    execFileSync(process.execPath, [path.join(root, 'dist/cmd/kubewasm.js'), 'uninstall', '--force', '--kubeconfig', kubeconfig, '--timeout', '3m'], { stdio: 'ignore' });
    for (const node of Object.keys(NODES) as NodeName[]) original[node] = onNode(node, `cat ${CONFIG}`);
  }, 1_800_000);

  afterAll(() => {
    if (figures.length) console.log(`\n${figures.join('\n')}\n`);
    // uninstall removed the smoke image the lab preloads; `up` (idempotent) loads what is missing again.
    if (env) lab(['up', '--containerd', LAB_CONTAINERDS]);
  }, 600_000);

  it('install node-1: installer image built and loaded, node converged by the DaemonSet, smoke pod proven', async () => {
    const t0 = Date.now();
    const result = await run(['install', 'node-1', '--shim-dir', path.dirname(env.shimBinary), '--timeout', '5m']);
    const seconds = (Date.now() - t0) / 1000;
    expect(result.stderr + result.stdout).not.toContain('error:');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('node-1: ✓ ready: wasmtime');
    expect(result.stdout).toMatch(/✓ RuntimeClass wasmtime: printed "hello from kubewasm wasm" on node-1/);
    figures.push(`install on the lab (1 node, containerd 1.6): ${seconds.toFixed(1)} s end to end (${/installer image .*: (\d+ MB, [^(]*)/.exec(result.stderr)?.[1] ?? ''})`);
    expect(onNode('node-1', `cat ${CONFIG}`)).toContain('# BEGIN kubewasm');
    expect(onNode('node-1', `test -x ${SHIM} && echo yes`).trim()).toBe('yes');
  });

  it('a Wasm pod is only ever scheduled on the opted-in node', async () => {
    const pod = (name: string, extra: object) =>
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { runtimeClassName: 'wasmtime', restartPolicy: 'Never', containers: [{ name: 'hello', image: 'kubewasm.io/smoke:hello', imagePullPolicy: 'IfNotPresent' }], ...extra } });
    kubectl(['apply', '-f', '-'], pod('wasm-anywhere', {}));
    kubectl(['apply', '-f', '-'], pod('wasm-on-node-2', { nodeSelector: { 'kubernetes.io/hostname': 'node-2' } }));
    try {
      kubectl(['wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/wasm-anywhere', '--timeout=120s']);
      expect(podJson('wasm-anywhere').spec.nodeName).toBe('node-1');
      expect(kubectl(['logs', 'wasm-anywhere'])).toBe('hello from kubewasm wasm\n');
      const pinned = podJson('wasm-on-node-2');
      expect(pinned.status.phase).toBe('Pending');
      expect(pinned.spec.nodeName).toBeUndefined();
      expect(pinned.status.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    } finally {
      kubectl(['delete', 'pod', 'wasm-anywhere', 'wasm-on-node-2', '--grace-period=0', '--force', '--ignore-not-found']);
    }
  });

  it('status reports node-1 ready on containerd 1.6 and node-2 not enabled', async () => {
    let status = JSON.parse((await run(['status', '-o', 'json'])).stdout) as ClusterStatus;
    // The DaemonSet counts the pod ready after its readiness probe passed (every 5 s).
    for (let i = 0; i < 30 && status.installer.pods?.ready !== 1; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      status = JSON.parse((await run(['status', '-o', 'json'])).stdout) as ClusterStatus;
    }
    expect(status.nodes.find((n) => n.name === 'node-1')).toMatchObject({ enabled: true, managed: true, state: 'Ready', shims: [{ name: 'wasmtime', ready: true }], lastError: null, installerPod: { phase: 'Running', ready: true } });
    expect(status.nodes.find((n) => n.name === 'node-1')?.containerd).toMatch(/^1\.6\.20\S* config v2 \/etc\/containerd\/config\.toml$/);
    expect(status.nodes.find((n) => n.name === 'node-2')).toMatchObject({ enabled: false, managed: false, state: null, shims: [] });
    expect(status.installer.pods).toMatchObject({ scheduled: 1, ready: 1 });
  });

  it("the installer pod's own token may patch its Node and no other (the admission policy, in the real cluster)", async () => {
    const pod = kubectl(['-n', 'kubewasm-system', 'get', 'pods', '-l', 'app.kubernetes.io/name=kubewasm-node-installer', '-o', 'jsonpath={.items[0].metadata.name}']);
    const script = `
      const fs = require('node:fs'), https = require('node:https');
      const token = fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/token', 'utf8');
      const ca = fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
      const patch = (node) => new Promise((resolve) => {
        const req = https.request({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, path: '/api/v1/nodes/' + node, method: 'PATCH', ca,
          headers: { authorization: 'Bearer ' + token, 'content-type': 'application/merge-patch+json' } }, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => resolve(res.statusCode + ' ' + (JSON.parse(b).message || ''))); });
        req.end(JSON.stringify({ metadata: { annotations: { 'kubewasm.io/probe': null } } }));
      });
      (async () => { console.log(await patch('node-1')); console.log(await patch('node-2')); })();`;
    const [own, other] = kubectl(['-n', 'kubewasm-system', 'exec', pod, '--', '/usr/local/bin/node', '-e', script]).trim().split('\n');
    expect(own).toMatch(/^200/);
    expect(other).toMatch(/^403 .*may change only the Node its pod runs on \(node-1\), not node-2/);
  });

  it('labelling node-2 converges it (containerd 2.2); verify runs there', async () => {
    const t0 = Date.now();
    const labelled = await run(['label', 'node-2', '--wait', '--timeout', '5m']);
    expect(labelled.stderr).toContain('node-2: ✓ ready: wasmtime');
    expect(labelled.code).toBe(0);
    figures.push(`label node-2 --wait (containerd 2.2): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(onNode('node-2', `cat ${CONFIG}`)).toContain('# BEGIN kubewasm');
    const verified = await run(['verify', '--node', 'node-2']);
    expect(verified.stdout).toMatch(/✓ RuntimeClass wasmtime: printed "hello from kubewasm wasm" on node-2/);
    expect(verified.code).toBe(0);
  });

  it('verify --bench: Wasm pods beside runc pods doing the same work on one node', async () => {
    const result = await run(['verify', '--bench', '--node', 'node-1', '--runs', '10', '-o', 'json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const bench = JSON.parse(result.stdout) as BenchResult;
    expect(bench).toMatchObject({ node: 'node-1', runtimeClass: 'wasmtime' });
    expect(bench.wasm.runs).toBe(10);
    expect(bench.runc.runs).toBe(10);
    // Every run of both sides took a real, positive time, and the summaries are the samples'.
    for (const side of ['wasm', 'runc'] as const) {
      const samples = bench.samples[side];
      expect(samples, side).toHaveLength(10);
      for (const ms of samples) expect(Number.isFinite(ms) && ms > 0, `${side} sample ${ms}`).toBe(true);
      const s = bench[side];
      expect(s.medianMs, side).toBeGreaterThan(0);
      expect(s.minMs).toBe(Math.round(Math.min(...samples)));
      expect(s.maxMs).toBe(Math.round(Math.max(...samples)));
      expect(s.minMs <= s.medianMs && s.medianMs <= s.p95Ms && s.p95Ms <= s.maxMs, side).toBe(true);
    }
    // A run counts only when its pod printed its side's line: a runc side whose image cannot print it fails the bench.
    const wrongLog = await run(['verify', '--bench', '--node', 'node-1', '--runs', '1', '--runc-image', env.smokeImage, '--timeout', '90s']);
    expect(wrongLog.code).toBe(1);
    expect(wrongLog.stdout + wrongLog.stderr).toContain(`the runc bench pod did not print "${NATIVE_LINE}"`);
    figures.push(`verify --bench on node-1 (containerd 1.6), 10 runs, create -> Succeeded: wasm median ${bench.wasm.medianMs} ms p95 ${bench.wasm.p95Ms} ms; runc median ${bench.runc.medianMs} ms p95 ${bench.runc.p95Ms} ms`);
  });

  it('a new desired spec (install dir) rolls the installer one node at a time, and each node re-converges', async () => {
    const result = await run(['install', '--shim-dir', path.dirname(env.shimBinary), '--install-dir', '/opt/kubewasm/bin', '--timeout', '5m']);
    expect(result.code, result.stderr).toBe(0);
    // maxUnavailable 1: the second node starts converging only after the first one's new pod is ready.
    const converging = [...result.stderr.matchAll(/^(node-\d): (installing shims|✓ ready)/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(converging.filter((l) => l.endsWith('installing shims')).length + converging.filter((l) => l.endsWith('ready')).length).toBe(4);
    expect(converging[1]).toMatch(/✓ ready$/);
    for (const node of Object.keys(NODES) as NodeName[]) {
      expect(onNode(node, `ls /opt/kubewasm/bin; test -e ${SHIM} && echo stale || true`).trim(), node).toBe('containerd-shim-wasmtime-v1');
      // containerd 2.x takes runtime_path; 1.6 ignores it and takes the absolute path as runtime_type.
      const named = node === 'node-1' ? 'runtime_type = "/opt/kubewasm/bin/containerd-shim-wasmtime-v1"' : 'runtime_path = "/opt/kubewasm/bin/containerd-shim-wasmtime-v1"';
      expect(onNode(node, `cat ${CONFIG}`), node).toContain(named);
    }
    expect(result.stdout).toMatch(/✓ RuntimeClass wasmtime: printed "hello from kubewasm wasm"/);
  });

  it("unlabelling node-2 resets it: config byte-for-byte the original, the shim gone, no kubewasm label", async () => {
    const result = await run(['unlabel', 'node-2', '--wait', '--timeout', '5m']);
    expect(result.stderr).toContain('node-2: ✓ reset');
    expect(result.code).toBe(0);
    expect(onNode('node-2', `cat ${CONFIG}`)).toBe(original['node-2']);
    expect(onNode('node-2', `find ${SHIM} /opt/kubewasm -type f 2>/dev/null; true`).trim()).toBe('');
    const labels = JSON.parse(kubectl(['get', 'node', 'node-2', '-o', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
    expect(Object.keys(labels).filter(isKubewasmKey)).toEqual([]);
  });

  it('uninstall leaves no kubewasm object in the cluster and no kubewasm byte on any node', async () => {
    const t0 = Date.now();
    const result = await run(['uninstall', '--timeout', '5m']);
    expect(result.stderr).not.toContain('error:');
    expect(result.code).toBe(0);
    figures.push(`uninstall (1 node to reset): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(kubectl(['get', 'runtimeclass,clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding', '-l', 'app.kubernetes.io/managed-by=kubewasm', '-o', 'name']).trim()).toBe('');
    expect(kubectl(['get', 'namespace', 'kubewasm-system', '--ignore-not-found', '-o', 'name']).trim()).toBe('');
    for (const node of Object.keys(NODES) as NodeName[]) {
      const nodeObject = JSON.parse(kubectl(['get', 'node', node, '-o', 'json'])) as { metadata: { labels: object; annotations: object } };
      expect(Object.keys({ ...nodeObject.metadata.labels, ...nodeObject.metadata.annotations }).filter(isKubewasmKey), node).toEqual([]);
      expect(onNode(node, `cat ${CONFIG}`), node).toBe(original[node]);
      expect(onNode(node, `ls -d ${SHIM} /var/lib/kubewasm 2>/dev/null; find /opt/kubewasm -type f 2>/dev/null; true`).trim(), node).toBe('');
      // The node lock (lib/node/node-lock.ts) stays as an empty file in the tmpfs /run/lock: no byte in it.
      expect(onNode(node, "find /run/lock -name 'kubewasm*' -size +0c").trim(), node).toBe('');
      expect(onNode(node, "ctr -n k8s.io images ls -q | grep -E '^kubewasm\\.io/(node-installer|smoke):' || true").trim(), node).toBe('');
    }
  });
});
