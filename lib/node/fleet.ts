// Many nodes at once: every node connects, plans and uploads concurrently;
// at most `maxUnavailable` of them are in the restart step (config write,
// containerd restart, CRI wait, and its rollback) at any moment. A node that
// fails does not stop the others.
import { asKubewasmError, type KubewasmError } from '../errors.js';
import type { ConvergeOptions, ConvergeResult } from './converge.js';
import type { NodeHost } from '../host/host.js';
import { Semaphore } from '../host/semaphore.js';

export interface FleetNode {
  /** Name for progress and results. */
  name: string;
  /** Opens the transport. */
  connect(): Promise<NodeHost>;
}

export type FleetOutcome =
  | { node: string; ok: true; result: ConvergeResult }
  | { node: string; ok: false; error: KubewasmError };

export interface FleetOptions {
  /** At most this many nodes restart containerd at once (default 1). */
  maxUnavailable?: number;
  /** At most this many nodes are worked on at once (connected, planned, uploading, restarting); default max(4, 2K + 2). */
  parallel?: number;
  /**
   * At most this many nodes upload at once (default max(4, 2K)): enough to keep
   * the restart slots busy, few enough that the first nodes finish their upload
   * early instead of all of them sharing this machine's CPU and link to the end.
   */
  parallelUploads?: number;
  /** Per-node progress. */
  onStep?: (node: string, message: string) => void;
  /** Called as each node finishes. */
  onDone?: (outcome: FleetOutcome) => void;
  signal?: AbortSignal;
}

/** What to do on one node, given its host and the options that carry the fleet's restart gate. */
export type NodeAction = (host: NodeHost, options: Pick<ConvergeOptions, 'restartGate' | 'uploadGate' | 'onStep' | 'signal'>) => Promise<ConvergeResult>;

export async function runFleet(nodes: FleetNode[], action: NodeAction, options: FleetOptions = {}): Promise<FleetOutcome[]> {
  const maxUnavailable = options.maxUnavailable ?? 1;
  const restarts = new Semaphore(maxUnavailable);
  const uploads = new Semaphore(options.parallelUploads ?? Math.max(2, maxUnavailable + 1));
  const workers = new Semaphore(options.parallel ?? Math.max(4, 2 * maxUnavailable + 2));
  const restartGate = <T>(fn: () => Promise<T>) => restarts.run(fn);
  const uploadGate = <T>(fn: () => Promise<T>) => uploads.run(fn);
  return Promise.all(
    nodes.map((node) =>
      workers.run(async (): Promise<FleetOutcome> => {
        const onStep = (message: string) => options.onStep?.(node.name, message);
        let outcome: FleetOutcome;
        let host: NodeHost | undefined;
        try {
          if (options.signal?.aborted) throw new Error('interrupted before this node was started');
          onStep('connect');
          host = await node.connect();
          const result = await action(host, { restartGate, uploadGate, onStep, ...(options.signal ? { signal: options.signal } : {}) });
          outcome = { node: node.name, ok: true, result };
        } catch (err) {
          outcome = { node: node.name, ok: false, error: asKubewasmError(err, asKubewasmError(err).where ? undefined : node.name) };
        } finally {
          await host?.close().catch(() => {});
        }
        options.onDone?.(outcome);
        return outcome;
      }),
    ),
  );
}
