import { resetNode } from '../../lib/node/converge.js';
import type { Command } from '../command.js';
import { convergeOptionsFromFlags, isLocal, NODE_TARGET_HELP, NODE_TARGET_OPTIONS, nodeHostFromOptions, outputFormat, printNodeResult, runFleetCommand } from '../node-options.js';

export const nodeUninstall: Command = {
  path: ['node', 'uninstall'],
  summary: 'Remove what kubewasm installed on nodes, and nothing else',
  usage: 'kubewasm node uninstall (--local | --ssh USER@HOST… | --via docker [--cluster NAME] | --inventory FILE) [options]',
  options: { ...NODE_TARGET_OPTIONS },
  help: NODE_TARGET_HELP,
  async run(ctx) {
    const format = outputFormat(ctx.options);
    if (!isLocal(ctx.options)) return runFleetCommand(ctx, { action: (host, _target, options) => resetNode(host, options) });
    const host = nodeHostFromOptions(ctx.options);
    const onStep = format === 'text' ? (message: string) => ctx.stderr.write(`${host.name}: ${message}\n`) : undefined;
    try {
      printNodeResult(ctx, await resetNode(host, convergeOptionsFromFlags(ctx.options, onStep)), format);
      return 0;
    } finally {
      await host.close();
    }
  },
};
