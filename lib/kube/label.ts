// `kubewasm label` / `unlabel`: opt nodes in or out. Opting in loads the
// installer image kubewasm built (it is in no registry) into the nodes about
// to join; --wait follows the installer until it converged or reset them.
import { UsageError } from '../errors.js';
import { INSTALLER_REPOSITORY } from '../installer-image/build.js';
import type { Kube } from './client.js';
import { waitWithEvents, type ClusterEvent } from './install.js';
import { kubewasmArchives, loadImages, type LoadMethod } from './load-images.js';
import { nodeName, optedIn, selectionGiven, selectNodes, setOptIn, type NodeSelection } from './nodes.js';
import { readStatus } from './status.js';
import { convergeProgress, resetProgress, waitForNodes } from './wait.js';

export interface LabelOptions {
  selection: NodeSelection;
  enable: boolean;
  namespace: string;
  cacheDir: string;
  load: LoadMethod | 'auto';
  wait: boolean;
  timeoutMs: number;
  dryRun: boolean;
}

/** `result` lines (one per node: labelled, already labelled, …) are the command's output; returns whether every waited node got there. */
export async function relabel(kube: Kube, o: LabelOptions, onEvent: (e: ClusterEvent | { type: 'result'; text: string }) => void): Promise<boolean> {
  if (!selectionGiven(o.selection)) throw new UsageError('say which nodes: NODE…, --selector SELECTOR or --all-nodes');
  const say = (text: string) => onEvent({ type: 'info', text });
  const nodes = await selectNodes(kube, o.selection);
  const status = o.enable ? await readStatus(kube, o.namespace) : undefined;
  if (o.enable && !o.dryRun && status?.installer.installed) {
    // An installer image kubewasm built is in no registry: the nodes about to be opted in need it loaded first.
    const newly = nodes.filter((n) => !optedIn(n)).map(nodeName);
    const { archives, missing } = await kubewasmArchives(o.cacheDir, status.installer.image ?? undefined);
    if (missing) say(`warning: the installer image ${missing} is not in this machine's cache; load it into ${newly.join(', ')} yourself, or run kubewasm install ${newly.join(' ')}`);
    if (newly.length && o.load !== 'none') {
      try {
        await loadImages(await kube.listNodes(), newly, archives, o.load, say);
      } catch (err) {
        if (status.installer.image?.startsWith(`${INSTALLER_REPOSITORY}:`)) throw err;
        say(`note: the smoke images could not be loaded into ${newly.join(', ')} (${(err as Error).message.split('\n')[0]}); kubewasm verify needs them there`);
      }
    }
  }
  const changed = await setOptIn(kube, nodes, o.enable, { dryRun: o.dryRun });
  for (const name of nodes.map(nodeName)) {
    const verb = changed.includes(name) ? `${o.dryRun ? 'would be ' : ''}${o.enable ? 'labelled' : 'unlabelled'}` : o.enable ? 'already labelled' : 'not labelled';
    onEvent({ type: 'result', text: `${name}: ${verb}` });
  }
  if (!o.wait || o.dryRun) return true;
  const names = nodes.map(nodeName);
  let judge = resetProgress;
  if (status) {
    if (!status.installer.installed || !status.installer.desired) throw new UsageError('kubewasm is not installed in this cluster, so nothing converges the nodes', 'run kubewasm install first');
    const { desired, shims } = status.installer;
    judge = (node) => convergeProgress(node, desired!, shims);
  }
  const result = await waitWithEvents(onEvent, names, (onProgress) => waitForNodes(kube, names, judge, { timeoutMs: o.timeoutMs, onProgress }));
  return [...result.values()].every((p) => p.state === 'done');
}
