import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { showFleet } from '../progress.js';

export const nodeUninstall: Command = {
  path: ['node', 'uninstall'],
  summary: 'Remove what kubewasm installed on nodes, and nothing else',
  usage: 'kubewasm node uninstall (--local | --ssh USER@HOST… | --via docker [--cluster NAME] | --inventory FILE) [options]',
  options: flags.parseConfig(flags.TARGET_FLAGS, flags.CONTAINERD_FLAGS, flags.NODE_OUTPUT_FLAGS),
  help: flags.NODE_HELP,
  async run({ options, ...ctx }) {
    const json = flags.outputOption(options, ['text', 'json']) === 'json';
    const selection = flags.targetSelection(options);
    const fleet = { job: { kind: 'uninstall' as const }, converge: flags.convergeOptions(options), maxUnavailable: flags.positiveInt(options, 'max-unavailable', 1), parallel: flags.positiveInt(options, 'parallel') };
    const [{ findTargets }, { runFleet }] = await Promise.all([import('../../lib/node/targets.js'), import('../../lib/node/fleet.js')]);
    const targets = await findTargets(selection);
    return showFleet({ options, ...ctx }, json, targets.map((t) => t.name), Boolean(selection.local), (onEvent, signal) => runFleet(targets, { ...fleet, signal }, onEvent));
  },
};
