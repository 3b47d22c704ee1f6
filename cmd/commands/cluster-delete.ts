import type { Command } from '../command.js';
import { CLUSTER_FLAGS, helpOf, parseConfig } from '../flags.js';

export const clusterDelete: Command = {
  path: ['cluster', 'delete'],
  summary: 'Delete a cluster made by kubewasm cluster create (kind delete cluster; k3d cluster delete)',
  usage: 'kubewasm cluster delete [--provider kind|k3d|lab] [--name N] [--kubeconfig FILE]',
  options: parseConfig(CLUSTER_FLAGS),
  help: helpOf('', CLUSTER_FLAGS),
  async run(ctx) {
    const [{ clusterSpec }, { deleteCluster }] = await Promise.all([import('../../lib/kube/cluster-plan.js'), import('../../lib/kube/cluster.js')]);
    await deleteCluster(clusterSpec(ctx.options), { onEvent: (e) => (e.type === 'done' ? ctx.stderr.write(`✓ ${e.what}\n`) : undefined) });
    return 0;
  },
};
