// What the node installer writes on its Node: the smallest merge patch, only kubewasm's keys.
import { describe, expect, it } from 'vitest';
import { backoffMs, hasKubewasmMarks, nodePatch, type NodeMeta } from '../../lib/kube/node-report.js';

const TIME = '2026-01-02T03:04:05.000Z';
const shims = [{ name: 'wasmtime', version: '0.6.0', sha256: 'a'.repeat(64), runtime: 'wasmtime' }];
const fresh: NodeMeta = { labels: { 'kubernetes.io/hostname': 'n1', 'kubewasm.io/enabled': 'true' }, annotations: { 'node.alpha.kubernetes.io/ttl': '0' } };

describe('nodePatch', () => {
  it('Converging on a fresh node: managed, state and desired spec', () => {
    expect(nodePatch(fresh, { phase: 'Converging', desired: 'd1', keepReady: ['wasmtime'] })).toEqual({
      metadata: { labels: { 'kubewasm.io/managed': 'true' }, annotations: { 'kubewasm.io/state': 'Converging', 'kubewasm.io/desired': 'd1' } },
    });
  });

  it('Ready: ready labels, shims, containerd; clears an old error', () => {
    const failed: NodeMeta = { labels: { ...fresh.labels, 'kubewasm.io/managed': 'true' }, annotations: { 'kubewasm.io/state': 'Failed', 'kubewasm.io/last-error': 'x', 'kubewasm.io/last-error-time': TIME } };
    expect(nodePatch(failed, { phase: 'Ready', desired: 'd1', ready: ['wasmtime'], shims, configDigest: 'sha256:c', containerd: 'v2.2.9 config v3 /etc/containerd/config.toml', time: TIME })).toEqual({
      metadata: {
        labels: { 'runtime.kubewasm.io/wasmtime': 'ready' },
        annotations: {
          'kubewasm.io/state': 'Ready',
          'kubewasm.io/desired': 'd1',
          'kubewasm.io/shims': JSON.stringify(shims),
          'kubewasm.io/config-digest': 'sha256:c',
          'kubewasm.io/containerd': 'v2.2.9 config v3 /etc/containerd/config.toml',
          'kubewasm.io/updated': TIME,
          'kubewasm.io/last-error': null,
          'kubewasm.io/last-error-time': null,
        },
      },
    });
  });

  it('nothing to say twice: the same report again is no patch', () => {
    const report = { phase: 'Ready' as const, desired: 'd1', ready: ['wasmtime'], shims, time: TIME };
    const patch = nodePatch(fresh, report)!;
    const after: NodeMeta = { labels: { ...fresh.labels, ...(patch.metadata.labels as Record<string, string>) }, annotations: { ...fresh.annotations, ...(patch.metadata.annotations as Record<string, string>) } };
    expect(nodePatch(after, report)).toBeUndefined();
  });

  it('Converging to a smaller set drops the ready label of the shim going away, keeps the others', () => {
    const ready: NodeMeta = { labels: { 'kubewasm.io/enabled': 'true', 'kubewasm.io/managed': 'true', 'runtime.kubewasm.io/wasmtime': 'ready', 'runtime.kubewasm.io/spin': 'ready' }, annotations: { 'kubewasm.io/state': 'Ready', 'kubewasm.io/desired': 'd1' } };
    expect(nodePatch(ready, { phase: 'Converging', desired: 'd2', keepReady: ['wasmtime'] })).toEqual({
      metadata: { labels: { 'runtime.kubewasm.io/spin': null }, annotations: { 'kubewasm.io/state': 'Converging', 'kubewasm.io/desired': 'd2' } },
    });
  });

  it('Failed: error and time; only what still checks out stays ready', () => {
    const ready: NodeMeta = { labels: { 'kubewasm.io/managed': 'true', 'runtime.kubewasm.io/wasmtime': 'ready', 'runtime.kubewasm.io/spin': 'ready' }, annotations: { 'kubewasm.io/state': 'Converging' } };
    expect(nodePatch(ready, { phase: 'Failed', desired: 'd2', ready: ['wasmtime'], error: 'restart failed', time: TIME })).toEqual({
      metadata: { labels: { 'runtime.kubewasm.io/spin': null }, annotations: { 'kubewasm.io/state': 'Failed', 'kubewasm.io/desired': 'd2', 'kubewasm.io/last-error': 'restart failed', 'kubewasm.io/last-error-time': TIME } },
    });
  });

  it('Resetting removes every ready label first; Reset removes every kubewasm mark but never the user\'s labels', () => {
    const ready: NodeMeta = { labels: { 'kubernetes.io/hostname': 'n1', 'kubewasm.io/managed': 'true', 'runtime.kubewasm.io/wasmtime': 'ready' }, annotations: { 'kubewasm.io/state': 'Ready', 'kubewasm.io/desired': 'd1', 'kubewasm.io/shims': '[]', other: 'x' } };
    expect(nodePatch(ready, { phase: 'Resetting' })).toEqual({
      metadata: { labels: { 'runtime.kubewasm.io/wasmtime': null }, annotations: { 'kubewasm.io/state': 'Resetting', 'kubewasm.io/desired': null, 'kubewasm.io/shims': null } },
    });
    expect(nodePatch(ready, { phase: 'Reset' })).toEqual({
      metadata: { labels: { 'kubewasm.io/managed': null, 'runtime.kubewasm.io/wasmtime': null }, annotations: { 'kubewasm.io/state': null, 'kubewasm.io/desired': null, 'kubewasm.io/shims': null } },
    });
    expect(nodePatch(fresh, { phase: 'Reset' })).toBeUndefined();
    expect(hasKubewasmMarks(fresh)).toBe(false);
    expect(hasKubewasmMarks(ready)).toBe(true);
  });

  it('a long error is cut to 2000 characters', () => {
    const patch = nodePatch(fresh, { phase: 'Failed', ready: [], error: 'x'.repeat(5000), time: TIME });
    expect((patch?.metadata.annotations?.['kubewasm.io/last-error'] as string).length).toBe(2000);
  });
});

describe('backoffMs', () => {
  it('doubles from 5 s up to 5 min', () => {
    expect([0, 1, 2, 3, 7, 8, 100].map((n) => backoffMs(n))).toEqual([0, 5_000, 10_000, 20_000, 300_000, 300_000, 300_000]);
  });
});
