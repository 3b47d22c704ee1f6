import { KubewasmError, UsageError } from '../../lib/errors.js';
import { kubewasmRuntimeClasses } from '../../lib/kube/objects.js';
import type { Kube } from '../../lib/kube/client.js';
import { bench, benchNode, verifiable, verifyRuntimeClasses, type BenchResult, type VerifyResult } from '../../lib/kube/verify.js';
import { listOption, stringOption, type Command, type CommandContext } from '../command.js';
import { CLUSTER_HELP, CLUSTER_OPTIONS, durationOption, kubeFromOptions, line, namespaceFromOptions, outputOption, positiveInt } from '../kube-options.js';

export const verify: Command = {
  path: ['verify'],
  summary: 'Prove each Wasm RuntimeClass with a pod that runs a WASI module (--bench: Wasm vs runc start time)',
  usage: 'kubewasm verify [--runtime-class NAME…] [--node NODE] [--bench [--runs N]] [options]',
  options: {
    ...CLUSTER_OPTIONS,
    'runtime-class': { type: 'string', multiple: true },
    node: { type: 'string' },
    image: { type: 'string' },
    'runc-image': { type: 'string' },
    timeout: { type: 'string' },
    keep: { type: 'boolean' },
    bench: { type: 'boolean' },
    runs: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  help: `For each of kubewasm's RuntimeClasses: runs a pod with the smoke image (a WASI module that prints
"hello from kubewasm wasm"), reads its log back through the API, checks the line, deletes the pod.

  --runtime-class NAME      only these RuntimeClasses (repeatable or comma-separated; default: all of kubewasm's)
  --node NODE               run on this node (default: wherever the scheduler puts it)
  --image REF               the WASI smoke image (default kubewasm.io/smoke:hello, loaded by kubewasm install)
  --timeout DURATION        per pod (default 2m)
  --keep                    keep the pods (for kubectl describe)
  --bench                   instead: N Wasm pods and N runc pods doing the same work (print a line), alternating
                            on one node; prints median and p95 of create -> Succeeded
  --runs N                  bench runs per side (default 10)
  --runc-image REF          the runc side's image (default kubewasm.io/smoke:native, a static x86-64 program)
  -o, --output FORMAT       text (default) or json

${CLUSTER_HELP}`,
  async run(ctx) {
    const format = outputOption(ctx.options, ['text', 'json']);
    const kube = kubeFromOptions(ctx.options);
    const namespace = namespaceFromOptions(ctx.options);
    const wanted = listOption(ctx.options, 'runtime-class');
    const all = await kubewasmRuntimeClasses(kube);
    if (all.length === 0) throw new KubewasmError({ what: 'kubewasm has no RuntimeClass in this cluster', fix: 'run kubewasm install first' });
    const unknown = wanted.filter((w) => !all.some((rc) => rc.metadata?.name === w));
    if (unknown.length) throw new UsageError(`no kubewasm RuntimeClass named ${unknown.join(', ')}`, `choose from: ${all.map((rc) => rc.metadata?.name).join(', ')}`);
    const classes = wanted.length ? all.filter((rc) => wanted.includes(rc.metadata?.name ?? '')) : all;
    const timeoutMs = durationOption(ctx.options, 'timeout', 120_000);
    if (ctx.options['bench']) return runBench(ctx, kube, namespace, classes, timeoutMs, format);
    const results = await verifyRuntimeClasses(kube, classes, {
      namespace,
      timeoutMs,
      keep: Boolean(ctx.options['keep']),
      ...(stringOption(ctx.options, 'image') ? { image: stringOption(ctx.options, 'image')! } : {}),
      ...(stringOption(ctx.options, 'node') ? { node: stringOption(ctx.options, 'node')! } : {}),
      onResult: format === 'text' ? (r) => ctx.stdout.write(verifyLine(r)) : undefined,
    });
    if (format === 'json') ctx.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
    return results.every((r) => r.ok) ? 0 : 1;
  },
};

export function verifyLine(r: VerifyResult): string {
  return `${r.skipped ? '-' : r.ok ? '✓' : '✗'} RuntimeClass ${r.runtimeClass}${r.handler !== r.runtimeClass ? ` (handler ${r.handler})` : ''}: ${r.message}\n`;
}

async function runBench(ctx: CommandContext, kube: Kube, namespace: string, classes: Awaited<ReturnType<typeof kubewasmRuntimeClasses>>, timeoutMs: number, format: string): Promise<number> {
  const rc = classes.find((c) => !verifiable(c));
  if (!rc) throw new UsageError('none of the chosen RuntimeClasses runs a WASI command', 'choose one with --runtime-class (e.g. wasmtime)');
  const shim = rc.metadata?.labels?.['kubewasm.io/shim'] ?? rc.handler;
  const requested = stringOption(ctx.options, 'node');
  const node = benchNode(await kube.listNodes(), shim, requested);
  if (!node) throw new KubewasmError({ what: requested ? `node ${requested} does not have the ${shim} shim ready` : `no node has the ${shim} shim ready`, fix: 'kubewasm status shows the nodes; kubewasm label NODE opts one in' });
  const runs = positiveInt(ctx.options, 'runs', 10);
  if (format === 'text') line(ctx, `bench: ${runs} Wasm pods (RuntimeClass ${rc.metadata?.name}) and ${runs} runc pods on ${node}, after one warm-up each`);
  const result = await bench(kube, {
    namespace,
    runtimeClass: rc,
    node,
    runs,
    timeoutMs,
    ...(stringOption(ctx.options, 'image') ? { wasmImage: stringOption(ctx.options, 'image')! } : {}),
    ...(stringOption(ctx.options, 'runc-image') ? { runcImage: stringOption(ctx.options, 'runc-image')! } : {}),
    onRun: format === 'text' && ctx.options['verbose'] ? (kind, i, ms) => line(ctx, `  ${kind} #${i + 1}: ${Math.round(ms)} ms`) : undefined,
  });
  if (format === 'json') ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else ctx.stdout.write(benchTable(result));
  return 0;
}

export function benchTable(r: BenchResult): string {
  const row = (name: string, s: BenchResult['wasm']) => `${name.padEnd(28)}${String(s.medianMs).padStart(8)}${String(s.p95Ms).padStart(8)}${String(s.minMs).padStart(8)}${String(s.maxMs).padStart(8)}`;
  return [
    `pod start to completion on ${r.node}, ${r.wasm.runs} runs each (ms):`,
    `${''.padEnd(28)}${'median'.padStart(8)}${'p95'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}`,
    row(`wasm (${r.runtimeClass})`, r.wasm),
    row('runc (static x86-64 binary)', r.runc),
    '',
  ].join('\n');
}
