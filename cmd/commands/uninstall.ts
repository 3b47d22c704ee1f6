import type { V1DaemonSet } from '@kubernetes/client-node';
import { KubewasmError } from '../../lib/errors.js';
import { detectDistro } from '../../lib/kube/distro.js';
import { chooseLoadMethod, loadEnvironment, parseLoadMethod, planRemove, runLoad } from '../../lib/kube/load-images.js';
import { deleteObjects, kubewasmRuntimeClasses, podsUsing, uninstallObjects, waitNamespaceGone } from '../../lib/kube/objects.js';
import { hasKubewasmMarks } from '../../lib/kube/node-report.js';
import { INSTALLER } from '../../lib/kube/names.js';
import { nodeName, optedIn, setOptIn } from '../../lib/kube/nodes.js';
import { resetProgress, waitForNodes } from '../../lib/kube/wait.js';
import { stringOption, type Command } from '../command.js';
import { CLUSTER_HELP, CLUSTER_OPTIONS, durationOption, kubeFromOptions, line, namespaceFromOptions, nodeProgressView } from '../kube-options.js';

export const uninstall: Command = {
  path: ['uninstall'],
  summary: 'Reset every node through the installer, then delete all of kubewasm from the cluster',
  usage: 'kubewasm uninstall [--force] [options]',
  options: {
    ...CLUSTER_OPTIONS,
    force: { type: 'boolean' },
    load: { type: 'string' },
    'keep-images': { type: 'boolean' },
    timeout: { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  help: `Removes the opt-in label from every node and waits until each node installer reports its node reset
(shims removed, containerd config back to the user's bytes, containerd restarted); then deletes the
RuntimeClasses, the DaemonSet, the admission policy, the RBAC and the namespace, and the images
kubewasm loaded into the nodes. Refuses while pods use one of kubewasm's RuntimeClasses.

  --force                   go on although pods use kubewasm's RuntimeClasses, or nodes cannot be reset
                            (clean those later with kubewasm node uninstall on the node)
  --keep-images             leave the installer and smoke images in the nodes' containerd
  --load METHOD             how to reach the nodes' containerd to remove the images (as for install; default auto)
  --timeout DURATION        for the nodes to reset (default 10m)
  --dry-run                 print what would be done

${CLUSTER_HELP}`,
  async run(ctx) {
    const force = Boolean(ctx.options['force']);
    const dryRun = Boolean(ctx.options['dry-run']);
    const say = (text: string) => (dryRun ? ctx.stdout.write(`${text}\n`) : line(ctx, text));
    const namespace = namespaceFromOptions(ctx.options);
    const loadRequested = parseLoadMethod(stringOption(ctx.options, 'load'));
    const kube = kubeFromOptions(ctx.options);

    const classes = await kubewasmRuntimeClasses(kube);
    const using = await podsUsing(kube, classes.map((rc) => rc.metadata?.name ?? ''));
    if (using.length && !force) {
      throw new KubewasmError({
        what: `${using.length} pod(s) use kubewasm's RuntimeClasses: ${using.slice(0, 10).join(', ')}${using.length > 10 ? ', …' : ''}`,
        fix: 'delete them first (their nodes lose the Wasm runtime), or pass --force',
      });
    }
    if (using.length) say(`--force: ${using.length} pod(s) still use kubewasm's RuntimeClasses`);

    const nodes = await kube.listNodes();
    const involved = nodes.filter((n) => optedIn(n) || hasKubewasmMarks(n.metadata ?? {})).map(nodeName);
    const ds = await kube.read<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: INSTALLER, namespace } });
    if (involved.length && !ds && !force) {
      throw new KubewasmError({
        what: `node(s) ${involved.join(', ')} carry kubewasm's labels but the node installer is gone, so nothing can reset them`,
        fix: 'run kubewasm install again and then uninstall, or pass --force and clean each node with kubewasm node uninstall',
      });
    }

    const unlabelled = await setOptIn(kube, nodes, false, { dryRun });
    if (unlabelled.length) say(`${dryRun ? 'would remove' : 'removed'} the opt-in label from ${unlabelled.join(', ')}`);
    if (dryRun) {
      if (involved.length) say(`would wait for ${involved.join(', ')} to be reset by the node installer`);
    } else if (involved.length && ds) {
      const timeoutMs = durationOption(ctx.options, 'timeout', 600_000);
      try {
        const progress = await nodeProgressView(ctx, involved, (onProgress) => waitForNodes(kube, involved, resetProgress, { timeoutMs, onProgress }));
        const failed = [...progress].filter(([, p]) => p.state !== 'done');
        if (failed.length && !force) {
          throw new KubewasmError({ what: `resetting failed on ${failed.map(([n, p]) => `${n}: ${p.message}`).join('; ')}`, fix: 'fix the node (the installer retries), then run kubewasm uninstall again; or --force' });
        }
      } catch (err) {
        if (!force) throw err;
        say(`--force: going on although not every node was reset (${(err as Error).message.split('\n')[0]})`);
      }
    }

    const deleted = await deleteObjects(kube, [...classes, ...uninstallObjects(namespace)], { dryRun, onDeleted: (what) => say(`${dryRun ? 'would delete' : 'deleted'} ${what}`) });
    if (deleted.length === 0) say('no kubewasm object was left in the cluster');
    if (!dryRun && deleted.some((d) => d.startsWith('Namespace'))) {
      if (!(await waitNamespaceGone(kube, namespace, 120_000))) say(`namespace ${namespace} is still terminating`);
    }

    if (ctx.options['keep-images']) return 0;
    // Images may be on any node kubewasm ever loaded them into (also nodes opted out earlier): try every node it can reach.
    const env = await loadEnvironment();
    const distro = detectDistro(nodes);
    const all = nodes.map(nodeName);
    let method;
    let reach = all;
    try {
      method = chooseLoadMethod(loadRequested, distro, all, env);
    } catch {
      reach = all.filter((n) => env.dockerNodes.has(n));
      method = reach.length ? 'docker' as const : undefined;
      const unreachable = all.filter((n) => !reach.includes(n));
      say(`the installer and smoke images stay in the containerd of ${unreachable.join(', ')} (kubewasm cannot reach it from here); the kubelet's image garbage collection removes them`);
      if (!method) return 0;
    }
    const steps = planRemove(method, reach, env);
    if (dryRun) {
      for (const step of steps) say(`would remove kubewasm's images from ${step.target}: ${step.argv.join(' ')}`);
      return 0;
    }
    await runLoad(steps, (step, state) => {
      if (state === 'done') line(ctx, `removed kubewasm's images from ${step.target}`);
    });
    return 0;
  },
};
