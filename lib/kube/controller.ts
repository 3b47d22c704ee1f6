// The node installer's controller (run by cmd/node-installer.ts in the
// DaemonSet pod): it watches its own Node and its node's files, brings the
// node to what the Node's labels ask for with the same node algorithm as
// `kubewasm node install`, and says on the Node what it found. It trusts what
// it observes on the node, never a marker: each reconcile reads the node's
// files and containerd afresh.
//
// Drift: the config it manages, the shims it placed, its record and
// containerd's socket are watched (node-watch.ts); a change is re-checked
// within seconds. When a node that was Ready no longer matches, its ready
// labels go first (state Drifted, last-error says why, a Warning event), then
// it is converged again, and it is Ready again only after containerd's CRI
// lists the runtime and the shim runs. A user's own change (a hand edit inside
// kubewasm's block, a runtime of theirs under kubewasm's name) is reported
// once (state Conflict, an event) and left alone: no restart loop.
import type { V1Node } from '@kubernetes/client-node';
import { asKubewasmError, KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import { convergeNode, resetNode, type ConvergeOptions } from '../node/converge.js';
import { acquireNodeLock, lockPathFor } from '../node/node-lock.js';
import { planIsEmpty, type NodeDesired } from '../node/plan.js';
import { DEFAULT_STATE_DIR, writeRecord } from '../node/record.js';
import type { Kube } from './client.js';
import { ANNOTATIONS, readyLabel, READY_VALUE } from './names.js';
import { checkNode, type NodeCheck } from './node-check.js';
import { NodeEvents, type NodeEventReason } from './node-events.js';
import { backoffMs, handEditedBlock, hasKubewasmMarks, isOptedIn, nodePatch, type NodeMeta, type NodeReport } from './node-report.js';
import { NodeWatcher } from './node-watch.js';

export { checkNode, type NodeCheck } from './node-check.js';

export interface ControllerConfig {
  kube: Kube;
  nodeName: string;
  host: NodeHost;
  desired: NodeDesired;
  /** desiredDigest() of the DaemonSet's spec; written to the node so `install` can tell which spec a node reached. */
  desiredDigest: string;
  nodeOptions?: ConvergeOptions;
  /** Where the node's / is mounted for the watch ("/host" in the pod, "/" on the node itself); no file watch without it. */
  hostRoot?: string;
  /** The watch's poll of cheap file facts (default 2 s). */
  pollMs?: number;
  /** Re-check the node this often even without a change seen (default 5 min): a backstop only. */
  resyncMs?: number;
  /** Resolves once the readiness probe has answered "ready" (so the pod is Ready before the Node says so). */
  readinessGate?: () => Promise<void>;
  /** Record Kubernetes Events on the Node (default true). */
  events?: boolean;
  log?: (line: string) => void;
  now?: () => Date;
}

export class NodeController {
  private readonly config: ControllerConfig;
  private readonly log: (line: string) => void;
  private readonly now: () => Date;
  private readonly abort = new AbortController();
  private readonly events: NodeEvents | undefined;
  private readonly watcher: NodeWatcher | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private pendingReasons: string[] = [];
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private lastOptIn: boolean | undefined;
  private watching: Promise<void> | undefined;
  /** For the readiness probe: the node, as last checked, runs every wanted shim. */
  status: { ready: boolean; message: string } = { ready: false, message: 'starting' };
  /** For tests and figures: reconciles by what caused them, and drifts handled. */
  readonly stats = { reconciles: 0, drifts: 0, converges: 0, conflicts: 0 };

  constructor(config: ControllerConfig) {
    this.config = config;
    this.log = config.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.now = config.now ?? (() => new Date());
    if (config.events !== false) this.events = new NodeEvents(config.kube, config.nodeName, this.log, this.now);
    if (config.hostRoot !== undefined) {
      this.watcher = new NodeWatcher({ root: config.hostRoot, pollMs: config.pollMs, onChange: (why) => void this.trigger(`node changed: ${why}`), log: this.log });
    }
  }

  /** Reconciles once, then keeps watching the Node (and the node's files) until stop(). */
  start(): void {
    void this.trigger('start');
    this.watching = this.watchLoop();
    this.resyncTimer = setInterval(() => void this.trigger('resync'), this.config.resyncMs ?? 300_000);
  }

  /** Stops watching and waits for a reconcile in progress (a containerd restart is not cut in half). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.watcher?.stop();
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    await this.running;
    await this.watching?.catch(() => {});
  }

  /** The files watched now (empty without hostRoot). */
  get watched(): readonly string[] {
    return this.watcher?.watched.map((w) => w.path) ?? [];
  }

  /** Asks for a reconcile; one runs at a time, and a trigger during a run causes one more run. */
  trigger(reason: string): Promise<void> {
    if (this.abort.signal.aborted) return Promise.resolve();
    this.dirty = true;
    this.pendingReasons.push(reason);
    if (!this.running) {
      this.running = (async () => {
        while (this.dirty && !this.abort.signal.aborted) {
          this.dirty = false;
          const reasons = [...new Set(this.pendingReasons)].join('; ');
          this.pendingReasons = [];
          await this.reconcile(reasons);
        }
      })().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** One pass: read the Node, check (and converge or reset) the node, report. Never throws. */
  async reconcile(reason = 'manual'): Promise<void> {
    const { kube, nodeName } = this.config;
    this.stats.reconciles += 1;
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
    if (optIn) await this.converge(node, reason);
    else await this.reset(node);
  }

  private async converge(node: V1Node, reason: string): Promise<void> {
    const { host, desired, desiredDigest, nodeOptions = {} } = this.config;
    let meta: NodeMeta = node.metadata ?? {};
    const ann = meta.annotations ?? {};
    try {
      const seen = await checkNode(host, desired, nodeOptions);
      await this.watcher?.watch(seen.watch);
      const sameSpec = ann[ANNOTATIONS.desired] === desiredDigest;
      if (seen.problems.length === 0 && sameSpec) return await this.ready(meta, seen, ann[ANNOTATIONS.state] !== 'Ready');

      // A user's own change wins: said once, never overwritten, never retried in a loop.
      const handEdit = !seen.userConflict && handEditedBlock({ ...seen.block, recorded: ann[ANNOTATIONS.blockDigest] });
      if (seen.userConflict || handEdit) return await this.conflict(meta, seen, handEdit);

      const wasReady = sameSpec && (ann[ANNOTATIONS.state] === 'Ready' || ann[ANNOTATIONS.state] === 'Conflict');
      if (wasReady) {
        // Drift: the ready labels go before anything else, so no new Wasm pod is scheduled here meanwhile.
        this.stats.drifts += 1;
        const why = `the node drifted: ${seen.problems.join('; ')} (seen as: ${reason})`;
        this.status = { ready: false, message: why };
        this.log(`${why}; removing the ready labels and converging again`);
        meta = await this.report(meta, { phase: 'Drifted', desired: desiredDigest, ready: [], error: why, time: this.now().toISOString() });
        await this.event('Warning', 'Drifted', `${seen.problems.join('; ')}; kubewasm removed the ready label(s) and converges the node again`);
      } else {
        this.status = { ready: false, message: `converging: ${seen.problems.join('; ') || 'a new spec'}` };
        meta = await this.report(meta, { phase: 'Converging', desired: desiredDigest, keepReady: seen.ready });
      }

      this.stats.converges += 1;
      const result = await convergeNode(host, desired, { ...nodeOptions, onStep: (m) => this.log(`  ${m}`) });
      if (result.recovered) this.log('rolled back an interrupted earlier run first');
      if (!result.applied && seen.plan && planIsEmpty(seen.plan)) await this.restoreRecord(seen);
      const after = await checkNode(host, desired, nodeOptions);
      await this.watcher?.watch(after.watch);
      if (after.problems.length) {
        throw new KubewasmError({
          what: `the node does not match after converging: ${after.problems.join('; ')}`,
          where: host.name,
          fix: "read containerd's log on the node (journalctl -u containerd) and the installer's log (kubectl -n kubewasm-system logs POD)",
        });
      }
      await this.ready(meta, after, true);
    } catch (err) {
      await this.failed(meta, err, 'converge the node');
    }
  }

  /** The node matches: ready labels after the probe says so, an event when it just became ready. */
  private async ready(meta: NodeMeta, seen: NodeCheck, announce: boolean): Promise<void> {
    const { desired, desiredDigest } = this.config;
    const message = `ready: ${seen.ready.join(', ') || '(no shims)'}`;
    const wasReady = this.status.ready;
    this.status = { ready: seen.ready.length === desired.shims.length, message };
    if (!wasReady && this.status.ready) await this.config.readinessGate?.();
    const report = (time: string): NodeReport => ({ phase: 'Ready', desired: desiredDigest, ready: seen.ready, shims: seen.shims, configDigest: seen.configDigest, containerd: seen.containerd, blockDigest: seen.block.onNode, time });
    // Only the check's time would change: say nothing.
    const previous = meta.annotations?.[ANNOTATIONS.updated];
    if (!previous || nodePatch(meta, report(previous))) await this.report(meta, report(this.now().toISOString()));
    if (announce) await this.event('Normal', 'Converged', `kubewasm's shims are ready: ${seen.ready.join(', ') || '(none)'} (${seen.containerd})`);
    this.succeeded(message);
  }

  /** A user's own change: reported on the Node once, left alone; re-checked when the node changes again. */
  private async conflict(meta: NodeMeta, seen: NodeCheck, handEdit: boolean): Promise<void> {
    const { desired, desiredDigest } = this.config;
    const path = seen.facts.containerd.config.path;
    const message = handEdit
      ? `kubewasm's block in ${path} was edited by hand (it is ${seen.block.onNode?.slice(0, 19)}…, kubewasm wrote ${meta.annotations?.[ANNOTATIONS.blockDigest]?.slice(0, 19)}…); kubewasm leaves your edit and does not restart containerd. To hand the block back, undo the edit or remove the block (kubewasm then writes it anew)`
      : `${seen.userConflict!.what} (${seen.userConflict!.where ?? path}); kubewasm leaves it and does not restart containerd. Fix: ${seen.userConflict!.fix ?? 'resolve it by hand'}`;
    // The runtime may well work as the user has it: ready follows what containerd runs (never for a runtime of theirs).
    const ready = handEdit ? seen.ready : [];
    this.status = { ready: ready.length === desired.shims.length, message: `conflict: ${message}` };
    const already = meta.annotations?.[ANNOTATIONS.state] === 'Conflict' && meta.annotations?.[ANNOTATIONS.lastError] === message;
    if (!already) {
      this.stats.conflicts += 1;
      this.log(`conflict: ${message}`);
      await this.report(meta, { phase: 'Conflict', desired: desiredDigest, ready, error: message, time: this.now().toISOString() });
      await this.event('Warning', 'Conflict', message);
    }
    this.failures = 0;
    clearTimeout(this.retryTimer);
  }

  /** The node matches but kubewasm's record of it is gone (rm -rf /var/lib/kubewasm): write it again, under the node lock. */
  private async restoreRecord(seen: NodeCheck): Promise<void> {
    const { host, nodeOptions = {} } = this.config;
    if (!seen.plan?.record) return;
    const stateDir = nodeOptions.stateDir ?? DEFAULT_STATE_DIR;
    const lock = await acquireNodeLock(host, nodeOptions.lockPath ?? lockPathFor(stateDir), nodeOptions.owner);
    try {
      this.log(`  write kubewasm's record again (${stateDir})`);
      await writeRecord(host, stateDir, { ...seen.plan.record, updatedAt: this.now().toISOString() });
    } finally {
      await lock.release();
    }
  }

  private async reset(node: V1Node): Promise<void> {
    const { host, nodeOptions = {} } = this.config;
    let meta: NodeMeta = node.metadata ?? {};
    this.watcher?.stop();
    try {
      const dry = await resetNode(host, { ...nodeOptions, dryRun: true });
      if (!planIsEmpty(dry.plan) || hasKubewasmMarks(meta)) {
        meta = await this.report(meta, { phase: 'Resetting' });
        const result = await resetNode(host, { ...nodeOptions, onStep: (m) => this.log(`  ${m}`) });
        if (result.applied) {
          this.log('reset: kubewasm removed its shims and config block');
          await this.event('Normal', 'Reset', "kubewasm removed its shims and its config block (the node's opt-in label is gone)");
        }
      }
      await this.report(meta, { phase: 'Reset' });
      this.status = { ready: true, message: 'not opted in; nothing of kubewasm on the node' };
      this.succeeded(this.status.message);
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

  private async event(type: 'Normal' | 'Warning', reason: NodeEventReason, message: string): Promise<void> {
    await this.events?.record(type, reason, message);
  }

  private succeeded(message: string): void {
    this.failures = 0;
    clearTimeout(this.retryTimer);
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
        ready = (await checkNode(this.config.host, this.config.desired, this.config.nodeOptions)).ready;
      } catch {
        // the node cannot even be inspected: nothing is ready
      }
      if (!isOptedIn(meta)) ready = [];
      try {
        await this.report(meta, { phase: 'Failed', ...(isOptedIn(meta) ? { desired: this.config.desiredDigest } : {}), ready, error: message, time: this.now().toISOString() });
      } catch (patchError) {
        this.log(`cannot record the failure on the Node: ${asKubewasmError(patchError).message}`);
      }
      await this.event('Warning', isOptedIn(meta) ? 'ConvergeFailed' : 'ResetFailed', `${message} (retrying in ${Math.round(delay / 1000)}s)`);
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.trigger('retry'), delay);
  }

  /** List + watch of the own Node; a change of the opt-in label, or a ready label removed by someone, triggers a reconcile. */
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
    const meta = node.metadata ?? {};
    const optIn = isOptedIn(meta);
    if (this.lastOptIn !== undefined && optIn !== this.lastOptIn) {
      this.lastOptIn = optIn;
      void this.trigger(optIn ? 'opt-in label set' : 'opt-in label removed');
      return;
    }
    // The Node lost its marks while the node is fine (a re-registered Node object, a hand edit): say it again.
    if (optIn && this.status.ready && !this.running && meta.annotations?.[ANNOTATIONS.state] === 'Ready') {
      const missing = this.config.desired.shims.some((s) => meta.labels?.[readyLabel(s.shim.name)] !== READY_VALUE);
      if (missing) void this.trigger('a ready label was removed from the Node');
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
