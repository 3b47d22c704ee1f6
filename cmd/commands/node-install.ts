import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { showFleet } from '../progress.js';

const OWN: flags.Flags = {
  ...flags.SHIMS_FLAG,
  'install-dir': { arg: 'DIR', help: "where the binaries go on the node (default: a directory on containerd's PATH,\n/usr/local/bin); any other directory is registered with runtime_path" },
};

export const nodeInstall: Command = {
  path: ['node', 'install'],
  summary: 'Install Wasm shims on nodes and register them with their containerd',
  usage:
    'kubewasm node install (--local | --ssh USER@HOST… | --via docker [--cluster NAME] | --inventory FILE) --shims wasmtime[,spin…] [--shim-version SHIM=VER] [--bundle FILE | --shim-dir DIR | --mirror URL] [options]',
  options: flags.parseConfig(OWN, flags.SHIM_FLAGS, flags.TARGET_FLAGS, flags.CONTAINERD_FLAGS, flags.NODE_OUTPUT_FLAGS),
  help: `${flags.helpOf('Shims:', OWN)}

${flags.shimHelp()}

The shims are fetched once per architecture, on this machine, and uploaded to each node.

${flags.NODE_HELP}`,
  run: (ctx) =>
    showFleet(ctx, async () => {
      const shims = flags.shims(ctx.options);
      return { kind: 'install', shims, supply: await flags.shimSupply(ctx.options, shims), installDir: flags.string(ctx.options, 'install-dir') };
    }),
};
