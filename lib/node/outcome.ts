// What a node run tells its user: the plan's lines, a one-line summary, and
// the documented `-o json` shape (see `kubewasm node install --help`). Pure.
import type { ConvergeResult } from './converge.js';
import type { FleetOutcome } from './fleet.js';
import { describePlan } from './plan.js';

/** `✓` done, `-` planned (dry run), `=` already so; recovery notes first. */
export function resultLines(result: ConvergeResult): string[] {
  const verb = result.applied ? 'done' : result.plan.config.changed || result.plan.uploads.length || result.plan.removals.length ? 'plan' : 'ok';
  const mark = verb === 'done' ? '✓' : verb === 'plan' ? '-' : '=';
  return [
    ...(result.recovery ? [`! an interrupted earlier run was ${result.recovery === 'completed' ? 'completed' : 'undone'} first`] : []),
    ...(result.pendingRecovery ? [`! ${result.pendingRecovery}`] : []),
    ...describePlan(result.plan).map((line) => `${mark} ${line}`),
  ];
}

/** "installed wasmtime, registered wasmtime, restarted containerd in 1.2s", or "already converged". */
export function resultSummary(r: ConvergeResult): string {
  if (!r.applied) return 'already converged';
  const parts = [
    r.plan.uploads.length ? `installed ${r.plan.uploads.map((u) => u.shim).join(', ')}` : '',
    r.plan.config.registered.length && r.plan.config.changed ? `registered ${r.plan.config.registered.join(', ')}` : '',
    r.plan.config.dropped.length ? `unregistered ${r.plan.config.dropped.join(', ')}` : '',
    r.plan.removals.length ? `removed ${r.plan.removals.length} file(s)` : '',
    r.plan.restart ? 'restarted containerd' : '',
  ].filter(Boolean);
  return `${parts.join(', ') || 'converged'} in ${(r.timings.totalMs / 1000).toFixed(1)}s`;
}

export function resultJson(result: ConvergeResult) {
  const { plan } = result;
  return {
    node: plan.node,
    applied: result.applied,
    recovered: result.recovered,
    ...(result.recovery ? { recovery: result.recovery } : {}),
    config: { path: plan.config.path, version: plan.config.configVersion, changed: plan.config.changed, registered: plan.config.registered, adopted: plan.config.adopted, dropped: plan.config.dropped },
    uploads: plan.uploads.map((u) => ({ shim: u.shim, path: u.to, sha256: u.sha256 })),
    removals: plan.removals.map((r) => r.path),
    keptModified: plan.keptModified,
    restart: plan.restart,
    timings: result.timings,
  };
}

export function outcomeJson(outcome: FleetOutcome) {
  if (outcome.ok) return { ...resultJson(outcome.result), node: outcome.node, ok: true };
  const { what, where, fix } = outcome.error;
  return { node: outcome.node, ok: false, error: { what, ...(where ? { where } : {}), ...(fix ? { fix } : {}) } };
}

/** "3 nodes: 2 ok (1 changed), 1 failed: b" */
export function fleetSummary(outcomes: readonly FleetOutcome[]): string {
  const failed = outcomes.filter((o) => !o.ok);
  const changed = outcomes.filter((o) => o.ok && o.result.applied).length;
  return `${outcomes.length} node${outcomes.length === 1 ? '' : 's'}: ${outcomes.length - failed.length} ok (${changed} changed)${failed.length ? `, ${failed.length} failed: ${failed.map((f) => f.node).join(', ')}` : ''}`;
}

/**
 * What a fleet run prints and returns. --local: one result (its failure is
 * thrown as the command's error). Otherwise a line per node (or a JSON array)
 * and a summary; exit 2 when every failure was bad usage, 1 when any node
 * failed, 130 when interrupted.
 */
export function fleetReport(outcomes: readonly FleetOutcome[], o: { json: boolean; local: boolean; interrupted: boolean }): { stdout: string; summary?: string; exitCode: number } {
  const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
  if (o.local) {
    const only = outcomes[0]!;
    if (!only.ok) throw only.error;
    return { stdout: o.json ? text([JSON.stringify(resultJson(only.result), null, 2)]) : text(resultLines(only.result).map((l) => `${only.node}: ${l}`)), exitCode: o.interrupted ? 130 : 0 };
  }
  const lines = o.json
    ? [JSON.stringify(outcomes.map(outcomeJson), null, 2)]
    : outcomes.flatMap((r) => (r.ok ? resultLines(r.result).map((l) => `${r.node}: ${l}`) : [`${r.node}: ✗ ${r.error.message.replace(/\n/g, `\n${r.node}:   `)}`]));
  const failed = outcomes.filter((r) => !r.ok);
  const exitCode = o.interrupted ? 130 : failed.length && failed.every((f) => !f.ok && f.error.exitCode === 2) ? 2 : failed.length ? 1 : 0;
  return { stdout: text(lines), summary: fleetSummary(outcomes), exitCode };
}
