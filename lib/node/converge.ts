// convergeNode / resetNode: the node algorithm, the same over every transport.
// Under the node lock: finish or undo an interrupted earlier run, read the
// facts, plan, apply. The lock's session runs the probe of the node's facts as
// soon as it holds the lock, so a no-op is one command on the node.
import { readContainerdFacts } from '../containerd/facts.js';
import { applyPlan } from './apply.js';
import { readNodeFacts } from './node-facts.js';
import type { NodeOptions } from './options.js';
import { recoverInterrupted, statePaths, sweepTemps } from './recover.js';
import type { NodeHost } from '../host/host.js';
import { readJournal } from './journal.js';
import { acquireNodeLock, lockPathFor } from './node-lock.js';
import { pathsToInspect, planIsEmpty, planNode, type NodeDesired, type NodePlan } from './plan.js';
import { DEFAULT_STATE_DIR } from './record.js';
import { PROBE_TIMEOUT_MS, probeCommand, probeNode, probeRequestFor, type ProbeResult } from './node-probe.js';
import { ProbedHost } from './probed-host.js';

export interface ConvergeOptions extends NodeOptions {
  /** Plan only: the node is not changed (and not locked). */
  dryRun?: boolean;
  /** The lock file on the node (default: /run/lock/kubewasm.lock, or one per custom --state-dir). */
  lockPath?: string;
}

export interface Timings {
  /** Taking the node lock (and, over ssh, the first exec after connecting). */
  lockMs: number;
  /** The probe (run in the lock's session once it is held), recovery, facts and plan. */
  planMs: number;
  uploadMs: number;
  /** Waiting for a restart slot (--max-unavailable). */
  gateMs: number;
  /** Config write, containerd restart, CRI ready. */
  restartMs: number;
  totalMs: number;
}

export interface ConvergeResult {
  plan: NodePlan;
  /** false for a dry run or when the node already matched. */
  applied: boolean;
  /** An interrupted earlier run was completed or undone first. */
  recovered: boolean;
  recovery?: 'completed' | 'undone';
  /** Dry run: an interrupted run's journal is on the node; a real run deals with it first. */
  pendingRecovery?: string;
  timings: Timings;
  /** How the facts were read: sha256 from the node's cache or hashed there, and what the one-round-trip probe missed (read live). */
  probe?: ProbeFigures;
}

export interface ProbeFigures {
  digestsCached: number;
  digestsHashed: number;
  liveReads: string[];
}

export async function convergeNode(host: NodeHost, desired: NodeDesired, options: ConvergeOptions = {}): Promise<ConvergeResult> {
  const started = Date.now();
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const timings: Timings = { lockMs: 0, planMs: 0, uploadMs: 0, gateMs: 0, restartMs: 0, totalMs: 0 };
  const done = (result: Omit<ConvergeResult, 'timings'>): ConvergeResult => ({ ...result, timings: { ...timings, totalMs: Date.now() - started } });

  // Everything planning reads, in one round trip (node-probe.ts); the readers below run against it.
  const probeRequest = (updateCache: boolean) => probeRequestFor(desired, { stateDir, ...(options.containerd ? { overrides: options.containerd } : {}), updateCache });
  const probeFigures = (view: ProbedHost, probe: ProbeResult): ProbeFigures => ({ digestsCached: probe.cached, digestsHashed: probe.hashed, liveReads: view.misses });

  if (options.dryRun) {
    const probe = await probeNode(host, probeRequest(false));
    const view = new ProbedHost(host, probe);
    const facts = await readNodeFacts(view, desired, options);
    const journal = await readJournal(view, stateDir);
    const plan = planNode(facts, desired);
    return done({ plan, applied: false, recovered: false, probe: probeFigures(view, probe), ...(journal ? { pendingRecovery: `an interrupted run (${journal.owner}) left its journal: a real run completes or undoes it first` } : {}) });
  }

  const probeRun = probeCommand(probeRequest(true)); // rewrites the digest cache: only under the lock
  const lock = await acquireNodeLock(host, options.lockPath ?? lockPathFor(stateDir), options.owner, { argv: probeRun.argv, timeoutMs: PROBE_TIMEOUT_MS });
  timings.lockMs = lock.acquiredAt - started;
  try {
    const planStart = lock.acquiredAt;
    const probe = probeRun.parse(lock.output?.stdout ?? Buffer.alloc(0));
    const view = new ProbedHost(host, probe);
    let containerd = await readContainerdFacts(view, options.containerd);
    const recovery = await recoverInterrupted(view, containerd.setup, options);
    if (recovery) containerd = await readContainerdFacts(view, options.containerd); // the config changed (the view reads live now)
    const facts = await readNodeFacts(view, desired, options, containerd);
    await sweepTemps(view, [...pathsToInspect(facts, desired), containerd.setup.configPath, ...statePaths(stateDir)]);
    const plan = planNode(facts, desired);
    timings.planMs = Date.now() - planStart;
    const recovered = { recovered: recovery !== undefined, ...(recovery ? { recovery } : {}), probe: probeFigures(view, probe) };
    if (planIsEmpty(plan)) return done({ plan, applied: false, ...recovered });
    Object.assign(timings, await applyPlan(host, plan, facts.containerd.setup, options));
    return done({ plan, applied: true, ...recovered });
  } finally {
    await lock.release();
  }
}

/** Removes everything kubewasm installed on the node, and nothing else. */
export function resetNode(host: NodeHost, options: ConvergeOptions = {}): Promise<ConvergeResult> {
  return convergeNode(host, { shims: [] }, options);
}
