// The smoke pods and the bench's arithmetic.
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Kube } from '../../lib/kube/client.js';
import { benchNode, explainPod, podOutcome, smokePod, verifiable, verifyRuntimeClasses } from '../../lib/kube/verify.js';
import { summarize } from '../../lib/kube/verify-bench-times.js';

describe('smoke pods', () => {
  it('run once, on the runtime class, optionally pinned to a node', () => {
    const pod = smokePod({ name: 'p', image: 'kubewasm.io/smoke:hello', runtimeClassName: 'wasmtime', node: 'node-1' });
    expect(pod.metadata?.namespace).toBe('kubewasm-system');
    expect(pod.spec).toMatchObject({ runtimeClassName: 'wasmtime', nodeName: 'node-1', restartPolicy: 'Never', containers: [{ name: 'smoke', image: 'kubewasm.io/smoke:hello', imagePullPolicy: 'IfNotPresent' }] });
    expect(smokePod({ name: 'p', image: 'x' }).spec).not.toHaveProperty('runtimeClassName');
  });

  it('outcome: success, failure with the reason, hopeless waits; nothing while pending', () => {
    const pod = (status: V1Pod['status']): V1Pod => ({ status });
    expect(podOutcome(pod({ phase: 'Succeeded' }))).toEqual({ phase: 'Succeeded', reason: null });
    expect(podOutcome(pod({ phase: 'Failed', containerStatuses: [{ name: 's', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'Error', message: 'trap' } } }] }))).toEqual({ phase: 'Failed', reason: 'Error (exit 137): trap' });
    expect(podOutcome(pod({ phase: 'Pending', containerStatuses: [{ name: 's', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImageNeverPull', message: 'not present' } } }] }))).toEqual({ phase: 'Failed', reason: 'ErrImageNeverPull: not present' });
    expect(podOutcome(pod({ phase: 'Pending', containerStatuses: [{ name: 's', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }))).toBeUndefined();
    expect(podOutcome(undefined)).toBeUndefined();
  });

  it('the spin handler is not proven with a plain WASI module', () => {
    expect(verifiable({ handler: 'spin' })).toMatch(/Spin applications/);
    expect(verifiable({ handler: 'wasmtime' })).toBeNull();
  });
});

describe('a check not run', () => {
  it('is skipped with its reason: never ok, never counted as passed', async () => {
    // The spin class is skipped before any API call: no cluster is needed to see its result.
    const results = await verifyRuntimeClasses({} as Kube, [{ metadata: { name: 'wasmtime-spin-v2' }, handler: 'spin' }]);
    expect(results).toEqual([expect.objectContaining({ runtimeClass: 'wasmtime-spin-v2', status: 'skipped', ok: false })]);
    expect(results[0]!.message).toMatch(/^skipped: the spin runtime runs Spin applications/);
    expect(results.every((r) => r.ok)).toBe(false); // what `kubewasm verify` turns into its exit code
  });
});

describe('why a pod did not finish', () => {
  // Shaped like the kubelet's events for a pod whose RuntimeClass handler containerd does not know
  // (containerd 2.x's message, as `kubectl get events -o json` shows it).
  const pod: V1Pod = {
    metadata: { name: 'kubewasm-verify-wasmtime-1a2b3c', namespace: 'kubewasm-system' },
    spec: { nodeName: 'node-2', runtimeClassName: 'wasmtime', containers: [] },
    status: { phase: 'Pending', containerStatuses: [{ name: 'smoke', image: 'kubewasm.io/smoke:hello', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] },
  };
  const event = (reason: string, message: string, type: string, last: string, count = 1): CoreV1Event => ({
    metadata: { name: `e-${reason}` },
    involvedObject: { kind: 'Pod', name: pod.metadata!.name! },
    reason,
    message,
    type,
    count,
    lastTimestamp: new Date(last),
  });

  it("names the node and quotes the runtime's error from the pod's events", () => {
    const events = [
      event('Scheduled', 'Successfully assigned kubewasm-system/kubewasm-verify-wasmtime-1a2b3c to node-2', 'Normal', '2026-12-01T10:00:00Z'),
      event('FailedCreatePodSandBox', 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "wasmtime" is configured', 'Warning', '2026-12-01T10:00:30Z', 7),
    ];
    const text = explainPod(pod, events);
    expect(text).toContain('on node node-2');
    expect(text).toContain('FailedCreatePodSandBox (x7)');
    expect(text).toContain('no runtime for "wasmtime" is configured');
    expect(text).toMatch(/no runtime handler "wasmtime"/);
  });

  it('an image that cannot be pulled', () => {
    const text = explainPod(pod, [event('Failed', 'Failed to pull image "kubewasm.io/smoke:hello": not found', 'Warning', '2026-12-01T10:00:30Z'), event('BackOff', 'Back-off pulling image', 'Warning', '2026-12-01T10:00:40Z')]);
    expect(text).toMatch(/on node node-2: Failed: Failed to pull image/);
    expect(text).toMatch(/cannot be pulled/);
  });

  it('without events, the status still says where it waits (a warning that explains nothing is not a reason)', () => {
    expect(explainPod(pod, [])).toBe('ContainerCreating on node node-2');
    expect(explainPod(pod, [event('MissingClusterDNS', 'kubelet does not have ClusterDNS IP configured', 'Warning', '2026-12-01T10:00:40Z')])).toBe('ContainerCreating on node node-2');
  });
});

describe('bench', () => {
  it('median and nearest-rank p95', () => {
    expect(summarize([5, 1, 3])).toEqual({ runs: 3, medianMs: 3, p95Ms: 5, minMs: 1, maxMs: 5 });
    expect(summarize([4, 1, 3, 2])).toMatchObject({ medianMs: 3, p95Ms: 4 });
    const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(summarize(twenty)).toMatchObject({ medianMs: 11, p95Ms: 19 });
    expect(() => summarize([])).toThrow();
  });

  it('picks a node where the shim is ready', () => {
    const nodes: V1Node[] = [
      { metadata: { name: 'b', labels: { 'runtime.kubewasm.io/wasmtime': 'ready' } } },
      { metadata: { name: 'a', labels: {} } },
      { metadata: { name: 'c', labels: { 'runtime.kubewasm.io/wasmtime': 'ready' } } },
    ];
    expect(benchNode(nodes, 'wasmtime')).toBe('b');
    expect(benchNode(nodes, 'wasmtime', 'c')).toBe('c');
    expect(benchNode(nodes, 'wasmtime', 'a')).toBeUndefined();
    expect(benchNode(nodes, 'spin')).toBeUndefined();
  });
});
