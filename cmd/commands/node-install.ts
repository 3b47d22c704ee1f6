import { convergeNode } from '../../lib/node/converge.js';
import { parseShimList } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { UsageError } from '../../lib/errors.js';
import { stringOption, type Command } from '../command.js';
import { convergeOptionsFromFlags, NODE_TARGET_HELP, NODE_TARGET_OPTIONS, nodeHostFromOptions, outputFormat, printNodeResult } from '../node-options.js';

export const nodeInstall: Command = {
  path: ['node', 'install'],
  summary: 'Install Wasm shims on a node and register them with its containerd',
  usage: 'kubewasm node install --local --shims wasmtime[,spin…] --shim-dir DIR [options]',
  options: {
    ...NODE_TARGET_OPTIONS,
    shims: { type: 'string' },
    'shim-dir': { type: 'string' },
    'install-dir': { type: 'string' },
  },
  help: `Shims:
  --shims LIST              wasmtime, wasmedge, wasmer, spin (default: wasmtime)
  --shim-dir DIR            take the shim binaries from DIR (containerd-shim-wasmtime-v1, …)
  --install-dir DIR         where the binaries go on the node (default: a directory on containerd's PATH,
                            /usr/local/bin); any other directory is registered with runtime_path

${NODE_TARGET_HELP}`,
  async run(ctx) {
    const format = outputFormat(ctx.options);
    const host = nodeHostFromOptions(ctx.options);
    const shimDir = stringOption(ctx.options, 'shim-dir');
    if (!shimDir) throw new UsageError('say where the shim binaries come from: --shim-dir DIR');
    const shims = await shimsFromDir(shimDir, parseShimList(stringOption(ctx.options, 'shims') ?? 'wasmtime'));
    const installDir = stringOption(ctx.options, 'install-dir');
    const onStep = format === 'text' ? (message: string) => ctx.stderr.write(`${host.name}: ${message}\n`) : undefined;
    try {
      const result = await convergeNode(host, { shims, ...(installDir ? { installDir } : {}) }, convergeOptionsFromFlags(ctx.options, onStep));
      printNodeResult(ctx, result, format);
      return 0;
    } finally {
      await host.close();
    }
  },
};
