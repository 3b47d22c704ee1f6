// The connection to a cluster, loaded as kubectl loads it (--kubeconfig, then
// $KUBECONFIG, then ~/.kube/config, then in-cluster), and the few API calls
// kubewasm makes, each with a timeout and an error a user can act on.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  NodeV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { KubewasmError, UsageError } from '../errors.js';
import { explainKubeError, isNotFound } from './api-errors.js';
import { FIELD_MANAGER } from './names.js';

export interface KubeTarget {
  /** --kubeconfig FILE */
  kubeconfig?: string | undefined;
  /** --context NAME */
  context?: string | undefined;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Loads the kubeconfig like kubectl: an explicit file, $KUBECONFIG (merged), ~/.kube/config, or in-cluster. */
export function loadKubeConfig(target: KubeTarget = {}, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (target.kubeconfig) {
      if (!existsSync(target.kubeconfig)) throw new UsageError(`the kubeconfig '${target.kubeconfig}' does not exist`, 'give the path of a kubeconfig file with --kubeconfig');
      kc.loadFromFile(target.kubeconfig);
    } else if (env['KUBECONFIG']) {
      // kubectl's rule: the files in $KUBECONFIG merged, the first one to set a value wins.
      const files = env['KUBECONFIG'].split(path.delimiter).filter(Boolean);
      kc.loadFromFile(files[0]!);
      for (const file of files.slice(1)) {
        if (!existsSync(file)) continue;
        const more = new KubeConfig();
        more.loadFromFile(file);
        for (const c of more.clusters) if (!kc.getCluster(c.name)) kc.addCluster(c);
        for (const u of more.users) if (!kc.getUser(u.name)) kc.addUser(u);
        for (const c of more.contexts) if (!kc.getContextObject(c.name)) kc.addContext(c);
        if (!kc.getCurrentContext() && more.getCurrentContext()) kc.setCurrentContext(more.getCurrentContext());
      }
    } else if (existsSync(path.join(os.homedir(), '.kube', 'config'))) {
      kc.loadFromFile(path.join(os.homedir(), '.kube', 'config'));
    } else if (existsSync(SERVICE_ACCOUNT_TOKEN) && env['KUBERNETES_SERVICE_HOST']) {
      kc.loadFromCluster();
    } else {
      throw new KubewasmError({ what: 'no kubeconfig found (no --kubeconfig, no $KUBECONFIG, no ~/.kube/config, not in a pod)', fix: 'point kubewasm at your cluster with --kubeconfig FILE or $KUBECONFIG' });
    }
  } catch (err) {
    if (err instanceof KubewasmError) throw err;
    throw new KubewasmError({ what: `cannot read the kubeconfig: ${(err as Error).message}`, where: target.kubeconfig ?? env['KUBECONFIG'] ?? '~/.kube/config', fix: 'check the file (kubectl config view)', cause: err });
  }
  if (target.context) {
    if (!kc.getContexts().some((c) => c.name === target.context)) {
      throw new UsageError(`the kubeconfig has no context '${target.context}'`, `choose one of: ${kc.getContexts().map((c) => c.name).join(', ') || '(none)'}`);
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubewasmError({ what: 'the kubeconfig has no current cluster', fix: 'choose a context with --context NAME (kubectl config get-contexts)' });
  }
  return kc;
}

export interface CallOptions {
  timeoutMs?: number;
  /** For messages: the object the call is about. */
  object?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class Kube {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly nodeApi: NodeV1Api;
  readonly objects: KubernetesObjectApi;
  readonly server: string;
  readonly context: string;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.nodeApi = kc.makeApiClient(NodeV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.server = kc.getCurrentCluster()?.server ?? '(no server)';
    this.context = kc.getCurrentContext();
  }

  static connect(target: KubeTarget = {}): Kube {
    return new Kube(loadKubeConfig(target));
  }

  /** Runs one API call with a timeout; failures become KubewasmErrors that say what to do. */
  async call<T>(what: string, fn: () => Promise<T>, options: CallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'KUBEWASM_TIMEOUT' })), timeoutMs);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      throw explainKubeError(err, what, { server: this.server, context: this.context, object: options.object });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Server-side apply with kubewasm's field manager; `dryRun` asks the server to validate only. */
  apply<T extends KubernetesObject>(object: T, options: { dryRun?: boolean } = {}): Promise<T> {
    return this.call(`apply ${describe(object)}`, () => this.objects.patch(object, undefined, options.dryRun ? 'All' : undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }

  /** Reads an object; undefined when it does not exist. */
  async read<T extends KubernetesObject>(object: KubernetesObject): Promise<T | undefined> {
    try {
      return (await this.objects.read(object as never)) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw explainKubeError(err, `read ${describe(object)}`, { server: this.server, context: this.context });
    }
  }

  /** Deletes an object; false when it was already gone. */
  async delete(object: KubernetesObject, options: { gracePeriodSeconds?: number } = {}): Promise<boolean> {
    try {
      await this.objects.delete(object, undefined, undefined, options.gracePeriodSeconds);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw explainKubeError(err, `delete ${describe(object)}`, { server: this.server, context: this.context });
    }
  }

  listNodes(labelSelector?: string): Promise<V1Node[]> {
    return this.call('list nodes', async () => (await this.core.listNode({ ...(labelSelector ? { labelSelector } : {}) })).items);
  }

  async readNode(name: string): Promise<V1Node | undefined> {
    try {
      return await this.core.readNode({ name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw explainKubeError(err, `read node ${name}`, { server: this.server, context: this.context });
    }
  }

  /** A JSON merge patch (RFC 7386) of a Node: null removes a label or annotation. */
  patchNode(name: string, patch: object): Promise<V1Node> {
    return this.call(`patch node ${name}`, () => this.core.patchNode({ name, body: patch, fieldManager: FIELD_MANAGER }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
  }

  listPods(options: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Promise<V1Pod[]> {
    const query = { ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}), ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}) };
    return this.call('list pods', async () =>
      (options.namespace ? await this.core.listNamespacedPod({ namespace: options.namespace, ...query }) : await this.core.listPodForAllNamespaces(query)).items,
    );
  }

  /**
   * Watches a collection from `resourceVersion` on, calling `onEvent` for each
   * change, until `stop` is called; returns when the server closes the watch
   * (the caller lists again and re-watches).
   */
  async watchOnce(pathname: string, query: Record<string, string>, onEvent: (type: string, object: KubernetesObject) => void, signal: AbortSignal): Promise<void> {
    const watch = new Watch(this.kc);
    await new Promise<void>((resolve, reject) => {
      let controller: AbortController | undefined;
      const onAbort = () => controller?.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      watch
        .watch(pathname, { ...query, allowWatchBookmarks: true, timeoutSeconds: 300 }, (type, object) => onEvent(type, object as KubernetesObject), (err) => {
          signal.removeEventListener('abort', onAbort);
          if (err && !signal.aborted && (err as { name?: string }).name !== 'AbortError') reject(explainKubeError(err, `watch ${pathname}`, { server: this.server, context: this.context }));
          else resolve();
        })
        .then((c) => {
          controller = c;
          if (signal.aborted) c.abort();
        }, reject);
    });
  }
}

function describe(o: KubernetesObject): string {
  return `${o.kind ?? 'object'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;
}
