// `kubewasm uninstall`: refuse while pods use kubewasm's RuntimeClasses;
// opt every node out and wait until its installer reset it; delete every
// object kubewasm made; remove the images it loaded into the nodes.
import type { V1DaemonSet } from '@kubernetes/client-node';
import { KubewasmError } from '../errors.js';
import type { Kube } from './client.js';
import { detectDistro } from './distro.js';
import { waitWithEvents, type ClusterEvent } from './install.js';
import { chooseLoadMethod, loadEnvironment, planRemove, runLoad, type LoadMethod } from './load-images.js';
import { INSTALLER } from './names.js';
import { hasKubewasmMarks } from './node-report.js';
import { nodeName, optedIn, setOptIn } from './nodes.js';
import { deleteObjects, kubewasmRuntimeClasses, podsUsing, uninstallObjects, waitNamespaceGone } from './objects.js';
import { resetProgress, waitForNodes } from './wait.js';

export interface UninstallOptions {
  namespace: string;
  /** Go on although pods use the RuntimeClasses or nodes cannot be reset. */
  force: boolean;
  load: LoadMethod | 'auto';
  keepImages: boolean;
  timeoutMs: number;
  dryRun: boolean;
}

export async function uninstall(kube: Kube, o: UninstallOptions, onEvent: (e: ClusterEvent) => void): Promise<void> {
  const say = (text: string) => onEvent({ type: 'info', text });
  const classes = await kubewasmRuntimeClasses(kube);
  const using = await podsUsing(kube, classes.map((rc) => rc.metadata?.name ?? ''));
  if (using.length && !o.force) {
    throw new KubewasmError({
      what: `${using.length} pod(s) use kubewasm's RuntimeClasses: ${using.slice(0, 10).join(', ')}${using.length > 10 ? ', …' : ''}`,
      fix: 'delete them first (their nodes lose the Wasm runtime), or pass --force',
    });
  }
  if (using.length) say(`--force: ${using.length} pod(s) still use kubewasm's RuntimeClasses`);

  const nodes = await kube.listNodes();
  const involved = nodes.filter((n) => optedIn(n) || hasKubewasmMarks(n.metadata ?? {})).map(nodeName);
  const ds = await kube.read<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: INSTALLER, namespace: o.namespace } });
  if (involved.length && !ds && !o.force) {
    throw new KubewasmError({
      what: `node(s) ${involved.join(', ')} carry kubewasm's labels but the node installer is gone, so nothing can reset them`,
      fix: 'run kubewasm install again and then uninstall, or pass --force and clean each node with kubewasm node uninstall',
    });
  }

  const unlabelled = await setOptIn(kube, nodes, false, { dryRun: o.dryRun });
  if (unlabelled.length) say(`${o.dryRun ? 'would remove' : 'removed'} the opt-in label from ${unlabelled.join(', ')}`);
  if (o.dryRun) {
    if (involved.length) say(`would wait for ${involved.join(', ')} to be reset by the node installer`);
  } else if (involved.length && ds) {
    try {
      const progress = await waitWithEvents(onEvent, involved, (onProgress) => waitForNodes(kube, involved, resetProgress, { timeoutMs: o.timeoutMs, onProgress }));
      const failed = [...progress].filter(([, p]) => p.state !== 'done');
      if (failed.length && !o.force) {
        throw new KubewasmError({ what: `resetting failed on ${failed.map(([n, p]) => `${n}: ${p.message}`).join('; ')}`, fix: 'fix the node (the installer retries), then run kubewasm uninstall again; or --force' });
      }
    } catch (err) {
      if (!o.force) throw err;
      say(`--force: going on although not every node was reset (${(err as Error).message.split('\n')[0]})`);
    }
  }

  const deleted = await deleteObjects(kube, [...classes, ...uninstallObjects(o.namespace)], { dryRun: o.dryRun, onDeleted: (what) => say(`${o.dryRun ? 'would delete' : 'deleted'} ${what}`) });
  if (deleted.length === 0) say('no kubewasm object was left in the cluster');
  if (!o.dryRun && deleted.some((d) => d.startsWith('Namespace'))) {
    if (!(await waitNamespaceGone(kube, o.namespace, 120_000))) say(`namespace ${o.namespace} is still terminating`);
  }
  if (!o.keepImages) await removeImages(nodes.map(nodeName), detectDistro(nodes), o, say);
}

/** Images may be on any node kubewasm ever loaded them into (also nodes opted out earlier): try every node it can reach. */
async function removeImages(all: string[], distro: ReturnType<typeof detectDistro>, o: UninstallOptions, say: (text: string) => void): Promise<void> {
  const env = await loadEnvironment();
  let method: LoadMethod;
  let reach = all;
  try {
    method = chooseLoadMethod(o.load, distro, all, env);
  } catch {
    reach = all.filter((n) => env.dockerNodes.has(n));
    say(`the installer and smoke images stay in the containerd of ${all.filter((n) => !reach.includes(n)).join(', ')} (kubewasm cannot reach it from here); the kubelet's image garbage collection removes them`);
    if (!reach.length) return;
    method = 'docker';
  }
  const steps = planRemove(method, reach, env);
  if (o.dryRun) {
    for (const step of steps) say(`would remove kubewasm's images from ${step.target}: ${step.argv.join(' ')}`);
    return;
  }
  await runLoad(steps, (step, state) => {
    if (state === 'done') say(`removed kubewasm's images from ${step.target}`);
  });
}
