// The node installer's controller (run by cmd/node-installer.ts in the
// DaemonSet pod): it watches its own Node and brings the node to what the
// Node's labels ask for, with the same node algorithm as `kubewasm node
// install`, then says on the Node what it found. It trusts what it observes on
// the node, never a marker: each reconcile reads the node's files and
// containerd afresh, so a node re-imaged under the same name is converged again.
import { createHash } from 'node:crypto';
import type { V1Node } from '@kubernetes/client-node';
import { criStatus } from '../containerd/service.js';
import { asKubewasmError } from '../errors.js';
import { readNodeFacts } from '../node/apply.js';
import { convergeNode, resetNode, type ConvergeOptions } from '../node/converge.js';
import type { NodeHost } from '../host/host.js';
import { planIsEmpty, type NodeDesired } from '../node/plan.js';
import type { Kube } from './client.js';
import { backoffMs, hasKubewasmMarks, isOptedIn, nodePatch, type InstalledShimReport, type NodeMeta, type NodeReport } from './node-report.js';

export interface ControllerConfig {
  kube: Kube;
  nodeName: string;
  host: NodeHost;
  desired: NodeDesired;
  /** desiredDigest() of the DaemonSet's spec; written to the node so `install` can tell which spec a node reached. */
  desiredDigest: string;
  nodeOptions?: ConvergeOptions;
  /** Re-check the node this often even without events (default 5 min). */
  resyncMs?: number;
  log?: (line: string) => void;
  now?: () => Date;
}

export interface Observation {
  /** Shims whose binary on the node has the expected digest and whose runtime containerd's CRI runs. */
  ready: string[];
  /** Why the others are not ready. */
  problems: string[];
  shims: InstalledShimReport[];
  configDigest?: string;
  containerd: string;
}

/** What containerd on the node runs now, checked against the desired shims. */
export async function observeNode(host: NodeHost, desired: NodeDesired, options: ConvergeOptions = {}): Promise<Observation> {
  const facts = await readNodeFacts(host, desired, options);
  const { setup, version, config } = facts.containerd;
  const cri = await criStatus(host, setup);
  const dir = desired.installDir ?? setup.shimDir;
  const ready: string[] = [];
  const problems: string[] = [];
  for (const source of desired.shims) {
    const path = `${dir}/${source.shim.binaryName}`;
    const onNode = facts.fileDigests[path];
    if (onNode !== source.sha256) problems.push(`${source.shim.name}: ${path} ${onNode ? `has sha256 ${onNode.slice(0, 12)}…, expected ${source.sha256.slice(0, 12)}…` : 'is missing'}`);
    else if (!cri.ready) problems.push(`${source.shim.name}: containerd's CRI is not ready (${cri.detail})`);
    else if (cri.runtimes && !cri.runtimes.includes(source.shim.runtimeName)) problems.push(`${source.shim.name}: containerd's CRI does not list runtime ${source.shim.runtimeName}`);
    else ready.push(source.shim.name);
  }
  const configVersion = /^\s*version\s*=\s*(\d+)/m.exec(config.content?.toString('utf8') ?? '')?.[1];
  return {
    ready,
    problems,
    shims: desired.shims.map((s) => ({ name: s.shim.name, ...(s.version ? { version: s.version } : {}), sha256: s.sha256, runtime: s.shim.runtimeName })),
    ...(config.content ? { configDigest: `sha256:${createHash('sha256').update(config.content).digest('hex')}` } : {}),
    containerd: `${version.raw}${configVersion ? ` config v${configVersion}` : ''} ${config.path}`,
  };
}

export class NodeController {
  private readonly config: ControllerConfig;
  private readonly log: (line: string) => void;
  private readonly now: () => Date;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private dirty = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private lastOptIn: boolean | undefined;
  private watching: Promise<void> | undefined;
  /** For the readiness probe: the last reconcile succeeded. */
  status: { ready: boolean; message: string } = { ready: false, message: 'starting' };

  constructor(config: ControllerConfig) {
    this.config = config;
    this.log = config.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.now = config.now ?? (() => new Date());
  }

  /** Reconciles once, then keeps watching the Node until stop(). */
  start(): void {
    this.trigger('start');
    this.watching = this.watchLoop();
    this.resyncTimer = setInterval(() => this.trigger('resync'), this.config.resyncMs ?? 300_000);
  }

  /** Stops watching and waits for a reconcile in progress (a containerd restart is not cut in half). */
  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    await this.running;
    await this.watching?.catch(() => {});
  }

  /** Asks for a reconcile; one runs at a time, and a trigger during a run causes one more run. */
  trigger(reason: string): Promise<void> {
    if (this.abort.signal.aborted) return Promise.resolve();
    this.dirty = true;
    if (!this.running) {
      this.running = (async () => {
        while (this.dirty && !this.abort.signal.aborted) {
          this.dirty = false;
          await this.reconcile(reason);
        }
      })().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** One pass: read the Node, converge or reset the node, report. Never throws. */
  async reconcile(reason = 'manual'): Promise<void> {
    const { kube, nodeName } = this.config;
    let node: V1Node | undefined;
    try {
      node = await kube.readNode(nodeName);
    } catch (err) {
      return this.failed(undefined, err, 'read its Node');
    }
    if (!node) {
      this.status = { ready: false, message: `Node ${nodeName} does not exist` };
      this.log(`node ${nodeName} not found; waiting`);
      return;
    }
    const optIn = isOptedIn(node.metadata ?? {});
    this.lastOptIn = optIn;
    this.log(`reconcile (${reason}): node ${nodeName} is ${optIn ? 'opted in' : 'not opted in'}`);
    if (optIn) await this.converge(node);
    else await this.reset(node);
  }

  private async converge(node: V1Node): Promise<void> {
    const { host, desired, desiredDigest, nodeOptions = {} } = this.config;
    let meta: NodeMeta = node.metadata ?? {};
    try {
      const dry = await convergeNode(host, desired, { ...nodeOptions, dryRun: true });
      if (!planIsEmpty(dry.plan) || meta.annotations?.['kubewasm.io/desired'] !== desiredDigest) {
        meta = await this.report(meta, { phase: 'Converging', desired: desiredDigest, keepReady: desired.shims.map((s) => s.shim.name) });
      }
      const result = await convergeNode(host, desired, { ...nodeOptions, onStep: (m) => this.log(`  ${m}`) });
      if (result.recovered) this.log('rolled back an interrupted earlier run first');
      if (result.applied) this.log(`converged: ${desired.shims.map((s) => s.shim.name).join(', ') || '(no shims)'}`);
      const seen = await observeNode(host, desired, nodeOptions);
      if (seen.problems.length) throw new Error(`containerd does not run every shim: ${seen.problems.join('; ')}`);
      await this.report(meta, { phase: 'Ready', desired: desiredDigest, ready: seen.ready, shims: seen.shims, configDigest: seen.configDigest, containerd: seen.containerd, time: this.now().toISOString() });
      this.succeeded(`ready: ${seen.ready.join(', ') || '(no shims)'}`);
    } catch (err) {
      await this.failed(meta, err, 'converge the node');
    }
  }

  private async reset(node: V1Node): Promise<void> {
    const { host, nodeOptions = {} } = this.config;
    let meta: NodeMeta = node.metadata ?? {};
    try {
      const dry = await resetNode(host, { ...nodeOptions, dryRun: true });
      if (!planIsEmpty(dry.plan) || hasKubewasmMarks(meta)) {
        meta = await this.report(meta, { phase: 'Resetting' });
        const result = await resetNode(host, { ...nodeOptions, onStep: (m) => this.log(`  ${m}`) });
        if (result.applied) this.log('reset: kubewasm removed its shims and config block');
      }
      await this.report(meta, { phase: 'Reset' });
      this.succeeded('not opted in; nothing of kubewasm on the node');
    } catch (err) {
      await this.failed(meta, err, 'reset the node');
    }
  }

  /** Writes the report's labels and annotations (only what differs); returns the Node's new metadata. */
  private async report(meta: NodeMeta, report: NodeReport): Promise<NodeMeta> {
    const patch = nodePatch(meta, report);
    if (!patch) return meta;
    const updated = await this.config.kube.patchNode(this.config.nodeName, patch);
    return updated.metadata ?? {};
  }

  private succeeded(message: string): void {
    this.failures = 0;
    clearTimeout(this.retryTimer);
    this.status = { ready: true, message };
    this.log(message);
  }

  private async failed(meta: NodeMeta | undefined, err: unknown, what: string): Promise<void> {
    const error = asKubewasmError(err);
    this.failures += 1;
    const delay = backoffMs(this.failures);
    const message = `cannot ${what}: ${error.message.replace(/\n\s*/g, ' ')}`;
    this.status = { ready: false, message };
    this.log(`${message} (attempt ${this.failures}; retrying in ${Math.round(delay / 1000)}s)`);
    if (meta) {
      let ready: string[] = [];
      try {
        ready = (await observeNode(this.config.host, this.config.desired, this.config.nodeOptions)).ready;
      } catch {
        // the node cannot even be inspected: nothing is ready
      }
      if (!isOptedIn(meta)) ready = [];
      try {
        await this.report(meta, { phase: 'Failed', ...(isOptedIn(meta) ? { desired: this.config.desiredDigest } : {}), ready, error: message, time: this.now().toISOString() });
      } catch (patchError) {
        this.log(`cannot record the failure on the Node: ${asKubewasmError(patchError).message}`);
      }
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.trigger('retry'), delay);
  }

  /** List + watch of the own Node; a change of the opt-in label triggers a reconcile. */
  private async watchLoop(): Promise<void> {
    const { kube, nodeName } = this.config;
    const signal = this.abort.signal;
    let errors = 0;
    while (!signal.aborted) {
      try {
        const list = await kube.call('list its Node', () => kube.core.listNode({ fieldSelector: `metadata.name=${nodeName}` }));
        this.onNode(list.items[0]);
        await kube.watchOnce('/api/v1/nodes', { fieldSelector: `metadata.name=${nodeName}`, resourceVersion: list.metadata?.resourceVersion ?? '' }, (type, object) => {
          if (type === 'ADDED' || type === 'MODIFIED') this.onNode(object as V1Node);
        }, signal);
        errors = 0;
      } catch (err) {
        errors += 1;
        this.log(`watching Node ${nodeName} failed: ${asKubewasmError(err).message.split('\n')[0]}`);
        await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(errors, 5)), signal);
      }
    }
  }

  private onNode(node: V1Node | undefined): void {
    if (!node) return;
    const optIn = isOptedIn(node.metadata ?? {});
    if (this.lastOptIn !== undefined && optIn !== this.lastOptIn) {
      this.lastOptIn = optIn;
      void this.trigger(optIn ? 'opt-in label set' : 'opt-in label removed');
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
