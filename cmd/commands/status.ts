import { API_VERSION } from '../../lib/kube/names.js';
import type { Command } from '../command.js';
import * as flags from '../flags.js';

const OWN: flags.Flags = {
  output: { arg: 'FORMAT', short: 'o', help: `table (default), json or yaml. The json/yaml shape is stable\n(apiVersion ${API_VERSION}, kind Status: installer, runtimeClasses, nodes[])` },
};

export const status: Command = {
  path: ['status'],
  summary: 'Show what each node reports: enabled, state, shims ready, last error',
  usage: 'kubewasm status [-o table|json|yaml] [options]',
  options: flags.parseConfig(flags.KUBE_FLAGS, OWN),
  help: `${flags.helpOf('', OWN)}\n\n${flags.KUBE_HELP}`,
  async run({ options, stdout }) {
    const format = flags.outputOption(options, ['table', 'json', 'yaml']);
    const [{ readStatus, statusTable }, { dumpYaml }] = await Promise.all([import('../../lib/kube/status.js'), import('@kubernetes/client-node')]);
    const result = await readStatus(await flags.connect(options), flags.namespace(options));
    stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : format === 'yaml' ? dumpYaml(result) : statusTable(result));
    return 0;
  },
};
