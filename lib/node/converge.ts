// convergeNode / resetNode: the node algorithm, the same over every transport.
import type { NodeHost } from './host.js';
import { applyPlan, readNodeFacts, recoverInterrupted, type NodeOptions } from './apply.js';
import { planIsEmpty, planNode, type NodeDesired, type NodePlan } from './plan.js';
import { readContainerdFacts } from '../containerd/facts.js';

export interface ConvergeOptions extends NodeOptions {
  /** Plan only: the node is not changed. */
  dryRun?: boolean;
}

export interface ConvergeResult {
  plan: NodePlan;
  /** false for a dry run or when the node already matched. */
  applied: boolean;
  /** An interrupted earlier run was rolled back first. */
  recovered: boolean;
}

export async function convergeNode(host: NodeHost, desired: NodeDesired, options: ConvergeOptions = {}): Promise<ConvergeResult> {
  let recovered = false;
  if (!options.dryRun) {
    const { setup } = await readContainerdFacts(host, options.containerd);
    recovered = await recoverInterrupted(host, setup, options);
  }
  const facts = await readNodeFacts(host, desired, options);
  const plan = planNode(facts, desired);
  if (options.dryRun || planIsEmpty(plan)) return { plan, applied: false, recovered };
  await applyPlan(host, plan, facts.containerd.setup, options);
  return { plan, applied: true, recovered };
}

/** Removes everything kubewasm installed on the node, and nothing else. */
export function resetNode(host: NodeHost, options: ConvergeOptions = {}): Promise<ConvergeResult> {
  return convergeNode(host, { shims: [] }, options);
}
