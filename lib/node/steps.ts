// The step engine of applyPlan: each step with its undo. When a step fails,
// its own undo and those of the steps before it run in reverse, and the error
// says what became of the node. An undo that cannot reach the node leaves the
// journal behind, and the next run finishes the undo from it (recover.ts).
import { asKubewasmError, KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';

export interface Step {
  name: string;
  run(): Promise<void>;
  /** Takes back what run() did, also when it stopped half-way; idempotent. */
  undo?(): Promise<void>;
  /** What the node is like when this step failed and everything was undone. */
  outcome(): string;
  /** What the node is like when an undo could not reach it. */
  unreachable: string;
}

/** Thrown by a step that already undid the config itself and failed at that: nothing more is undone (the journal says the rest). */
export class UndoFailed extends Error {
  constructor(readonly error: KubewasmError) {
    super(error.message);
  }
}

export async function runSteps(host: NodeHost, steps: Step[], onStep: (message: string) => void = () => {}): Promise<void> {
  const done: Step[] = [];
  for (const step of steps) {
    try {
      await step.run();
    } catch (err) {
      if (err instanceof UndoFailed) throw err.error;
      const undone = await attempt(async () => {
        for (const s of [step, ...done.reverse()]) await s.undo?.();
      });
      if (!undone) onStep(`could not take back ${step.name}: ${step.unreachable}`);
      throw withOutcome(err, host, undone ? step.outcome() : step.unreachable);
    }
    done.push(step);
  }
}

/** Runs an undo; false when the node could not be reached (the journal on it says what is left). */
export async function attempt(fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch {
    return false;
  }
}

export function unreachableOutcome(what: string, journal?: string): string {
  return journal
    ? `the node could not be reached to take back the ${what}: the next run finds ${journal} and finishes the undo first`
    : `the node could not be reached to remove the ${what}: a transfer cut short removes its own file on the node, and the next run removes any other staged file`;
}

/** The error, with what became of the node appended. */
export function withOutcome(err: unknown, host: NodeHost, outcome: string): KubewasmError {
  const failure = asKubewasmError(err);
  return new KubewasmError({ what: `${failure.what}; ${outcome}`, where: failure.where ?? host.name, fix: failure.fix ?? "see containerd's log on the node", cause: err });
}

export function throwIfAborted(signal: AbortSignal | undefined, host: NodeHost): void {
  if (!signal?.aborted) return;
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
  throw new KubewasmError({ what: `interrupted (${reason})`, where: host.name, fix: 'run kubewasm again to converge the node' });
}
