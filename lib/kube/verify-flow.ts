// `kubewasm verify`: choose kubewasm's RuntimeClasses (all, or those named),
// then prove each with a smoke pod, or (--bench) time Wasm pods against runc
// pods on one node where the shim is ready.
import { KubewasmError, UsageError } from '../errors.js';
import type { Kube } from './client.js';
import { SHIM_LABEL } from './names.js';
import { kubewasmRuntimeClasses } from './objects.js';
import { benchWithRuntime, type BenchResult } from './verify-bench.js';
import { runtimeTable } from './verify-bench-times.js';
import { benchNode, verifiable, verifyRuntimeClasses, type VerifyResult } from './verify.js';

export interface VerifyOptions {
  namespace: string;
  /** Names of RuntimeClasses; none: every one of kubewasm's. */
  runtimeClasses: readonly string[];
  node?: string | undefined;
  /** The Wasm smoke image (and, for the bench, the runc image). */
  image?: string | undefined;
  runcImage?: string | undefined;
  /** Also run the smoke module as a wasi/wasm-platform image (lib/installer-image/smoke.ts smokeWasiImage) with each RuntimeClass. */
  wasiImage?: string | undefined;
  timeoutMs: number;
  keep: boolean;
  /** Instead of verifying: this many bench runs per side. */
  benchRuns?: number | undefined;
}

export type VerifyEvent = { type: 'verify'; result: VerifyResult } | { type: 'info'; text: string } | { type: 'bench-run'; kind: 'wasm' | 'runc'; index: number; ms: number };

export async function verify(kube: Kube, o: VerifyOptions, onEvent: (e: VerifyEvent) => void): Promise<{ results: VerifyResult[] } | { bench: BenchResult }> {
  const all = await kubewasmRuntimeClasses(kube);
  if (all.length === 0) throw new KubewasmError({ what: 'kubewasm has no RuntimeClass in this cluster', fix: 'run kubewasm install first' });
  const unknown = o.runtimeClasses.filter((w) => !all.some((rc) => rc.metadata?.name === w));
  if (unknown.length) throw new UsageError(`no kubewasm RuntimeClass named ${unknown.join(', ')}`, `choose from: ${all.map((rc) => rc.metadata?.name).join(', ')}`);
  const classes = o.runtimeClasses.length ? all.filter((rc) => o.runtimeClasses.includes(rc.metadata?.name ?? '')) : all;
  if (o.benchRuns === undefined) {
    const results = await verifyRuntimeClasses(kube, classes, { namespace: o.namespace, timeoutMs: o.timeoutMs, keep: o.keep, ...(o.image ? { image: o.image } : {}), ...(o.wasiImage ? { wasiImage: o.wasiImage } : {}), ...(o.node ? { node: o.node } : {}), onResult: (result) => onEvent({ type: 'verify', result }) });
    return { results };
  }
  const rc = classes.find((c) => !verifiable(c));
  if (!rc) throw new UsageError('none of the chosen RuntimeClasses runs a WASI command', 'choose one with --runtime-class (e.g. wasmtime)');
  const shim = rc.metadata?.labels?.[SHIM_LABEL] ?? rc.handler;
  const node = benchNode(await kube.listNodes(), shim, o.node);
  if (!node) throw new KubewasmError({ what: o.node ? `node ${o.node} does not have the ${shim} shim ready` : `no node has the ${shim} shim ready`, fix: 'kubewasm status shows the nodes; kubewasm label NODE opts one in' });
  onEvent({ type: 'info', text: `bench: ${o.benchRuns} Wasm pods (RuntimeClass ${rc.metadata?.name}) and ${o.benchRuns} runc pods on ${node}, after one warm-up each` });
  const result = await benchWithRuntime(kube, {
    namespace: o.namespace,
    runtimeClass: rc,
    node,
    runs: o.benchRuns,
    timeoutMs: o.timeoutMs,
    ...(o.image ? { wasmImage: o.image } : {}),
    ...(o.runcImage ? { runcImage: o.runcImage } : {}),
    onRun: (kind, index, ms) => onEvent({ type: 'bench-run', kind, index, ms }),
  });
  return { bench: result };
}

export function benchTable(r: BenchResult): string {
  const row = (name: string, s: BenchResult['wasm']) => `${name.padEnd(28)}${String(s.medianMs).padStart(8)}${String(s.p95Ms).padStart(8)}${String(s.minMs).padStart(8)}${String(s.maxMs).padStart(8)}`;
  return [
    `pod start to completion on ${r.node}${r.containerRuntime ? ` (${r.containerRuntime})` : ''}, ${r.wasm.runs} runs each (ms; create request -> Succeeded seen by a watch: moves with the kubelet's status writes):`,
    `${''.padEnd(28)}${'median'.padStart(8)}${'p95'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}`,
    row(`wasm (${r.runtimeClass})`, r.wasm),
    row('runc (static native binary)', r.runc),
    '',
    runtimeTable(r.runtime, `wasm (${r.runtimeClass})`),
  ].join('\n');
}
