// Waiting for objects to reach a state: list, then watch from the list's
// resourceVersion, re-listing when the watch ends or expires, until `check`
// says done or the timeout passes. Used for nodes (install, uninstall) and
// pods (verify).
import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import { KubewasmError } from '../errors.js';
import type { Kube } from './client.js';
import { ANNOTATIONS, readyLabel, READY_VALUE, MANAGED_LABEL } from './names.js';
import { isOptedIn } from './node-report.js';

export interface WatchUntilOptions<T extends KubernetesObject, R> {
  /** API path of the collection, e.g. /api/v1/nodes. */
  path: string;
  query?: Record<string, string>;
  list: () => Promise<{ items: T[]; resourceVersion: string }>;
  /** Called with every object (by name) after the list and after each event; a value ends the wait. */
  check: (objects: ReadonlyMap<string, T>) => R | undefined;
  timeoutMs: number;
  /** Builds the timeout error from the last objects seen. */
  onTimeout: (objects: ReadonlyMap<string, T>) => KubewasmError;
}

export async function watchUntil<T extends KubernetesObject, R>(kube: Kube, options: WatchUntilOptions<T, R>): Promise<R> {
  const objects = new Map<string, T>();
  const deadline = Date.now() + options.timeoutMs;
  const abort = new AbortController();
  let result: R | undefined;
  const timer = setTimeout(() => abort.abort(), options.timeoutMs);
  try {
    while (!abort.signal.aborted) {
      const listed = await options.list();
      objects.clear();
      for (const o of listed.items) objects.set(o.metadata?.name ?? '', o);
      result = options.check(objects);
      if (result !== undefined) return result;
      let failedWatch: unknown;
      await kube
        .watchOnce(options.path, { ...options.query, resourceVersion: listed.resourceVersion }, (type, object) => {
          const name = object.metadata?.name ?? '';
          if (type === 'ADDED' || type === 'MODIFIED') objects.set(name, object as T);
          else if (type === 'DELETED') objects.delete(name);
          else return; // BOOKMARK, ERROR (410 Gone: list again)
          if (result === undefined) {
            result = options.check(objects);
            if (result !== undefined) abort.abort();
          }
        }, abort.signal)
        .catch((err: unknown) => {
          failedWatch = err;
        });
      if (result !== undefined) return result;
      if (failedWatch && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000)); // a dropped watch: list again after a pause
    }
    if (result !== undefined) return result;
    throw options.onTimeout(objects);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

// ---- nodes ----

export type NodeProgress =
  | { state: 'waiting'; message: string }
  | { state: 'done'; message: string }
  | { state: 'failed'; message: string };

/** Pure: how far a node is on its way to `desired` with `shims` ready. */
export function convergeProgress(node: V1Node | undefined, desired: string, shims: readonly string[]): NodeProgress {
  if (!node) return { state: 'failed', message: 'the Node was deleted' };
  const labels = node.metadata?.labels ?? {};
  const ann = node.metadata?.annotations ?? {};
  const state = ann[ANNOTATIONS.state];
  if (!isOptedIn(node.metadata ?? {})) return { state: 'failed', message: 'the opt-in label was removed' };
  if (ann[ANNOTATIONS.desired] !== desired) {
    return { state: 'waiting', message: state ? `installer pod starting (node reports an older spec, ${state})` : 'waiting for the installer pod' };
  }
  // Failed, or a user's own change the installer will not overwrite (Conflict): waiting longer changes nothing.
  if (state === 'Failed' || state === 'Conflict') return { state: 'failed', message: ann[ANNOTATIONS.lastError] ?? `${state.toLowerCase()} (no message)` };
  const notReady = shims.filter((s) => labels[readyLabel(s)] !== READY_VALUE);
  if (state === 'Ready' && notReady.length === 0) return { state: 'done', message: `ready: ${shims.join(', ')}` };
  return { state: 'waiting', message: state === 'Converging' ? 'installing shims, restarting containerd' : `${state ?? 'starting'}; not ready yet: ${notReady.join(', ')}` };
}

/** Pure: whether the installer finished cleaning a node (no kubewasm label or annotation left). */
export function resetProgress(node: V1Node | undefined): NodeProgress {
  if (!node) return { state: 'done', message: 'the Node is gone' };
  const labels = node.metadata?.labels ?? {};
  const ann = node.metadata?.annotations ?? {};
  if (labels[MANAGED_LABEL] === undefined && ann[ANNOTATIONS.state] === undefined) return { state: 'done', message: 'reset' };
  if (ann[ANNOTATIONS.state] === 'Failed') return { state: 'failed', message: ann[ANNOTATIONS.lastError] ?? 'reset failed' };
  return { state: 'waiting', message: ann[ANNOTATIONS.state] === 'Resetting' ? 'removing shims, restarting containerd' : 'waiting for the installer pod' };
}

/**
 * Waits until every named node is done or failed; `onProgress` hears each
 * change. Returns the last progress per node (failed ones included); throws
 * only on timeout, naming the nodes that were still waiting.
 */
export async function waitForNodes(
  kube: Kube,
  names: readonly string[],
  judge: (node: V1Node | undefined) => NodeProgress,
  options: { timeoutMs: number; onProgress?: (name: string, progress: NodeProgress) => void },
): Promise<Map<string, NodeProgress>> {
  const last = new Map<string, NodeProgress>();
  const settled = new Map<string, NodeProgress>();
  const evaluate = (objects: ReadonlyMap<string, V1Node>) => {
    for (const name of names) {
      if (settled.has(name)) continue;
      const p = judge(objects.get(name));
      const prev = last.get(name);
      if (!prev || prev.state !== p.state || prev.message !== p.message) {
        last.set(name, p);
        options.onProgress?.(name, p);
      }
      if (p.state !== 'waiting') settled.set(name, p);
    }
    return settled.size === names.length ? new Map(settled) : undefined;
  };
  if (names.length === 0) return new Map();
  return watchUntil<V1Node, Map<string, NodeProgress>>(kube, {
    path: '/api/v1/nodes',
    list: () => kube.call('list nodes', async () => {
      const list = await kube.core.listNode();
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    }),
    check: evaluate,
    timeoutMs: options.timeoutMs,
    onTimeout: () => {
      const waiting = names.filter((n) => !settled.has(n));
      return new KubewasmError({
        what: `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${waiting.map((n) => `${n} (${last.get(n)?.message ?? 'no news'})`).join(', ')}`,
        fix: `find the installer pod on ${waiting[0] ?? 'the node'} (kubectl -n kubewasm-system get pods -o wide) and read its log (kubectl -n kubewasm-system logs POD); kubewasm status shows what each node reports`,
      });
    },
  });
}
