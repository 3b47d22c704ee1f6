// The one renderer of progress, decided once per command: a listr2 tree with a
// row per node on a terminal (not in CI), plain lines otherwise. It shows fleet
// events, nodes converging in a cluster, and shim downloads. listr2 is loaded
// only when a terminal shows it.
import { outputOption } from '../lib/cli-flags.js';
import type { ClusterEvent } from '../lib/kube/install.js';
import type { VerifyResult } from '../lib/kube/verify.js';
import type { FleetJob, FleetOutcome } from '../lib/node/fleet.js';
import { convergeOptions, scheduleOptions, targetSelection } from '../lib/node/run-flags.js';
import type { ShimEvent } from '../lib/shims/releases.js';
import { plainShimProgress } from '../lib/shims/shim-lines.js';
import type { CommandContext } from './command.js';

/** A node's row: text while it works; a state when it is done. */
export type Row = (node: string, text: string, state?: 'done' | 'failed') => void;
export interface Rows {
  row: Row;
  /** The work is over: rows nobody finished end; resolves once the view is drawn. */
  end(): Promise<void>;
}

export interface Progress {
  shim(e: ShimEvent): void;
  /** A row per node, from now until end(). */
  rows(names: readonly string[]): Rows;
}

/** A finished row's mark. */
export const mark = (state?: string) => (state === 'done' ? '✓ ' : state === 'failed' ? '✗ ' : '');

export function progress(ctx: CommandContext, options: { quietRows?: boolean } = {}): Progress {
  const tty = Boolean(ctx.stderr.isTTY) && !process.env['CI'];
  const line = (text: string) => void ctx.stderr.write(`${text}\n`);
  return {
    shim: plainShimProgress(line, Boolean(ctx.options['verbose'])),
    rows: (names) =>
      options.quietRows ? { row: () => {}, end: async () => {} }
      : tty && names.length ? listrRows(ctx.stderr as NodeJS.WriteStream, names)
      : { row: (node, text, state) => line(`${node}: ${mark(state)}${text}`), end: async () => {} },
  };
}

function listrRows(stream: NodeJS.WriteStream, names: readonly string[]): Rows {
  type Task = { title: string; output: string };
  const tasks = new Map<string, Task>();
  const latest = new Map<string, string>();
  const ends = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const ended = new Map(names.map((n) => [n, new Promise<void>((resolve, reject) => ends.set(n, { resolve, reject }))]));
  for (const p of ended.values()) p.catch(() => {});
  const view = import('listr2').then(({ Listr, ListrLogger, ProcessOutput }) =>
    new Listr(
      names.map((name) => ({
        title: name,
        task: async (_: unknown, task: Task) => {
          tasks.set(name, task);
          if (latest.has(name)) task.output = latest.get(name)!;
          await ended.get(name);
          task.title = `${name}: ${latest.get(name) ?? 'done'}`;
        },
      })),
      { concurrent: true, exitOnError: false, rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }), collapseErrors: false } },
    ).run().catch(() => {}),
  );
  return {
    row: (node, text, state) => {
      latest.set(node, text);
      const task = tasks.get(node);
      if (task && !state) task.output = text;
      if (state === 'done') ends.get(node)?.resolve();
      if (state === 'failed') ends.get(node)?.reject(new Error(`${node}: ${text}`));
    },
    end: async () => {
      for (const [name, end] of ends) end.reject(new Error(`${name}: ${latest.get(name) ?? 'no news'}`)); // settled rows keep their state
      await view;
    },
  };
}

export function verifyLine(r: VerifyResult): string {
  return `${r.skipped ? '-' : r.ok ? '✓' : '✗'} RuntimeClass ${r.runtimeClass}${r.handler !== r.runtimeClass ? ` (handler ${r.handler})` : ''}: ${r.message}\n`;
}

/**
 * Runs a cluster flow and renders its events: info on stderr (stdout for a dry
 * run, whose lines are its output), a row per node while waiting, results on
 * stdout. The rows are drawn to their end however the flow ends.
 */
export async function showCluster<T>(ctx: CommandContext, dryRun: boolean, flow: (onEvent: (e: ClusterEvent | { type: 'result'; text: string }) => void) => Promise<T>): Promise<T> {
  const view = progress(ctx);
  let rows: Rows | undefined;
  const ending: Promise<void>[] = [];
  try {
    return await flow((e) => {
      if (e.type === 'info') (dryRun ? ctx.stdout : ctx.stderr).write(`${e.text}\n`);
      else if (e.type === 'result') ctx.stdout.write(`${e.text}\n`);
      else if (e.type === 'verify') ctx.stdout.write(verifyLine(e.result));
      else if (e.type === 'shim') view.shim(e.event);
      else if (e.type === 'waiting') rows = view.rows(e.nodes);
      else if (e.type === 'node') rows?.row(e.node, e.progress.message, e.progress.state === 'waiting' ? undefined : e.progress.state);
      else if (e.type === 'waited' && rows) ending.push(rows.end());
    });
  } finally {
    await Promise.all(ending);
  }
}

/**
 * node install | uninstall: runs `job` on the nodes the flags name, with a row
 * per node and Ctrl-C handling; prints one object for --local (its failure is
 * the command's error), else a line per node and a summary (or a JSON array).
 * Returns the exit code.
 */
export async function showFleet(ctx: CommandContext, job: () => Promise<FleetJob> | FleetJob): Promise<number> {
  const { options } = ctx;
  const json = outputOption(options, ['text', 'json']) === 'json';
  const selection = targetSelection(options);
  const run = { job: await job(), converge: convergeOptions(options), ...scheduleOptions(options) };
  const [{ findTargets }, { runFleet }, { fleetReport, resultSummary }] = await Promise.all([import('../lib/node/targets.js'), import('../lib/node/fleet.js'), import('../lib/node/outcome.js')]);
  const targets = await findTargets(selection);
  const view = progress(ctx, { quietRows: json });
  // Ctrl-C: nodes stop at their next safe point and undo; a node restarting containerd finishes that step.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) {
      ctx.stderr.write('\ninterrupted again: quitting now; the next run completes or undoes what each node journaled\n');
      process.exit(130);
    }
    ctx.stderr.write('\ninterrupting: each node undoes what it started, or finishes its containerd restart (Ctrl-C again to quit at once)\n');
    abort.abort(new Error('SIGINT'));
  };
  process.on('SIGINT', onSigint);
  const rows = view.rows(targets.map((t) => t.name));
  let outcomes: FleetOutcome[];
  try {
    outcomes = await runFleet(targets, { ...run, signal: abort.signal }, (e) => {
      if (e.type === 'shim') view.shim(e.event);
      else if (e.type === 'step') rows.row(e.node, e.message);
      else rows.row(e.outcome.node, e.outcome.ok ? resultSummary(e.outcome.result) : e.outcome.error.what, e.outcome.ok ? 'done' : 'failed');
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
    await rows.end();
  }
  const report = fleetReport(outcomes, { json, local: Boolean(selection.local), interrupted: abort.signal.aborted });
  ctx.stdout.write(report.stdout);
  if (report.summary) ctx.stderr.write(`${report.summary}\n`);
  return report.exitCode;
}
