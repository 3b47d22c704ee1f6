// Pure part of `verify --bench`: containerd's own timestamps of a container
// (CRI ContainerStatus createdAt / startedAt / finishedAt, nanoseconds, as
// `crictl inspect` prints them) turned into create -> start -> exit
// durations, the pod-status fallback (seconds only), and their summaries.
//
// Resolution of each figure:
// - CRI (crictl inspect): nanoseconds, stamped by containerd itself.
// - pod status containerStatuses[].state.terminated.startedAt/finishedAt:
//   whole seconds (metav1.Time is RFC 3339 without fractions), no createdAt.
// - the pod-level figure (create request -> Succeeded seen by a watch):
//   milliseconds of this machine's clock, but it moves only when the kubelet
//   writes the pod's status (its sync loop), so it cannot see the runtime.
// containerd stamps startedAt when its Start call returns and finishedAt when
// the process exits: a program that ends within a millisecond can finish
// "before" it started (seen on the lab for runc); create -> exit is robust.
import type { V1Pod } from '@kubernetes/client-node';

/** create -> start -> exit of one container, in ms (null when its source lacks that timestamp). */
export interface RuntimeSample {
  createToStartMs: number | null;
  startToExitMs: number;
  createToExitMs: number | null;
}

/** A timestamp as crictl prints it (RFC 3339 with up to 9 fraction digits) or as CRI carries it (integer ns), in ns since the epoch. */
export function timestampNs(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value > 0 ? BigInt(Math.round(value)) : undefined;
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+$/.test(value)) return BigInt(value) > 0n ? BigInt(value) : undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds) || seconds <= 0) return undefined; // Go's zero time (0001-01-01) means "not yet"
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

const msBetween = (from: bigint, to: bigint) => Number(to - from) / 1e6;

/** `crictl inspect -o json` of a finished container -> its runtime sample; an error naming what is missing otherwise. */
export function criSample(inspectJson: string): RuntimeSample {
  let parsed: { status?: { createdAt?: unknown; startedAt?: unknown; finishedAt?: unknown; exitCode?: unknown; state?: unknown } };
  try {
    parsed = JSON.parse(inspectJson) as typeof parsed;
  } catch {
    throw new Error(`crictl inspect printed no JSON: ${JSON.stringify(inspectJson.slice(0, 160))}`);
  }
  const s = parsed.status ?? {};
  const created = timestampNs(s.createdAt);
  const started = timestampNs(s.startedAt);
  const finished = timestampNs(s.finishedAt);
  if (created === undefined || started === undefined || finished === undefined) {
    throw new Error(`crictl inspect: the container has no ${[created === undefined && 'createdAt', started === undefined && 'startedAt', finished === undefined && 'finishedAt'].filter(Boolean).join(', ')} (state ${String(s.state ?? 'unknown')})`);
  }
  return { createToStartMs: msBetween(created, started), startToExitMs: msBetween(started, finished), createToExitMs: msBetween(created, finished) };
}

/** The pod status's view of the same container: start -> exit in whole seconds; undefined when it has not terminated. */
export function podStatusSample(pod: V1Pod | undefined): RuntimeSample | undefined {
  const t = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  const started = t?.startedAt ? new Date(t.startedAt as unknown as string).getTime() : NaN;
  const finished = t?.finishedAt ? new Date(t.finishedAt as unknown as string).getTime() : NaN;
  if (!Number.isFinite(started) || !Number.isFinite(finished)) return undefined;
  return { createToStartMs: null, startToExitMs: finished - started, createToExitMs: null };
}

/** The runtime's container ID from a pod's status ("containerd://abc…" -> "abc…"). */
export function containerId(pod: V1Pod | undefined): string | undefined {
  const id = pod?.status?.containerStatuses?.[0]?.containerID;
  const m = id ? /^[a-z0-9-]+:\/\/([0-9a-f]{12,})$/.exec(id) : null;
  return m?.[1];
}

export interface Summary {
  runs: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}
export type FineSummary = Summary;

/** Pure: median, p95 (nearest rank), min and max of the samples, rounded to `decimals`. */
export function summarize(samples: readonly number[], decimals = 0): Summary {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  const r = (x: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;
  return { runs: s.length, medianMs: r(median), p95Ms: r(at(0.95)), minMs: r(s[0]!), maxMs: r(s[s.length - 1]!) };
}

/** The runtime figures are a few ms: kept to 0.01 ms. */
export const summarizeFine = (samples: readonly number[]): Summary => summarize(samples, 2);

export interface RuntimeSummary {
  createToStart: FineSummary | null;
  startToExit: FineSummary;
  createToExit: FineSummary | null;
}

export function summarizeRuntime(samples: readonly RuntimeSample[]): RuntimeSummary {
  const of = (pick: (s: RuntimeSample) => number | null) => {
    const values = samples.map(pick).filter((v): v is number => v !== null);
    return values.length === samples.length && values.length > 0 ? summarizeFine(values) : null;
  };
  return { createToStart: of((s) => s.createToStartMs), startToExit: summarizeFine(samples.map((s) => s.startToExitMs)), createToExit: of((s) => s.createToExitMs) };
}

export interface RuntimeTimes {
  /** cri: containerd's timestamps through CRI (ns); pod-status: the pod's terminated state (whole seconds). */
  source: 'cri' | 'pod-status';
  resolution: '1 ns' | '1 s';
  /** How they were read, or why the CRI could not be read. */
  via: string;
  wasm: RuntimeSummary;
  runc: RuntimeSummary;
  samples: { wasm: RuntimeSample[]; runc: RuntimeSample[] };
}

export function runtimeTimes(source: RuntimeTimes['source'], via: string, samples: { wasm: RuntimeSample[]; runc: RuntimeSample[] }): RuntimeTimes {
  return { source, resolution: source === 'cri' ? '1 ns' : '1 s', via, wasm: summarizeRuntime(samples.wasm), runc: summarizeRuntime(samples.runc), samples };
}

/** The runtime table of `verify --bench`: median (min–max) of each step, ms. */
export function runtimeTable(t: RuntimeTimes, wasmLabel: string): string {
  const cell = (s: FineSummary | null) => (s ? `${fmt(s.medianMs)} (${fmt(s.minMs)}–${fmt(s.maxMs)})` : 'n/a');
  const rows = [
    [wasmLabel, cell(t.wasm.createToStart), cell(t.wasm.startToExit), cell(t.wasm.createToExit)],
    ['runc', cell(t.runc.createToStart), cell(t.runc.startToExit), cell(t.runc.createToExit)],
  ];
  const header = ['', 'create -> start', 'start -> exit', 'create -> exit'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ');
  const title =
    t.source === 'cri'
      ? `at the runtime: containerd's own timestamps (CRI ContainerStatus, 1 ns resolution; ${t.via}), ms, median (min–max):`
      : `at the runtime: the pod status's start and finish only (1 s resolution: ${t.via}), ms, median (min–max):`;
  const note =
    t.source === 'cri'
      ? "create: CreateContainer recorded; start: containerd's Start call returned (the task made and started); exit: the process's exit. A program that ends within a millisecond can show exit before start (below zero): create -> exit is the robust figure."
      : 'the pod status has no create time and whole seconds only: a start -> exit of 0 means under a second.';
  return [title, line(header), ...rows.map(line), note, ''].join('\n');
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(2);
}
