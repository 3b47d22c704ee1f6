// Choosing nodes (names, a label selector, or all) and opting them in or out.
import type { V1Node } from '@kubernetes/client-node';
import { KubewasmError, UsageError } from '../errors.js';
import type { Kube } from './client.js';
import { OPT_IN_LABEL, OPT_IN_VALUE } from './names.js';

export interface NodeSelection {
  names: readonly string[];
  selector?: string | undefined;
  all?: boolean | undefined;
}

export function selectionGiven(sel: NodeSelection): boolean {
  return sel.names.length > 0 || Boolean(sel.selector) || Boolean(sel.all);
}

/** Pure: exactly one way of choosing. */
export function checkSelection(sel: NodeSelection): void {
  const ways = [sel.names.length > 0 && 'node names', sel.selector && '--selector', sel.all && '--all-nodes'].filter(Boolean);
  if (ways.length > 1) throw new UsageError(`${ways.join(' and ')} both choose nodes`, 'choose nodes one way: names, --selector or --all-nodes');
}

export async function selectNodes(kube: Kube, sel: NodeSelection): Promise<V1Node[]> {
  checkSelection(sel);
  if (sel.all) return kube.listNodes();
  if (sel.selector) {
    const nodes = await kube.listNodes(sel.selector);
    if (nodes.length === 0) throw new KubewasmError({ what: `no node matches the selector '${sel.selector}'`, fix: 'check it with kubectl get nodes -l …' });
    return nodes;
  }
  const all = await kube.listNodes();
  const byName = new Map(all.map((n) => [n.metadata?.name ?? '', n]));
  const missing = sel.names.filter((n) => !byName.has(n));
  if (missing.length) {
    throw new KubewasmError({ what: `no node named ${missing.join(', ')}`, where: kube.server, fix: `the cluster's nodes are: ${[...byName.keys()].join(', ') || '(none)'}` });
  }
  return [...new Set(sel.names)].map((n) => byName.get(n)!);
}

export function nodeName(node: V1Node): string {
  return node.metadata?.name ?? '';
}

export function optedIn(node: V1Node): boolean {
  return node.metadata?.labels?.[OPT_IN_LABEL] === OPT_IN_VALUE;
}

/** Sets or removes the opt-in label; returns the nodes that changed. */
export async function setOptIn(kube: Kube, nodes: readonly V1Node[], enable: boolean, options: { dryRun?: boolean } = {}): Promise<string[]> {
  const changed = nodes.filter((n) => optedIn(n) !== enable).map(nodeName);
  if (options.dryRun) return changed;
  for (const name of changed) await kube.patchNode(name, { metadata: { labels: { [OPT_IN_LABEL]: enable ? OPT_IN_VALUE : null } } });
  return changed;
}
