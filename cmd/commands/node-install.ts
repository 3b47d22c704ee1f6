import { convergeNode } from '../../lib/node/converge.js';
import type { NodeHost } from '../../lib/host/host.js';
import type { ShimBinary } from '../../lib/shims/binary.js';
import { parseShimList, type Arch } from '../../lib/shims/catalog.js';
import { stringOption, type Command } from '../command.js';
import { convergeOptionsFromFlags, isLocal, NODE_TARGET_HELP, NODE_TARGET_OPTIONS, nodeHostFromOptions, outputFormat, printNodeResult, runFleetCommand } from '../node-options.js';
import { nodeArch, SHIM_SOURCE_HELP, SHIM_SOURCE_OPTIONS, shimSourcesForNode } from '../shim-sources.js';

export const nodeInstall: Command = {
  path: ['node', 'install'],
  summary: 'Install Wasm shims on nodes and register them with their containerd',
  usage:
    'kubewasm node install (--local | --ssh USER@HOST… | --via docker [--cluster NAME] | --inventory FILE) --shims wasmtime[,spin…] [--shim-version SHIM=VER] [--bundle FILE | --shim-dir DIR | --mirror URL] [options]',
  options: {
    ...NODE_TARGET_OPTIONS,
    ...SHIM_SOURCE_OPTIONS,
    shims: { type: 'string' },
    'install-dir': { type: 'string' },
  },
  help: `Shims:
  --shims LIST              wasmtime, wasmedge, wasmer, spin (default: wasmtime)
  --install-dir DIR         where the binaries go on the node (default: a directory on containerd's PATH,
                            /usr/local/bin); any other directory is registered with runtime_path

${SHIM_SOURCE_HELP}

The shims are fetched once per architecture, on this machine, and uploaded to each node.

${NODE_TARGET_HELP}`,
  async run(ctx) {
    const format = outputFormat(ctx.options);
    const shimInfos = parseShimList(stringOption(ctx.options, 'shims') ?? 'wasmtime');
    const installDir = stringOption(ctx.options, 'install-dir');
    if (!isLocal(ctx.options)) {
      // Once per architecture, before any node is changed.
      const sources = new Map<string, ShimBinary[]>();
      const archOf = new Map<NodeHost, Arch | 'any'>();
      return runFleetCommand(ctx, {
        prepare: async (connected) => {
          const failures = new Map<string, Error>();
          const anyArch = stringOption(ctx.options, 'shim-dir') !== undefined; // ready binaries: used as they are
          await Promise.all(
            connected.map(async ({ target, host }) => {
              try {
                archOf.set(host, anyArch ? 'any' : await nodeArch(host));
              } catch (err) {
                failures.set(target.name, err as Error);
              }
            }),
          );
          for (const arch of new Set(archOf.values())) {
            const first = [...archOf].find(([, a]) => a === arch)![0];
            sources.set(arch, await shimSourcesForNode(ctx, first, shimInfos));
          }
          return failures;
        },
        action: (host, target, options) => {
          const dir = target.installDir ?? installDir;
          return convergeNode(host, { shims: sources.get(archOf.get(host)!)!, ...(dir ? { installDir: dir } : {}) }, options);
        },
      });
    }
    const host = nodeHostFromOptions(ctx.options);
    const onStep = format === 'text' ? (message: string) => ctx.stderr.write(`${host.name}: ${message}\n`) : undefined;
    try {
      const shims = await shimSourcesForNode(ctx, host, shimInfos);
      const result = await convergeNode(host, { shims, ...(installDir ? { installDir } : {}) }, convergeOptionsFromFlags(ctx.options, onStep));
      printNodeResult(ctx, result, format);
      return 0;
    } finally {
      await host.close();
    }
  },
};
