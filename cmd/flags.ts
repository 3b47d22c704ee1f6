// The flags commands share. Each flag set is written once, beside the lib
// parser that reads it (lib/cli-flags.ts holds the table type and the value
// readers; node runs: lib/node/run-flags.ts; shims: lib/shims/source-flags.ts;
// clusters made by kubewasm: lib/kube/cluster-plan.ts); the flags of commands
// that talk to a cluster are here. Cheap to load: heavier modules are
// imported inside the async helpers that need them.
import { helpOf, string, type Flags, type FlagValues } from '../lib/cli-flags.js';
import { UsageError } from '../lib/errors.js';
import { NAMESPACE } from '../lib/kube/names.js';
import type { CommandContext } from './command.js';

export { durationOption, helpOf, list, outputOption, parseConfig, positiveInt, refuseWith, string, type Flag, type Flags } from '../lib/cli-flags.js';
export { CLUSTER_FLAGS } from '../lib/kube/cluster-plan.js';
export { CONTAINERD_FLAGS, NODE_HELP, NODE_OUTPUT_FLAGS, shimSupply, TARGET_FLAGS } from '../lib/node/run-flags.js';
export { SHIM_FLAGS, shimHelp, shims, SHIMS_FLAG } from '../lib/shims/source-flags.js';

export const KUBE_FLAGS: Flags = {
  kubeconfig: { arg: 'FILE', help: 'the kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)' },
  context: { arg: 'NAME', help: 'the kubeconfig context (default: its current context)' },
  namespace: { arg: 'NS', short: 'n', help: `where kubewasm's installer runs (default ${NAMESPACE})` },
};
export const KUBE_HELP = helpOf('Cluster:', KUBE_FLAGS);

/** The cluster the kube flags name (loads the Kubernetes client). */
export async function connect(options: FlagValues) {
  const { Kube } = await import('../lib/kube/client.js');
  return Kube.connect({ kubeconfig: string(options, 'kubeconfig'), context: string(options, 'context') });
}

/** How images reach the nodes (--load) and where kubewasm keeps them (--cache-dir). */
export async function imageDelivery(options: FlagValues) {
  const [{ parseLoadMethod }, { defaultCacheDir }] = await Promise.all([import('../lib/kube/load-images.js'), import('../lib/shims/cache.js')]);
  return { cacheDir: string(options, 'cache-dir') ?? defaultCacheDir(), load: parseLoadMethod(string(options, 'load')) };
}

export function namespace(options: FlagValues): string {
  const ns = string(options, 'namespace') ?? NAMESPACE;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) throw new UsageError(`'${ns}' is not a namespace name`);
  return ns;
}

export const SELECTION_FLAGS: Flags = {
  selector: { arg: 'SELECTOR', short: 'l', help: 'the nodes matching a label selector (e.g. pool=wasm)' },
  'all-nodes': { help: 'every node' },
};
export const SELECTION_HELP = `Nodes:\n  NODE…                     node names\n${helpOf('', SELECTION_FLAGS)}`;
export const selection = (ctx: CommandContext) => ({ names: ctx.args, selector: string(ctx.options, 'selector'), all: Boolean(ctx.options['all-nodes']) });
