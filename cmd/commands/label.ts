import { OPT_IN_LABEL, OPT_IN_VALUE } from '../../lib/kube/names.js';
import type { Command, CommandContext } from '../command.js';
import * as flags from '../flags.js';
import { showCluster } from '../progress.js';

const flagsFor = (verb: 'label' | 'unlabel'): flags.Flags => ({
  wait: { help: `wait until the node installer has ${verb === 'label' ? 'converged the nodes (ready labels set)' : 'reset the nodes'}` },
  timeout: { arg: 'DURATION', help: 'how long --wait waits (default 10m)' },
  'dry-run': { help: 'print the nodes that would change' },
  ...(verb === 'label'
    ? {
        load: { arg: 'METHOD', help: 'how the installer image built by kubewasm install reaches newly labelled nodes:\nauto (default: kind, k3d, docker containers, this machine), kind, k3d, docker, ctr, none' },
        'cache-dir': { arg: 'DIR', help: 'where kubewasm install keeps that image (default ~/.cache/kubewasm)' },
      }
    : {}),
});
const command = (verb: 'label' | 'unlabel', summary: string): Command => ({
  path: [verb],
  summary,
  usage: `kubewasm ${verb} NODE… | --selector SELECTOR | --all-nodes [--wait] [options]`,
  options: flags.parseConfig(flags.KUBE_FLAGS, flags.SELECTION_FLAGS, flagsFor('label')),
  help: `${flags.SELECTION_HELP}\n\n${flags.helpOf('', flagsFor(verb))}\n\n${flags.KUBE_HELP}`,
  run: (ctx) => relabel(ctx, verb === 'label'),
});

export const label = command('label', `Opt nodes in: set ${OPT_IN_LABEL}=${OPT_IN_VALUE} (the installer then converges them)`);
export const unlabel = command('unlabel', `Opt nodes out: remove ${OPT_IN_LABEL} (the installer then resets them)`);

async function relabel(ctx: CommandContext, enable: boolean): Promise<number> {
  const { options } = ctx;
  const { relabel: run } = await import('../../lib/kube/label.js');
  const spec = {
    selection: flags.selection(ctx), enable, namespace: flags.namespace(options), ...(await flags.imageDelivery(options)),
    wait: Boolean(options['wait']), timeoutMs: flags.durationOption(options, 'timeout', 600_000), dryRun: Boolean(options['dry-run']),
  };
  const kube = await flags.connect(options);
  return (await showCluster(ctx, false, (onEvent) => run(kube, spec, onEvent))) ? 0 : 1;
}
