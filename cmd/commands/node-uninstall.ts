import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { showFleet } from '../progress.js';

export const nodeUninstall: Command = {
  path: ['node', 'uninstall'],
  summary: 'Remove what kubewasm installed on nodes, and nothing else',
  usage: 'kubewasm node uninstall (--local | --ssh USER@HOST… | --via docker [--cluster NAME] | --inventory FILE) [options]',
  options: flags.parseConfig(flags.TARGET_FLAGS, flags.CONTAINERD_FLAGS, flags.NODE_OUTPUT_FLAGS),
  help: flags.NODE_HELP,
  run: (ctx) => showFleet(ctx, () => ({ kind: 'uninstall' })),
};
