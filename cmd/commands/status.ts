import { dumpYaml } from '@kubernetes/client-node';
import { readStatus, statusTable } from '../../lib/kube/status.js';
import type { Command } from '../command.js';
import { CLUSTER_HELP, CLUSTER_OPTIONS, kubeFromOptions, namespaceFromOptions, outputOption } from '../kube-options.js';

export const status: Command = {
  path: ['status'],
  summary: 'Show what each node reports: enabled, state, shims ready, last error',
  usage: 'kubewasm status [-o table|json|yaml] [options]',
  options: { ...CLUSTER_OPTIONS, output: { type: 'string', short: 'o' } },
  help: `  -o, --output FORMAT       table (default), json or yaml. The json/yaml shape is stable
                            (apiVersion kubewasm.io/v1alpha1, kind Status: installer, runtimeClasses, nodes[])

${CLUSTER_HELP}`,
  async run(ctx) {
    const format = outputOption(ctx.options, ['table', 'json', 'yaml']);
    const result = await readStatus(kubeFromOptions(ctx.options), namespaceFromOptions(ctx.options));
    if (format === 'json') ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (format === 'yaml') ctx.stdout.write(dumpYaml(result));
    else ctx.stdout.write(statusTable(result));
    return 0;
  },
};
