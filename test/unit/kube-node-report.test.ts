// What the node installer writes on its Node: the smallest merge patch, only kubewasm's keys.
import { describe, expect, it } from 'vitest';
import { nodeEvent } from '../../lib/kube/node-events.js';
import { fingerprint, watchedDirs } from '../../lib/kube/node-watch.js';
import { backoffMs, handEditedBlock, hasKubewasmMarks, nodePatch, type NodeMeta } from '../../lib/kube/node-report.js';

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

describe('drift and conflict', () => {
  const ready: NodeMeta = {
    labels: { 'kubewasm.io/enabled': 'true', 'kubewasm.io/managed': 'true', 'runtime.kubewasm.io/wasmtime': 'ready' },
    annotations: { 'kubewasm.io/state': 'Ready', 'kubewasm.io/desired': 'd1', 'kubewasm.io/shims': '[]', 'kubewasm.io/block-digest': 'sha256:b1', 'kubewasm.io/updated': TIME },
  };

  it('Drifted: the ready labels go, state and last-error say why; what was installed stays on record', () => {
    expect(nodePatch(ready, { phase: 'Drifted', desired: 'd1', ready: [], error: 'the node drifted: wasmtime: /usr/local/bin/containerd-shim-wasmtime-v1 is missing', time: TIME })).toEqual({
      metadata: {
        labels: { 'runtime.kubewasm.io/wasmtime': null },
        annotations: { 'kubewasm.io/state': 'Drifted', 'kubewasm.io/last-error': 'the node drifted: wasmtime: /usr/local/bin/containerd-shim-wasmtime-v1 is missing', 'kubewasm.io/last-error-time': TIME },
      },
    });
  });

  it('Conflict keeps the ready label of a runtime that still works; Ready records the block it found', () => {
    expect(nodePatch(ready, { phase: 'Conflict', desired: 'd1', ready: ['wasmtime'], error: 'edited by hand', time: TIME })?.metadata).toEqual({
      annotations: { 'kubewasm.io/state': 'Conflict', 'kubewasm.io/last-error': 'edited by hand', 'kubewasm.io/last-error-time': TIME },
    });
    expect(nodePatch(fresh, { phase: 'Ready', desired: 'd1', ready: ['wasmtime'], shims, blockDigest: 'sha256:b2', time: TIME })?.metadata.annotations?.['kubewasm.io/block-digest']).toBe('sha256:b2');
  });

  it('a hand edit is a block unlike both the one kubewasm wrote and the one it would write', () => {
    expect(handEditedBlock({ onNode: 'sha256:x', recorded: 'sha256:b1', planned: 'sha256:b1' })).toBe(true);
    expect(handEditedBlock({ onNode: 'sha256:b1', recorded: 'sha256:b1', planned: 'sha256:b2' })).toBe(false); // a new spec
    expect(handEditedBlock({ onNode: undefined, recorded: 'sha256:b1', planned: 'sha256:b1' })).toBe(false); // removed: drift
    expect(handEditedBlock({ onNode: 'sha256:x', recorded: undefined, planned: 'sha256:b1' })).toBe(false); // no record: converge
    expect(handEditedBlock({ onNode: 'sha256:b2', recorded: 'sha256:b1', planned: 'sha256:b2' })).toBe(false); // already what it would write
  });

  it('events on the Node are where kubectl describe node looks: kind Node, uid = name, namespace default', () => {
    const event = nodeEvent('node-2', 'Warning', 'Drifted', 'm', new Date(TIME), 'node-2');
    expect(event.metadata?.namespace).toBe('default');
    expect(event.involvedObject).toEqual({ apiVersion: 'v1', kind: 'Node', name: 'node-2', uid: 'node-2' });
    expect(event).toMatchObject({ type: 'Warning', reason: 'Drifted', count: 1, source: { component: 'kubewasm-node-installer', host: 'node-2' } });
    expect(event.metadata?.name).toMatch(/^node-2\.kubewasm\.[0-9a-f]{12}$/);
  });

  it('the watch looks at directories (a file replaced by rename is seen) and compares cheap facts', () => {
    expect(watchedDirs([{ path: '/etc/containerd/config.toml', what: 'c' }, { path: '/usr/local/bin/containerd-shim-wasmtime-v1', what: 's' }, { path: '/etc/containerd/other', what: 'o' }])).toEqual(['/etc/containerd', '/usr/local/bin']);
    expect(fingerprint(undefined)).toBe('absent');
    expect(fingerprint({ ino: 5, size: 10, mtimeMs: 1, ctimeMs: 2 })).not.toBe(fingerprint({ ino: 6, size: 10, mtimeMs: 1, ctimeMs: 2 }));
  });
});

describe('backoffMs', () => {
  it('doubles from 5 s up to 5 min', () => {
    expect([0, 1, 2, 3, 7, 8, 100].map((n) => backoffMs(n))).toEqual([0, 5_000, 10_000, 20_000, 300_000, 300_000, 300_000]);
  });
});
