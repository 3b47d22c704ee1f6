// Many nodes at once. runFleet owns the whole run: open every target once,
// read each node's architecture once (uname), provide the shims once for all
// architectures, converge or reset every node with at most `maxUnavailable`
// restarting containerd at any moment, and close every host once. A node that
// fails does not stop the others. scheduleFleet is the scheduling alone.
import { asKubewasmError, type KubewasmError } from '../errors.js';
import { execOk, type NodeHost } from '../host/host.js';
import { Semaphore } from '../host/semaphore.js';
import type { ShimBinary } from '../shims/binary.js';
import { parseArch, type Arch, type ShimInfo } from '../shims/catalog.js';
import type { ShimEvent } from '../shims/releases.js';
import { convergeNode, resetNode, type ConvergeOptions, type ConvergeResult } from './converge.js';
import { ShimByteCache } from './node-files.js';
import { provideShims, type ShimSupply } from './shim-supply.js';
import { openTarget, targetOptions, type NodeTarget } from './targets.js';

export type FleetOutcome =
  | { node: string; ok: true; result: ConvergeResult }
  | { node: string; ok: false; error: KubewasmError };

/** What every node is asked to become. */
export type FleetJob =
  | { kind: 'install'; shims: ShimInfo[]; supply: ShimSupply; installDir?: string | undefined }
  | { kind: 'uninstall' };

export type FleetEvent =
  | { type: 'step'; node: string; message: string }
  | { type: 'shim'; event: ShimEvent }
  | { type: 'done'; outcome: FleetOutcome };

export interface ScheduleOptions {
  /** At most this many nodes restart containerd at once (default 1). */
  maxUnavailable?: number;
  /** At most this many nodes are worked on at once (planned, uploading, restarting); default max(4, 2K + 2). */
  parallel?: number;
  /**
   * At most this many nodes upload at once (default max(2, K + 1)): enough to
   * keep the restart slots busy, few enough that the first nodes finish their
   * upload early instead of all of them sharing this machine's CPU and link to the end.
   */
  parallelUploads?: number;
  signal?: AbortSignal;
}

export interface RunFleetOptions extends ScheduleOptions {
  job: FleetJob;
  /** The command line's converge options; each target's own settings win over them. */
  converge?: ConvergeOptions;
  /** Opens a target's transport (default: openTarget). */
  open?: (target: NodeTarget) => Promise<NodeHost>;
}

export async function runFleet(targets: readonly NodeTarget[], options: RunFleetOptions, onEvent: (e: FleetEvent) => void = () => {}): Promise<FleetOutcome[]> {
  const open = options.open ?? ((t: NodeTarget) => openTarget(t));
  const step = (node: string, message: string) => onEvent({ type: 'step', node, message });
  const fail = (node: string, err: unknown) => asKubewasmError(err, asKubewasmError(err).where ? undefined : node);

  // Every node connects at once; one that cannot be reached fails alone.
  const nodes = await Promise.all(
    targets.map(async (target) => {
      step(target.name, 'connect');
      try {
        return { target, host: await open(target) } as FleetNode;
      } catch (err) {
        return { target, early: fail(target.name, err) } as FleetNode;
      }
    }),
  );
  try {
    const job = options.job;
    let shimsFor: (arch?: Arch) => ShimBinary[] = () => [];
    if (job.kind === 'install') {
      // Each node's architecture, read once: releases are fetched once per architecture, ready binaries checked against it.
      await Promise.all(nodes.map(async (n) => {
        if (n.early) return;
        try {
          n.arch = parseArch(await execOk(n.host!, ['uname', '-m']));
        } catch (err) {
          n.early = fail(n.target.name, err);
        }
      }));
      const archs = [...new Set(nodes.flatMap((n) => (n.arch && !n.early ? [n.arch] : [])))];
      if (archs.length) shimsFor = await provideShims(job.supply, job.shims, archs, (event) => onEvent({ type: 'shim', event }));
    }
    const units = nodes.map((n) => ({
      name: n.target.name,
      connect: async () => {
        if (n.early) throw n.early;
        return n;
      },
    }));
    // One copy of the shim bytes (read, checked, compressed once) for every node.
    const shimBytes = options.converge?.shimBytes ?? new ShimByteCache();
    const action = (n: FleetNode, gates: Gates): Promise<ConvergeResult> => {
      const converge = { ...targetOptions(options.converge ?? {}, n.target), shimBytes, ...gates };
      if (job.kind === 'uninstall') return resetNode(n.host!, converge);
      const installDir = n.target.installDir ?? job.installDir;
      return convergeNode(n.host!, { shims: shimsFor(n.arch), ...(installDir ? { installDir } : {}) }, converge);
    };
    return await scheduleFleet(units, action, { ...options, onStep: step, onDone: (outcome) => onEvent({ type: 'done', outcome }) });
  } finally {
    // Each host is closed here and only here, once, whatever happened to its node.
    await Promise.all(nodes.map((n) => n.host?.close().catch(() => {})));
  }
}

interface FleetNode {
  target: NodeTarget;
  host?: NodeHost;
  /** Read once, with uname. */
  arch?: Arch;
  /** The node failed before its turn (connect, uname). */
  early?: KubewasmError;
}

export type Gates = Pick<ConvergeOptions, 'restartGate' | 'uploadGate' | 'onStep' | 'signal'>;

export interface Schedulable<H> {
  name: string;
  /** What the action works on (a connected host); a rejection fails the node. */
  connect(): Promise<H>;
}

/** Runs `action` on every node under the fleet's limits; outcomes in the order given. Closing hosts is the caller's. */
export async function scheduleFleet<H>(
  nodes: readonly Schedulable<H>[],
  action: (node: H, gates: Gates) => Promise<ConvergeResult>,
  options: ScheduleOptions & { onStep?: (node: string, message: string) => void; onDone?: (o: FleetOutcome) => void } = {},
): Promise<FleetOutcome[]> {
  const maxUnavailable = options.maxUnavailable ?? 1;
  const restarts = new Semaphore(maxUnavailable);
  const uploads = new Semaphore(options.parallelUploads ?? Math.max(2, maxUnavailable + 1));
  const workers = new Semaphore(options.parallel ?? Math.max(4, 2 * maxUnavailable + 2));
  const restartGate = <T>(fn: () => Promise<T>) => restarts.run(fn);
  const uploadGate = <T>(fn: () => Promise<T>) => uploads.run(fn);
  return Promise.all(
    nodes.map((node) =>
      workers.run(async (): Promise<FleetOutcome> => {
        let outcome: FleetOutcome;
        try {
          if (options.signal?.aborted) throw new Error('interrupted before this node was started');
          const onStep = (m: string) => options.onStep?.(node.name, m);
          const result = await action(await node.connect(), { restartGate, uploadGate, onStep, ...(options.signal ? { signal: options.signal } : {}) });
          outcome = { node: node.name, ok: true, result };
        } catch (err) {
          outcome = { node: node.name, ok: false, error: asKubewasmError(err, asKubewasmError(err).where ? undefined : node.name) };
        }
        options.onDone?.(outcome);
        return outcome;
      }),
    ),
  );
}
