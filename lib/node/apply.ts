// applyPlan: performs a plan as a sequence of steps, each with its undo
// (steps.ts). Every change is journaled on the node before it is made
// (journal.ts); replaced files and the config are backed up first; a failure
// undoes what was done in reverse, so a node is left either exactly as it was
// or fully converged. An interrupted run is finished or undone by the next
// one (recover.ts).
import { randomBytes } from 'node:crypto';
import { restartContainerd, waitForCri } from '../containerd/service.js';
import type { ContainerdSetup } from '../containerd/setup.js';
import { asKubewasmError, KubewasmError } from '../errors.js';
import { tempNameFor, type NodeHost } from '../host/host.js';
import { fileBackupDir, journalFor, journalPath, writeJournal, type Journal } from './journal.js';
import { sha256 } from './node-facts.js';
import { checkShims, copyOnNode, prepareConfigWrite, runShim, ShimByteCache, uploadVerified, writeConfig, writeError } from './node-files.js';
import { ownerText } from './node-lock.js';
import { noGate, type ApplyTimings, type NodeOptions } from './options.js';
import type { NodePlan } from './plan.js';
import { DEFAULT_STATE_DIR, installedShim } from './record.js';
import { runSteps, throwIfAborted, UndoFailed, unreachableOutcome, type Step } from './steps.js';
import { cleanUp, complete, undoConfig, undoFiles } from './undo.js';

export type { ApplyTimings, NodeOptions } from './options.js';
export { ShimByteCache } from './node-files.js';

/**
 * 1. stage: each shim is streamed to a hidden file beside its target and
 *    checked there (sha256 on the node, executable);
 * 2. journal: backups of what is replaced, then the journal;
 * 3. place: the staged files are renamed into place;
 * 4. run: `<shim> -v` of each placed shim on the node (its version goes into the record);
 * 5. restart, in the restart gate: config (and its copies), containerd
 *    restarted the node's way, its CRI ready and listing the runtimes, the
 *    shims still there; a failure restores the config and restarts again;
 * then the record, removals and clean up.
 */
export async function applyPlan(host: NodeHost, plan: NodePlan, setup: ContainerdSetup, options: NodeOptions = {}): Promise<ApplyTimings> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const step = options.onStep ?? (() => {});
  const timings: ApplyTimings = { uploadMs: 0, gateMs: 0, restartMs: 0 };
  const cache = options.shimBytes ?? new ShimByteCache();
  const runId = randomBytes(4).toString('hex');
  const staged = new Map(plan.uploads.map((u) => [u.to, tempNameFor(u.to, `staged-${runId}`)]));
  const createdStateDir = (await host.stat(stateDir)) === undefined;
  const journal = journalFor(plan, stateDir, { owner: options.owner ?? ownerText(), createdStateDir, configSha256: sha256, staged });
  const leftAsItWas = () => 'the node was left as it was';
  const undoStaged = async () => {
    for (const path of staged.values()) await host.removeFile(path);
    for (const dir of [...plan.createDirs].reverse()) await host.removeEmptyDir(dir);
  };

  const stage: Step = {
    name: 'the staged uploads',
    async run() {
      await (options.uploadGate ?? noGate)(async () => {
        const started = Date.now();
        for (const upload of plan.uploads) {
          throwIfAborted(options.signal, host);
          step(`upload ${upload.shim} shim to ${upload.to}`);
          await uploadVerified(host, upload, staged.get(upload.to)!, cache, step, plan.createDirs.length > 0);
        }
        const wanted = plan.record?.shims.map((s) => s.path) ?? [];
        await checkShims(host, wanted.map((path) => staged.get(path) ?? path), 'before the config change', wanted);
        throwIfAborted(options.signal, host);
        timings.uploadMs = Date.now() - started;
      });
    },
    undo: undoStaged,
    outcome: () => 'the node was left as it was (staged uploads removed; config and containerd untouched)',
    unreachable: unreachableOutcome('staged uploads'),
  };

  const writeJournalAndBackups: Step = {
    name: "kubewasm's journal and backups",
    async run() {
      try {
        if (createdStateDir) await host.mkdirp(stateDir, 0o700);
        if (journal.files.some((f) => f.backup)) await host.mkdirp(fileBackupDir(stateDir), 0o700);
        for (const file of journal.files) if (file.backup) await copyOnNode(host, file.path, file.backup);
        if (journal.config?.backup && plan.config.before) await host.writeFileAtomic(journal.config.backup, plan.config.before, 0o600);
        await writeJournal(host, stateDir, journal);
      } catch (err) {
        throw writeError(host, stateDir, err, "cannot write kubewasm's journal and backups", '--state-dir');
      }
    },
    undo: () => cleanUp(host, stateDir, journal, createdStateDir),
    outcome: leftAsItWas,
    unreachable: unreachableOutcome('staged uploads'),
  };

  const place: Step = {
    name: 'the uploads',
    async run() {
      for (const upload of plan.uploads) await host.rename(staged.get(upload.to)!, upload.to);
    },
    undo: () => undoFiles(host, journal),
    outcome: leftAsItWas,
    unreachable: unreachableOutcome('uploads', journalPath(stateDir)),
  };

  const runShims: Step = {
    name: 'the uploads',
    async run() {
      if (plan.uploads.length === 0) return;
      for (const upload of plan.uploads) {
        step(`run ${upload.to} -v`);
        const ran = await runShim(host, upload.shim, upload.to);
        const shims = journal.record?.shims ?? [];
        const index = shims.findIndex((s) => s.path === upload.to);
        if (index >= 0) shims[index] = installedShim({ ...shims[index]!, version: ran.version, ran: ran.line });
      }
      await writeJournal(host, stateDir, journal); // the versions reach the record even if this run is cut off now
    },
    outcome: () => 'the node was left as it was (nothing was restarted)',
    unreachable: unreachableOutcome('uploads', journalPath(stateDir)),
  };

  let touched = false;
  const restart: Step = {
    name: 'the config change',
    run: () => restartStep(host, plan, setup, journal, options, timings, () => (touched = true)),
    outcome: () => (touched ? 'the previous config was restored and containerd restarted on it; uploads taken back' : 'the node was left as it was'),
    unreachable: unreachableOutcome('uploads', journalPath(stateDir)),
  };

  await runSteps(host, [stage, writeJournalAndBackups, place, runShims, ...(plan.restart ? [restart] : [])], step);
  await complete(host, stateDir, journal, step);
  return timings;
}

/** Config, restart, CRI: in the restart gate (at most K nodes at once); undoes the config itself on failure, inside the gate. */
async function restartStep(host: NodeHost, plan: NodePlan, setup: ContainerdSetup, journal: Journal, options: NodeOptions, timings: ApplyTimings, markTouched: () => void): Promise<void> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const step = options.onStep ?? (() => {});
  // Everything that can be done before the restart slot is: the slot is the fleet's bottleneck.
  const configMode = plan.config.changed && plan.config.after !== undefined ? await prepareConfigWrite(host, plan.config.path) : undefined;
  journal.phase = 'config';
  await writeJournal(host, stateDir, journal);
  const waitingSince = Date.now();
  await (options.restartGate ?? noGate)(async () => {
    timings.gateMs = Date.now() - waitingSince;
    const started = Date.now();
    throwIfAborted(options.signal, host);
    let touched = false;
    try {
      if (plan.config.changed) {
        step(`${plan.config.after === undefined ? 'remove' : 'write'} ${plan.config.path}`);
        await writeConfig(host, plan.config.path, plan.config.after, configMode); // atomic: a failure leaves the old file
        touched = true;
        markTouched();
        for (const copy of plan.config.copies) {
          step(`copy it to ${copy} (what the node's bootstrap does)`);
          await writeConfig(host, copy, plan.config.after);
        }
      }
      touched = true;
      markTouched();
      step('restart containerd');
      await restartContainerd(host, setup);
      step("wait for containerd's CRI");
      await waitForCri(host, setup, journal.expectNew, options.criTimeoutMs);
      await checkShims(host, journal.shims, 'after containerd restarted');
    } catch (err) {
      if (!touched) throw err;
      step(`failed (${asKubewasmError(err).what}); restoring the previous config`);
      try {
        await undoConfig(host, setup, journal, options);
      } catch (undoError) {
        const failure = asKubewasmError(err);
        throw new UndoFailed(
          new KubewasmError({
            what: `${failure.what}; restoring the previous config failed too: ${asKubewasmError(undoError).what}`,
            where: failure.where ?? host.name,
            fix: `fix the node, then run kubewasm again: it finishes the undo first (journal ${journalPath(stateDir)}, previous config in ${journal.config?.backup ?? '(no file: it did not exist)'})`,
            cause: err,
          }),
        );
      }
      throw err;
    }
    timings.restartMs = Date.now() - started;
  });
}
