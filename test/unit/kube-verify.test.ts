// The smoke pods and the bench's arithmetic.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { benchNode, podOutcome, smokePod, summarize, verifiable } from '../../lib/kube/verify.js';

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
