// `kubewasm status` and the waits of install/uninstall read what nodes report.
import type { V1DaemonSet, V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { clusterStatus, nodeStatus, statusTable, waitingPods } from '../../lib/kube/status.js';
import { convergeProgress, resetProgress } from '../../lib/kube/wait.js';

const node = (name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): V1Node => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels }, annotations },
  status: { nodeInfo: { architecture: 'amd64', kubeletVersion: 'v1.34.4', containerRuntimeVersion: 'containerd://1.6.20' } as never },
});
const shims = JSON.stringify([{ name: 'wasmtime', version: '0.6.0', sha256: 'a'.repeat(64), runtime: 'wasmtime' }]);
const ready = node('node-1', { 'kubewasm.io/enabled': 'true', 'kubewasm.io/managed': 'true', 'runtime.kubewasm.io/wasmtime': 'ready' }, { 'kubewasm.io/state': 'Ready', 'kubewasm.io/desired': 'd1', 'kubewasm.io/shims': shims, 'kubewasm.io/containerd': '1.6.20~ds1 config v2 /etc/containerd/config.toml' });
const failed = node('node-2', { 'kubewasm.io/enabled': 'true', 'kubewasm.io/managed': 'true' }, { 'kubewasm.io/state': 'Failed', 'kubewasm.io/desired': 'd1', 'kubewasm.io/last-error': 'cannot converge the node: boom', 'kubewasm.io/last-error-time': '2026-01-01T00:00:00Z' });
const plain = node('node-3');
const ds: V1DaemonSet = {
  spec: { selector: {}, template: { metadata: { annotations: { 'kubewasm.io/desired': 'd1' } }, spec: { containers: [{ name: 'installer', image: 'kubewasm.io/node-installer:0.1.0-abc', env: [{ name: 'KUBEWASM_SHIMS', value: 'wasmtime' }] }] } } },
  status: { desiredNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 0 },
};

describe('status', () => {
  it('reads a node from its labels and annotations', () => {
    expect(nodeStatus(ready)).toEqual({
      name: 'node-1', enabled: true, managed: true, state: 'Ready', desired: 'd1',
      // runwasi 0.6.0 is named by GHSA-cc25-vq59-rcjx (catalog advisories): status says so.
      shims: [{ name: 'wasmtime', ready: true, version: '0.6.0', sha256: 'a'.repeat(64), runtime: 'wasmtime', advisories: ['GHSA-cc25-vq59-rcjx'] }],
      containerd: '1.6.20~ds1 config v2 /etc/containerd/config.toml', configDigest: null, lastError: null, updated: null,
      architecture: 'amd64', kubelet: 'v1.34.4', containerRuntime: 'containerd://1.6.20', installerPod: null,
    });
    expect(nodeStatus(failed).lastError).toEqual({ message: 'cannot converge the node: boom', time: '2026-01-01T00:00:00Z' });
    expect(nodeStatus(node('x', {}, { 'kubewasm.io/shims': 'not json' })).shims).toEqual([]);
  });

  it('prints a table per node and shim', () => {
    const table = statusTable(clusterStatus([plain, failed, ready], [{ metadata: { name: 'wasmtime', labels: { 'kubewasm.io/shim': 'wasmtime' } }, handler: 'wasmtime', scheduling: { nodeSelector: { 'runtime.kubewasm.io/wasmtime': 'ready' } } }], ds));
    expect(table).toBe(`installer: kubewasm.io/node-installer:0.1.0-abc (wasmtime), pods ready 1/2
runtime classes: wasmtime

NODE    ENABLED  STATE   WASMTIME                                     CONTAINERD  LAST ERROR
node-1  yes      Ready   ready 0.6.0 (affected: GHSA-cc25-vq59-rcjx)  1.6.20~ds1
node-2  yes      Failed  -                                            1.6.20      2026-01-01T00:00:00Z cannot converge the node: boom
node-3  no       -       -                                            1.6.20
`);
    expect(statusTable(clusterStatus([plain], [], undefined))).toContain('installer: not installed (kubewasm install)');
    const waiting = node('node-4', { 'kubewasm.io/enabled': 'true' });
    const pod = { metadata: { name: 'kubewasm-node-installer-x' }, spec: { nodeName: 'node-4', containers: [] }, status: { phase: 'Pending', containerStatuses: [{ name: 'installer', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'pull access denied' } } }] } };
    expect(statusTable(clusterStatus([waiting], [], ds, [pod]))).toMatch(/node-4\s+yes\s+Pending \(installer pod: ErrImagePull\)\s+-\s+1\.6\.20\s+installer pod kubewasm-node-installer-x: ErrImagePull: pull access denied/);
  });
});

describe('a drifted node and the Wasm pods that wait', () => {
  const wasmtime = { metadata: { name: 'wasmtime' }, handler: 'wasmtime' };
  const drifted = node('node-2', { 'kubewasm.io/enabled': 'true', 'kubewasm.io/managed': 'true' }, { 'kubewasm.io/state': 'Drifted', 'kubewasm.io/desired': 'd1', 'kubewasm.io/shims': shims, 'kubewasm.io/last-error': 'the node drifted: wasmtime: /usr/local/bin/containerd-shim-wasmtime-v1 is missing (seen as: node changed: wasmtime shim /usr/local/bin/containerd-shim-wasmtime-v1 was removed)', 'kubewasm.io/last-error-time': '2026-12-01T10:00:00Z' });
  const stuck = { metadata: { name: 'app', namespace: 'default', creationTimestamp: new Date('2026-12-01T10:00:01Z') }, spec: { nodeName: 'node-2', runtimeClassName: 'wasmtime', containers: [] }, status: { phase: 'Pending' } };
  const unscheduled = { metadata: { name: 'later', namespace: 'default' }, spec: { runtimeClassName: 'wasmtime', containers: [] }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." }] } };
  const runc = { metadata: { name: 'plain', namespace: 'default' }, spec: { containers: [] }, status: { phase: 'Pending' } };
  const events = new Map([['default/app', [{ metadata: {}, involvedObject: {}, type: 'Warning', reason: 'FailedCreatePodSandBox', message: 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "wasmtime" is configured', count: 3 }]]]);

  it('the node shows Drifted with why, its shim not ready; each waiting Wasm pod with its reason and node', () => {
    const status = clusterStatus([drifted], [wasmtime], ds, [], waitingPods([stuck, unscheduled, runc], [wasmtime], events));
    expect(status.waitingPods.map((p) => [p.name, p.node])).toEqual([['app', 'node-2'], ['later', null]]);
    const table = statusTable(status);
    expect(table).toMatch(/node-2\s+yes\s+Drifted\s+not ready 0\.6\.0.*the node drifted: wasmtime: \S+ is missing/);
    expect(table).toContain('Wasm pods waiting:');
    expect(table).toMatch(/default\/app \(RuntimeClass wasmtime, since 2026-12-01T10:00:01\.000Z\): phase Pending on node node-2: FailedCreatePodSandBox \(x3\): .*no runtime for "wasmtime" is configured/);
    expect(table).toMatch(/default\/later \(RuntimeClass wasmtime\): not scheduled: 0\/3 nodes are available/);
    expect(table).not.toContain('plain');
  });
});

describe('waiting for nodes', () => {
  it('converge: done only when the node reports the desired spec Ready with every shim ready', () => {
    expect(convergeProgress(ready, 'd1', ['wasmtime'])).toEqual({ state: 'done', message: 'ready: wasmtime' });
    expect(convergeProgress(ready, 'd2', ['wasmtime']).state).toBe('waiting');
    expect(convergeProgress(ready, 'd1', ['wasmtime', 'spin'])).toMatchObject({ state: 'waiting', message: expect.stringContaining('spin') });
    expect(convergeProgress(failed, 'd1', ['wasmtime'])).toEqual({ state: 'failed', message: 'cannot converge the node: boom' });
    // A hand edit the installer leaves alone ends the wait with its message; a drifted node is on its way back.
    expect(convergeProgress(node('c', { 'kubewasm.io/enabled': 'true' }, { 'kubewasm.io/state': 'Conflict', 'kubewasm.io/desired': 'd1', 'kubewasm.io/last-error': "kubewasm's block was edited by hand" }), 'd1', ['wasmtime'])).toEqual({ state: 'failed', message: "kubewasm's block was edited by hand" });
    expect(convergeProgress(node('d', { 'kubewasm.io/enabled': 'true' }, { 'kubewasm.io/state': 'Drifted', 'kubewasm.io/desired': 'd1' }), 'd1', ['wasmtime']).state).toBe('waiting');
    expect(convergeProgress(node('n', { 'kubewasm.io/enabled': 'true' }), 'd1', ['wasmtime'])).toEqual({ state: 'waiting', message: 'waiting for the installer pod' });
    expect(convergeProgress(plain, 'd1', ['wasmtime'])).toEqual({ state: 'failed', message: 'the opt-in label was removed' });
    expect(convergeProgress(undefined, 'd1', ['wasmtime']).state).toBe('failed');
  });

  it('reset: done when no kubewasm label or state is left', () => {
    expect(resetProgress(plain)).toEqual({ state: 'done', message: 'reset' });
    expect(resetProgress(undefined).state).toBe('done');
    expect(resetProgress(node('n', { 'kubewasm.io/managed': 'true' }, { 'kubewasm.io/state': 'Resetting' })).state).toBe('waiting');
    expect(resetProgress(failed).state).toBe('failed');
  });
});
