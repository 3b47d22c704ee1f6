import { UsageError } from '../../lib/errors.js';
import { nodeName, optedIn, selectionGiven, selectNodes, setOptIn } from '../../lib/kube/nodes.js';
import { INSTALLER_REPOSITORY } from '../../lib/installer-image/build.js';
import { parseLoadMethod } from '../../lib/kube/load-images.js';
import { defaultCacheDir } from '../../lib/shims/cache.js';
import { OPT_IN_LABEL, OPT_IN_VALUE } from '../../lib/kube/names.js';
import { waitForNodes, convergeProgress, resetProgress } from '../../lib/kube/wait.js';
import { stringOption, type Command, type CommandContext } from '../command.js';
import { CLUSTER_HELP, CLUSTER_OPTIONS, durationOption, kubeFromOptions, kubewasmArchives, line, loadIntoNodes, namespaceFromOptions, NODE_SELECTION_HELP, NODE_SELECTION_OPTIONS, nodeProgressView, selectionFromContext } from '../kube-options.js';
import { readStatus } from '../../lib/kube/status.js';

const options = {
  ...CLUSTER_OPTIONS,
  ...NODE_SELECTION_OPTIONS,
  wait: { type: 'boolean' as const },
  timeout: { type: 'string' as const },
  'dry-run': { type: 'boolean' as const },
  load: { type: 'string' as const },
  'cache-dir': { type: 'string' as const },
};
const help = (verb: string) => `${NODE_SELECTION_HELP}

  --wait                    wait until the node installer has ${verb === 'label' ? 'converged the nodes (ready labels set)' : 'reset the nodes'}
  --timeout DURATION        how long --wait waits (default 10m)
  --dry-run                 print the nodes that would change${verb === 'label' ? `
  --load METHOD             how the installer image built by kubewasm install reaches newly labelled nodes:
                            auto (default: kind, k3d, docker containers, this machine), kind, k3d, docker, ctr, none
  --cache-dir DIR           where kubewasm install keeps that image (default ~/.cache/kubewasm)` : ''}

${CLUSTER_HELP}`;

export const label: Command = {
  path: ['label'],
  summary: `Opt nodes in: set ${OPT_IN_LABEL}=${OPT_IN_VALUE} (the installer then converges them)`,
  usage: 'kubewasm label NODE… | --selector SELECTOR | --all-nodes [--wait] [options]',
  options,
  help: help('label'),
  run: (ctx) => relabel(ctx, true),
};

export const unlabel: Command = {
  path: ['unlabel'],
  summary: `Opt nodes out: remove ${OPT_IN_LABEL} (the installer then resets them)`,
  usage: 'kubewasm unlabel NODE… | --selector SELECTOR | --all-nodes [--wait] [options]',
  options,
  help: help('unlabel'),
  run: (ctx) => relabel(ctx, false),
};

async function relabel(ctx: CommandContext, enable: boolean): Promise<number> {
  const selection = selectionFromContext(ctx);
  if (!selectionGiven(selection)) throw new UsageError('say which nodes: NODE…, --selector SELECTOR or --all-nodes');
  const kube = kubeFromOptions(ctx.options);
  const nodes = await selectNodes(kube, selection);
  const dryRun = Boolean(ctx.options['dry-run']);
  const namespace = namespaceFromOptions(ctx.options);
  const status = enable ? await readStatus(kube, namespace) : undefined;
  if (enable && !dryRun && status?.installer.installed) {
    // An installer image kubewasm built is in no registry: the nodes about to be opted in need it loaded first.
    const newly = nodes.filter((n) => !optedIn(n)).map(nodeName);
    const { archives, missing } = await kubewasmArchives(stringOption(ctx.options, 'cache-dir') ?? defaultCacheDir(), status.installer.image ?? undefined);
    if (missing) line(ctx, `warning: the installer image ${missing} is not in this machine's cache; load it into ${newly.join(', ')} yourself, or run kubewasm install ${newly.join(' ')}`);
    if (newly.length && stringOption(ctx.options, 'load') !== 'none') {
      try {
        await loadIntoNodes(ctx, await kube.listNodes(), newly, archives, parseLoadMethod(stringOption(ctx.options, 'load')));
      } catch (err) {
        if (status.installer.image?.startsWith(`${INSTALLER_REPOSITORY}:`)) throw err;
        line(ctx, `note: the smoke images could not be loaded into ${newly.join(', ')} (${(err as Error).message.split('\n')[0]}); kubewasm verify needs them there`);
      }
    }
  }
  const changed = await setOptIn(kube, nodes, enable, { dryRun });
  for (const node of nodes) {
    const name = nodeName(node);
    ctx.stdout.write(`${name}: ${changed.includes(name) ? (dryRun ? 'would be ' : '') + (enable ? 'labelled' : 'unlabelled') : enable ? 'already labelled' : 'not labelled'}\n`);
  }
  if (!ctx.options['wait'] || dryRun) return 0;
  const names = nodes.map(nodeName);
  let judge = resetProgress;
  if (status) {
    if (!status.installer.installed || !status.installer.desired) throw new UsageError('kubewasm is not installed in this cluster, so nothing converges the nodes', 'run kubewasm install first');
    const { desired, shims } = status.installer;
    judge = (node) => convergeProgress(node, desired!, shims);
  }
  const result = await nodeProgressView(ctx, names, (onProgress) => waitForNodes(kube, names, judge, { timeoutMs: durationOption(ctx.options, 'timeout', 600_000), onProgress }));
  return [...result.values()].every((p) => p.state === 'done') ? 0 : 1;
}
