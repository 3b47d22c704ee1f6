// verify --bench at the runtime: containerd's own timestamps (crictl inspect,
// captured on the lab's nodes) into create -> start -> exit, the pod-status
// fallback at whole seconds, and the summaries and table a user reads.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { containerId, criSample, podStatusSample, runtimeTable, runtimeTimes, summarizeFine, summarizeRuntime, timestampNs } from '../../lib/kube/verify-bench-times.js';

const fixtures = path.join(import.meta.dirname, '../fixtures/crictl');

describe('containerd timestamps', () => {
  it('reads RFC 3339 with nanoseconds, integer nanoseconds, and treats Go zero time as absent', () => {
    expect(timestampNs('2026-12-01T15:02:03.123456789Z')).toBe(BigInt(Date.parse('2026-12-01T15:02:03Z')) * 1_000_000n + 123_456_789n);
    expect(timestampNs('2026-12-01T15:02:03.5Z')! - timestampNs('2026-12-01T15:02:03Z')!).toBe(500_000_000n);
    expect(timestampNs('2026-12-01T16:02:03.000000001+01:00')! - timestampNs('2026-12-01T15:02:03Z')!).toBe(1n);
    expect(timestampNs('1764601323123456789')).toBe(1764601323123456789n);
    expect(timestampNs('0001-01-01T00:00:00Z')).toBeUndefined();
    expect(timestampNs(0)).toBeUndefined();
    expect(timestampNs('yesterday')).toBeUndefined();
  });

  const captured = readdirSync(fixtures).filter((f) => f.startsWith('crictl-inspect-') && f.endsWith('.json'));
  it('has captured crictl inspect output from the lab', () => expect(captured.length).toBeGreaterThan(0));
  for (const file of captured) {
    it(`crictl inspect of a finished container (${file}): create -> start -> exit in ms, consistent and sub-millisecond`, () => {
      const sample = criSample(readFileSync(path.join(fixtures, file), 'utf8'));
      expect(sample.createToStartMs).toBeGreaterThan(0);
      expect(sample.createToExitMs).toBeCloseTo(sample.createToStartMs! + sample.startToExitMs, 6);
      // Finer than the pod status's whole seconds: the figures are not whole milliseconds.
      expect(Number.isInteger(sample.createToExitMs)).toBe(false);
      expect(sample.createToExitMs).toBeLessThan(60_000);
    });
  }

  it('the 2.2 capture, to the nanosecond: created .901540728, started .971873392, finished .974318126', () => {
    expect(criSample(readFileSync(path.join(fixtures, 'crictl-inspect-wasm-containerd-2.2.json'), 'utf8'))).toEqual({ createToStartMs: 70.332664, startToExitMs: 2.444734, createToExitMs: 72.777398 });
  });

  it('a finish stamped before the start is kept as it is (containerd stamps startedAt after its Start call returns)', () => {
    const quick = JSON.stringify({ status: { createdAt: '2026-12-01T15:02:03.100Z', startedAt: '2026-12-01T15:02:03.190Z', finishedAt: '2026-12-01T15:02:03.189500Z', state: 'CONTAINER_EXITED' } });
    expect(criSample(quick)).toEqual({ createToStartMs: 90, startToExitMs: -0.5, createToExitMs: 89.5 });
  });

  it('a container that has not finished, and output that is not JSON, are errors that say so', () => {
    const running = JSON.stringify({ status: { createdAt: '2026-12-01T15:02:03.1Z', startedAt: '2026-12-01T15:02:03.2Z', finishedAt: '0001-01-01T00:00:00Z', state: 'CONTAINER_RUNNING' } });
    expect(() => criSample(running)).toThrow('the container has no finishedAt (state CONTAINER_RUNNING)');
    expect(() => criSample('FATA[0000] no such container')).toThrow('crictl inspect printed no JSON');
  });
});

describe('the pod status view', () => {
  const pod = (terminated: Record<string, unknown> | undefined, containerID = 'containerd://0123456789abcdef0123'): V1Pod =>
    ({ status: { containerStatuses: [{ name: 'smoke', containerID, ready: false, restartCount: 0, image: 'x', imageID: 'y', state: terminated ? { terminated } : { running: {} } }] } }) as unknown as V1Pod;
  it('start -> exit in whole seconds, no create time; nothing before the container terminated', () => {
    expect(podStatusSample(pod({ exitCode: 0, startedAt: '2026-12-01T15:02:03Z', finishedAt: '2026-12-01T15:02:04Z' }))).toEqual({ createToStartMs: null, startToExitMs: 1000, createToExitMs: null });
    expect(podStatusSample(pod({ exitCode: 0, startedAt: new Date('2026-12-01T15:02:03Z'), finishedAt: new Date('2026-12-01T15:02:03Z') }))).toMatchObject({ startToExitMs: 0 });
    expect(podStatusSample(pod(undefined))).toBeUndefined();
  });
  it('the container ID without its runtime prefix', () => {
    expect(containerId(pod(undefined))).toBe('0123456789abcdef0123');
    expect(containerId(pod(undefined, ''))).toBeUndefined();
    expect(containerId(undefined)).toBeUndefined();
  });
});

describe('summaries and the table', () => {
  it('keeps hundredths of a millisecond', () => {
    expect(summarizeFine([1.234, 0.5, 3.456])).toEqual({ runs: 3, medianMs: 1.23, p95Ms: 3.46, minMs: 0.5, maxMs: 3.46 });
    expect(() => summarizeFine([])).toThrow();
  });
  it('a step some samples lack is n/a, never a summary of fewer samples', () => {
    const cri = summarizeRuntime([
      { createToStartMs: 10, startToExitMs: 2, createToExitMs: 12 },
      { createToStartMs: 20, startToExitMs: 4, createToExitMs: 24 },
    ]);
    expect(cri.createToStart).toMatchObject({ runs: 2, medianMs: 15 });
    const mixed = summarizeRuntime([
      { createToStartMs: 10, startToExitMs: 2, createToExitMs: 12 },
      { createToStartMs: null, startToExitMs: 1000, createToExitMs: null },
    ]);
    expect(mixed.createToStart).toBeNull();
    expect(mixed.createToExit).toBeNull();
    const status = summarizeRuntime([{ createToStartMs: null, startToExitMs: 1000, createToExitMs: null }]);
    expect(status.createToStart).toBeNull();
    expect(status.startToExit).toMatchObject({ medianMs: 1000 });
  });
  it('the table names its source and resolution, and shows each step', () => {
    const t = runtimeTimes('cri', 'crictl inspect on node-2, run through installer pod kubewasm-node-installer-abcde', {
      wasm: [{ createToStartMs: 31.5, startToExitMs: 4.25, createToExitMs: 35.75 }],
      runc: [{ createToStartMs: 80.1, startToExitMs: 1.02, createToExitMs: 81.12 }],
    });
    const text = runtimeTable(t, 'wasm (wasmtime)');
    expect(text).toContain("containerd's own timestamps (CRI ContainerStatus, 1 ns resolution; crictl inspect on node-2");
    expect(text).toMatch(/wasm \(wasmtime\)\s+31\.50 \(31\.50–31\.50\)\s+4\.25 \(4\.25–4\.25\)\s+35\.75/);
    expect(text).toMatch(/runc\s+80\.10 .*1\.02 .*81\.12/);
    const fallback = runtimeTimes('pod-status', 'no running kubewasm installer pod on node-9', { wasm: [{ createToStartMs: null, startToExitMs: 0, createToExitMs: null }], runc: [{ createToStartMs: null, startToExitMs: 1000, createToExitMs: null }] });
    expect(fallback.resolution).toBe('1 s');
    expect(runtimeTable(fallback, 'wasm')).toContain('1 s resolution: no running kubewasm installer pod on node-9');
    expect(runtimeTable(fallback, 'wasm')).toMatch(/wasm\s+n\/a\s+0\.00/);
  });
});
