import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { showCluster } from '../progress.js';

const OWN: flags.Flags = {
  force: { help: "go on although pods use kubewasm's RuntimeClasses, or nodes cannot be reset\n(clean those later with kubewasm node uninstall on the node)" },
  'keep-images': { help: "leave the installer and smoke images in the nodes' containerd" },
  load: { arg: 'METHOD', help: "how to reach the nodes' containerd to remove the images (as for install; default auto)" },
  timeout: { arg: 'DURATION', help: 'for the nodes to reset (default 10m)' },
  'dry-run': { help: 'print what would be done' },
};

export const uninstall: Command = {
  path: ['uninstall'],
  summary: 'Reset every node through the installer, then delete all of kubewasm from the cluster',
  usage: 'kubewasm uninstall [--force] [options]',
  options: flags.parseConfig(flags.KUBE_FLAGS, OWN),
  help: `Removes the opt-in label from every node and waits until each node installer reports its node reset
(shims removed, containerd config back to the user's bytes, containerd restarted); then deletes the
RuntimeClasses, the DaemonSet, the admission policy, the RBAC and the namespace, and the images
kubewasm loaded into the nodes. Refuses while pods use one of kubewasm's RuntimeClasses.

${flags.helpOf('', OWN)}

${flags.KUBE_HELP}`,
  async run(ctx) {
    const { options } = ctx;
    const { uninstall: run } = await import('../../lib/kube/uninstall.js');
    const dryRun = Boolean(options['dry-run']);
    const spec = { namespace: flags.namespace(options), force: Boolean(options['force']), load: (await flags.imageDelivery(options)).load, keepImages: Boolean(options['keep-images']), timeoutMs: flags.durationOption(options, 'timeout', 600_000), dryRun };
    const kube = await flags.connect(options);
    await showCluster(ctx, dryRun, (onEvent) => run(kube, spec, onEvent));
    return 0;
  },
};
