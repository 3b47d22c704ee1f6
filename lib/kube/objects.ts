// Applying and deleting kubewasm's objects: server-side apply (field manager
// "kubewasm"), each reported as created, configured or unchanged; a dry run
// asks the API server to validate without storing anything.
import type { KubernetesObject, V1RuntimeClass } from '@kubernetes/client-node';
import type { Kube } from './client.js';
import { clusterRole, clusterRoleBinding, describeObject, namespace, ownNodePolicy, ownNodePolicyBinding, serviceAccount } from './manifests.js';
import { INSTALLER, MANAGED_BY, NAMESPACE } from './names.js';

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface Applied {
  object: string;
  action: ApplyAction;
  note?: string;
}

export async function applyObjects(kube: Kube, objects: readonly KubernetesObject[], options: { dryRun?: boolean; onApplied?: (a: Applied) => void } = {}): Promise<Applied[]> {
  const done: Applied[] = [];
  const creatingNamespaces = new Set<string>();
  for (const object of objects) {
    const before = await kube.read(object);
    const ns = object.metadata?.namespace;
    if (options.dryRun && ns && creatingNamespaces.has(ns)) {
      // The server cannot dry-run into a namespace a dry run did not create: validate the same object in "default".
      await kube.apply({ ...object, metadata: { ...object.metadata, namespace: 'default' } }, { dryRun: true });
      const applied = { object: describeObject(object), action: 'created' as const, note: `validated in namespace default: ${ns} does not exist yet` };
      done.push(applied);
      options.onApplied?.(applied);
      continue;
    }
    const after = await kube.apply(object, { dryRun: options.dryRun });
    if (object.kind === 'Namespace' && !before) creatingNamespaces.add(object.metadata?.name ?? '');
    const action: ApplyAction = !before ? 'created' : before.metadata?.resourceVersion === after.metadata?.resourceVersion && !generationChanged(before, after) ? 'unchanged' : 'configured';
    const applied = { object: describeObject(object), action };
    done.push(applied);
    options.onApplied?.(applied);
  }
  return done;
}

function generationChanged(before: KubernetesObject, after: KubernetesObject): boolean {
  return (before.metadata?.generation ?? 0) !== (after.metadata?.generation ?? 0);
}

/** kubewasm's RuntimeClasses in the cluster (by the managed-by label). */
export async function kubewasmRuntimeClasses(kube: Kube): Promise<V1RuntimeClass[]> {
  const list = await kube.call('list runtime classes', () => kube.nodeApi.listRuntimeClass({ labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY['app.kubernetes.io/managed-by']}` }));
  // List items carry no apiVersion/kind; the generic client needs them.
  return list.items.map((rc) => ({ ...rc, apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass' }));
}

/** The objects uninstall deletes, in order: the DaemonSet first, the namespace last. RuntimeClasses are listed apart. */
export function uninstallObjects(ns: string = NAMESPACE): KubernetesObject[] {
  return [
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: INSTALLER, namespace: ns } },
    ownNodePolicyBinding(),
    ownNodePolicy(ns),
    clusterRoleBinding(ns),
    clusterRole(),
    serviceAccount(ns),
    namespace(ns),
  ];
}

/** Deletes the objects (and the given RuntimeClasses); returns what existed. */
export async function deleteObjects(kube: Kube, objects: readonly KubernetesObject[], options: { dryRun?: boolean; onDeleted?: (what: string) => void } = {}): Promise<string[]> {
  const deleted: string[] = [];
  for (const object of objects) {
    const existed = options.dryRun ? (await kube.read(object)) !== undefined : await kube.delete(object);
    if (existed) {
      deleted.push(describeObject(object));
      options.onDeleted?.(describeObject(object));
    }
  }
  return deleted;
}

/** Pods (not finished) whose runtimeClassName is one of `classes`: "namespace/name (class)". */
export async function podsUsing(kube: Kube, classes: readonly string[]): Promise<string[]> {
  if (classes.length === 0) return [];
  const pods = await kube.listPods();
  return pods
    .filter((p) => p.spec?.runtimeClassName && classes.includes(p.spec.runtimeClassName) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .map((p) => `${p.metadata?.namespace}/${p.metadata?.name} (${p.spec?.runtimeClassName})`)
    .sort();
}

/** Waits until the namespace is gone (its pods terminated), or the timeout. */
export async function waitNamespaceGone(kube: Kube, ns: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await kube.read(namespace(ns)))) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}
