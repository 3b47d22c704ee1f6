import { resetNode } from '../../lib/node/converge.js';
import type { Command } from '../command.js';
import { convergeOptionsFromFlags, NODE_TARGET_HELP, NODE_TARGET_OPTIONS, nodeHostFromOptions, outputFormat, printNodeResult } from '../node-options.js';

export const nodeUninstall: Command = {
  path: ['node', 'uninstall'],
  summary: 'Remove what kubewasm installed on a node, and nothing else',
  usage: 'kubewasm node uninstall --local [options]',
  options: { ...NODE_TARGET_OPTIONS },
  help: NODE_TARGET_HELP,
  async run(ctx) {
    const format = outputFormat(ctx.options);
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
