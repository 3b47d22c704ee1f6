import { NATIVE_IMAGE, SMOKE_IMAGE } from '../../lib/installer-image/smoke.js';
import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { verifyLine } from '../progress.js';

const OWN: flags.Flags = {
  'runtime-class': { arg: 'NAME', list: true, help: "only these RuntimeClasses (repeatable or comma-separated; default: all of kubewasm's)" },
  node: { arg: 'NODE', help: 'run on this node (default: wherever the scheduler puts it)' },
  image: { arg: 'REF', help: `the WASI smoke image (default ${SMOKE_IMAGE}, loaded by kubewasm install)` },
  timeout: { arg: 'DURATION', help: 'per pod (default 2m)' },
  keep: { help: 'keep the pods (for kubectl describe)' },
  bench: { help: "instead: N Wasm pods and N runc pods doing the same work (print a line), alternating\non one node; prints median and p95 of create -> Succeeded, and containerd's own\ncreate -> start -> exit (CRI timestamps, ns, via the installer pod; else the pod status, 1 s)" },
  runs: { arg: 'N', help: 'bench runs per side (default 10)' },
  'runc-image': { arg: 'REF', help: `the runc side's image (default ${NATIVE_IMAGE}, a static amd64 or arm64 program)` },
  output: { arg: 'FORMAT', short: 'o', help: 'text (default) or json' },
};

export const verify: Command = {
  path: ['verify'],
  summary: 'Prove each Wasm RuntimeClass with a pod that runs a WASI module (--bench: Wasm vs runc start time)',
  usage: 'kubewasm verify [--runtime-class NAME…] [--node NODE] [--bench [--runs N]] [options]',
  options: flags.parseConfig(flags.KUBE_FLAGS, OWN),
  help: `For each of kubewasm's RuntimeClasses: runs a pod with the smoke image (a WASI module that prints
"hello from kubewasm wasm"), reads its log back through the API, checks the line, deletes the pod.

${flags.helpOf('', OWN)}

${flags.KUBE_HELP}`,
  async run({ options, stdout, stderr }) {
    const text = flags.outputOption(options, ['text', 'json']) === 'text';
    const { verify: run, benchTable } = await import('../../lib/kube/verify-flow.js');
    const spec = {
      namespace: flags.namespace(options), runtimeClasses: flags.list(options, 'runtime-class'), node: flags.string(options, 'node'), image: flags.string(options, 'image'), runcImage: flags.string(options, 'runc-image'),
      timeoutMs: flags.durationOption(options, 'timeout', 120_000), keep: Boolean(options['keep']), benchRuns: options['bench'] ? flags.positiveInt(options, 'runs', 10) : undefined,
    };
    const out = await run(await flags.connect(options), spec, (e) => {
      if (!text) return;
      if (e.type === 'verify') stdout.write(verifyLine(e.result));
      else if (e.type === 'info') stderr.write(`${e.text}\n`);
      else if (options['verbose']) stderr.write(`  ${e.kind} #${e.index + 1}: ${Math.round(e.ms)} ms\n`);
    });
    if (!text) stdout.write(`${JSON.stringify('bench' in out ? out.bench : out, null, 2)}\n`);
    else if ('bench' in out) stdout.write(benchTable(out.bench));
    return 'results' in out && !out.results.every((r) => r.ok) ? 1 : 0;
  },
};
