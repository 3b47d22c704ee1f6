// The acting half of the node algorithm: read a node's facts, apply a plan,
// and recover from a run that was interrupted. Every change is journaled on
// the node before it is made (journal.ts), replaced files and the config are
// backed up first, and a failure undoes what was done, so a node is left
// either exactly as it was or fully converged.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { criStatus, restartContainerd, waitForCri } from '../containerd/service.js';
import type { ContainerdSetup } from '../containerd/setup.js';
import { asKubewasmError, KubewasmError } from '../errors.js';
import { isTempOf, tempNameFor, type NodeHost } from '../host/host.js';
import {
  configBackupPath,
  decideRecovery,
  fileBackupDir,
  journalFor,
  journalPath,
  readJournal,
  writeJournal,
  type Journal,
  type RuntimeExpectation,
} from './journal.js';
import { ownerText } from './node-lock.js';
import { digestOnNode, sha256 } from './node-facts.js';
import { noGate, type ApplyTimings, type NodeOptions } from './options.js';
import type { NodePlan, Upload } from './plan.js';
import { DEFAULT_STATE_DIR, recordPath, writeRecord } from './record.js';

export type { ApplyTimings, NodeOptions } from './options.js';
export { digestOnNode, readNodeFacts } from './node-facts.js';

/**
 * Performs a plan:
 * 1. each shim is streamed to a hidden staging file beside its target and
 *    checked there (sha256, executable); nothing is journaled yet, and a
 *    transfer cut short removes its own staging file on the node;
 * 2. backups of what is replaced, then the journal;
 * 3. the staged files are renamed into place;
 * 4. in the restart gate: config, restart, CRI, shims checked again.
 * A failure undoes what was done (the previous config is restored and
 * containerd restarted on it). If the node cannot be reached to undo, the
 * journal stays and the next run finishes the undo first.
 */
export async function applyPlan(host: NodeHost, plan: NodePlan, setup: ContainerdSetup, options: NodeOptions = {}): Promise<ApplyTimings> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const step = options.onStep ?? (() => {});
  const gate = options.restartGate ?? noGate;
  const timings: ApplyTimings = { uploadMs: 0, gateMs: 0, restartMs: 0 };
  const runId = randomBytes(4).toString('hex');
  const staged = new Map(plan.uploads.map((u) => [u.to, tempNameFor(u.to, `staged-${runId}`)]));
  const removeStaged = async () => {
    for (const path of staged.values()) await host.removeFile(path);
  };

  // 1. Stage every upload.
  let started = Date.now();
  try {
    await (options.uploadGate ?? noGate)(async () => {
      started = Date.now();
      for (const upload of plan.uploads) {
        throwIfAborted(options.signal, host);
        step(`upload ${upload.shim} shim to ${upload.to}`);
        await uploadVerified(host, upload, staged.get(upload.to)!);
      }
    });
    const wanted = plan.record?.shims.map((s) => s.path) ?? [];
    await checkShims(host, wanted.map((path) => staged.get(path) ?? path), 'before the config change', wanted);
    throwIfAborted(options.signal, host);
  } catch (err) {
    const undone = await attempt(removeStaged);
    throw withOutcome(err, host, undone ? 'the node was left as it was (staged uploads removed; config and containerd untouched)' : unreachableOutcome('staged uploads'));
  }
  timings.uploadMs = Date.now() - started;

  // 2. Backups and the journal, before the first change.
  const createdStateDir = (await host.stat(stateDir)) === undefined;
  const journal = journalFor(plan, stateDir, { owner: options.owner ?? ownerText(), createdStateDir, configSha256: sha256, staged });
  try {
    if (createdStateDir) await host.mkdirp(stateDir, 0o700);
    if (journal.files.some((f) => f.backup)) await host.mkdirp(fileBackupDir(stateDir), 0o700);
    for (const file of journal.files) if (file.backup) await copyOnNode(host, file.path, file.backup);
    if (journal.config?.backup && plan.config.before) await host.writeFileAtomic(journal.config.backup, plan.config.before, 0o600);
    await writeJournal(host, stateDir, journal);
  } catch (err) {
    const undone = await attempt(async () => {
      await removeStaged();
      await cleanUp(host, stateDir, journal, createdStateDir);
    });
    throw withOutcome(writeError(host, stateDir, err, "cannot write kubewasm's journal and backups", '--state-dir'), host, undone ? 'the node was left as it was' : unreachableOutcome('staged uploads'));
  }

  // 3. Put the uploads in place.
  try {
    for (const upload of plan.uploads) await host.rename(staged.get(upload.to)!, upload.to);
  } catch (err) {
    const undone = await attempt(async () => {
      await undoFiles(host, journal);
      await cleanUp(host, stateDir, journal, createdStateDir);
    });
    throw withOutcome(err, host, undone ? 'the node was left as it was' : unreachableOutcome('uploads', journalPath(stateDir)));
  }

  // 4. Config, restart, CRI: at most K nodes at once.
  if (plan.restart) {
    let undoFailed: KubewasmError | undefined;
    let touched = false;
    try {
      // Everything that can be done before the restart slot is: the slot is the fleet's bottleneck.
      const configMode = plan.config.changed && plan.config.after !== undefined ? await prepareConfigWrite(host, plan.config.path) : undefined;
      await writeJournal(host, stateDir, { ...journal, phase: 'config' });
      journal.phase = 'config';
      const waitingSince = Date.now();
      await gate(async () => {
        timings.gateMs = Date.now() - waitingSince;
        started = Date.now();
        throwIfAborted(options.signal, host);
        try {
          if (plan.config.changed) {
            step(`${plan.config.after === undefined ? 'remove' : 'write'} ${plan.config.path}`);
            await writeConfig(host, plan.config.path, plan.config.after, configMode); // atomic: a failure leaves the old file
          }
          touched = true;
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
            undoFailed = asKubewasmError(undoError);
          }
          throw err;
        }
        timings.restartMs = Date.now() - started;
      });
    } catch (err) {
      if (undoFailed) {
        throw new KubewasmError({
          what: `${asKubewasmError(err).what}; restoring the previous config failed too: ${undoFailed.what}`,
          where: asKubewasmError(err).where ?? host.name,
          fix: `fix the node, then run kubewasm again: it finishes the undo first (journal ${journalPath(stateDir)}, previous config in ${journal.config?.backup ?? '(no file: it did not exist)'})`,
          cause: err,
        });
      }
      const undone = await attempt(async () => {
        await undoFiles(host, journal);
        await cleanUp(host, stateDir, journal, createdStateDir);
      });
      throw withOutcome(
        err,
        host,
        !undone
          ? unreachableOutcome('uploads', journalPath(stateDir))
          : touched
            ? 'the previous config was restored and containerd restarted on it; uploads taken back'
            : 'the node was left as it was',
      );
    }
  }

  await complete(host, stateDir, journal, step);
  return timings;
}

/** Runs an undo step; false when the node could not be reached (the journal on it says what is left). */
async function attempt(fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch {
    return false;
  }
}

function unreachableOutcome(what: string, journal?: string): string {
  return journal
    ? `the node could not be reached to take back the ${what}: the next run finds ${journal} and finishes the undo first`
    : `the node could not be reached to remove the ${what}: a transfer cut short removes its own file on the node, and the next run removes any other staged file`;
}

/** The end of a successful run (or the completion of an interrupted one): record, removals, clean up. */
async function complete(host: NodeHost, stateDir: string, journal: Journal, step: (m: string) => void): Promise<void> {
  await writeRecord(host, stateDir, journal.record ?? undefined, { stateDirExists: true });
  for (const removal of journal.removals) {
    step(`remove ${removal.path}`);
    await host.removeFile(removal.path);
  }
  await cleanUp(host, stateDir, journal, journal.record === null);
}

/** Removes the journal and backups; the state dir too when nothing of kubewasm's is left in it. */
async function cleanUp(host: NodeHost, stateDir: string, journal: Journal, removeStateDir: boolean): Promise<void> {
  const backups = journal.files.filter((f) => f.backup);
  for (const file of backups) await host.removeFile(file.backup!);
  if (backups.length) await host.removeEmptyDir(fileBackupDir(stateDir));
  if (journal.config?.backup) await host.removeFile(journal.config.backup);
  await host.removeFile(journalPath(stateDir));
  if (removeStateDir) await host.removeEmptyDir(stateDir);
}

/** Puts back each file the journal names: its backup, or nothing if it did not exist. */
async function undoFiles(host: NodeHost, journal: Journal): Promise<void> {
  for (const file of journal.files) {
    if (file.staged) await host.removeFile(file.staged);
    if (file.backup) {
      if (await host.stat(file.backup)) await copyOnNode(host, file.backup, file.path);
    } else await host.removeFile(file.path);
  }
}

/** Restores the config the journal started from and restarts containerd on it. */
async function undoConfig(host: NodeHost, setup: ContainerdSetup, journal: Journal, options: NodeOptions): Promise<void> {
  if (journal.config) {
    const original = journal.config.backup ? await host.readFile(journal.config.backup) : undefined;
    if (journal.config.backup && (!original || sha256(original) !== journal.config.beforeSha256)) {
      throw new KubewasmError({ what: `the backup of the config is missing or damaged`, where: `${host.name}:${journal.config.backup}`, fix: `restore ${journal.config.path} by hand` });
    }
    await writeConfig(host, journal.config.path, original);
  }
  options.onStep?.('restart containerd on the previous config');
  await restartContainerd(host, setup);
  await waitForCri(host, setup, journal.expectOld, options.criTimeoutMs);
}

/**
 * A journal left by an interrupted run: complete it when all it wrote is in
 * place (restarting containerd if it never got to that), undo it otherwise.
 * Runs under the node lock, before anything else.
 */
export async function recoverInterrupted(host: NodeHost, setup: ContainerdSetup, options: NodeOptions = {}): Promise<'completed' | 'undone' | undefined> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const step = options.onStep ?? (() => {});
  const gate = options.restartGate ?? noGate;
  const journal = await readJournal(host, stateDir);
  if (!journal) return undefined;
  const configBytes = journal.config ? await host.readFile(journal.config.path) : undefined;
  const files: Record<string, string | null> = {};
  for (const file of journal.files) files[file.path] = (await digestOnNode(host, file.path)) ?? null;
  const decision = decideRecovery(journal, { config: configBytes ? sha256(configBytes) : null, files });
  const intro = `an earlier run (${journal.owner}) did not finish: ${decision.why}`;
  if (decision.action === 'conflict') {
    throw new KubewasmError({
      what: intro,
      where: `${host.name}:${journalPath(stateDir)}`,
      fix: `compare ${journal.config?.path} with ${journal.config?.backup ?? 'the original'} and fix it by hand, then remove ${journalPath(stateDir)}`,
    });
  }
  if (decision.action === 'complete') {
    step(`${intro}; completing it`);
    try {
      if (journal.restart) {
        const status = await criStatus(host, setup);
        if (!(status.ready && runtimesMatch(status.runtimes, journal.expectNew))) {
          await gate(async () => {
            step('restart containerd');
            await restartContainerd(host, setup);
            await waitForCri(host, setup, journal.expectNew, options.criTimeoutMs);
          });
        }
      }
      await checkShims(host, journal.shims, 'after containerd restarted');
      await complete(host, stateDir, journal, step);
      return 'completed';
    } catch (err) {
      step(`completing it failed (${asKubewasmError(err).what}); undoing it instead`);
      journal.phase = 'config'; // containerd may now run the new config: undoing must restart it
    }
  } else step(`${intro}; undoing it`);

  if (journal.phase === 'config') await gate(() => undoConfig(host, setup, journal, options));
  await undoFiles(host, journal);
  await cleanUp(host, stateDir, journal, journal.createdStateDir);
  return 'undone';
}

/** Removes temporary files an interrupted write left beside these paths. */
export async function sweepTemps(host: NodeHost, paths: string[]): Promise<void> {
  const byDir = new Map<string, Set<string>>();
  for (const path of paths) {
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash) || '/';
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(path.slice(slash + 1));
  }
  for (const [dir, bases] of byDir) {
    const names = await host.readDir(dir);
    for (const name of names ?? []) {
      if ([...bases].some((base) => isTempOf(name, base))) await host.removeFile(`${dir === '/' ? '' : dir}/${name}`);
    }
  }
}

/** Every path kubewasm may write for this state dir (for sweepTemps). */
export function statePaths(stateDir: string): string[] {
  return [journalPath(stateDir), recordPath(stateDir), configBackupPath(stateDir)];
}

/** The shim's bytes on this machine, checked against its digest once per run (many nodes upload the same file). */
const verifiedLocal = new Map<string, Promise<Buffer>>();
function localShimBytes(upload: Upload): Promise<Buffer> {
  const key = `${upload.from}\0${upload.sha256}`;
  let bytes = verifiedLocal.get(key);
  if (!bytes) {
    bytes = readFile(upload.from).then((data) => {
      const local = sha256(data);
      if (local !== upload.sha256) {
        verifiedLocal.delete(key);
        throw new KubewasmError({ what: `the shim binary changed on this machine since it was verified (sha256 ${local}, expected ${upload.sha256})`, where: upload.from, fix: 'run kubewasm again so it downloads and verifies the shim afresh' });
      }
      return data;
    });
    verifiedLocal.set(key, bytes);
  }
  return bytes;
}

async function uploadVerified(host: NodeHost, upload: Upload, to: string): Promise<void> {
  const bytes = await localShimBytes(upload);
  try {
    await host.mkdirp(to.slice(0, to.lastIndexOf('/')) || '/');
    // Every transport checks the sha256 on the node before the file takes its name.
    await host.writeFileAtomic(to, bytes, 0o755, { sha256: upload.sha256, durable: false });
  } catch (err) {
    throw writeError(host, upload.to, err, `cannot upload the ${upload.shim} shim (${(bytes.length / 1e6).toFixed(1)} MB)`, '--install-dir');
  }
}

/** Each shim must be a file containerd can execute (a noexec mount or a missing file fail here). One exec for all. */
async function checkShims(host: NodeHost, paths: string[], when: string, shownAs: string[] = paths): Promise<void> {
  if (paths.length === 0) return;
  const result = await host.exec(['sh', '-c', 'i=0; for f; do i=$((i+1)); [ -f "$f" ] || { echo "$i missing"; exit 3; }; [ -x "$f" ] || { echo "$i noexec"; exit 4; }; done', 'sh', ...paths]);
  if (result.code === 0) return;
  const [index, problem] = result.stdout.trim().split(' ');
  const path = shownAs[Number(index) - 1] ?? paths[Number(index) - 1] ?? paths[0]!;
  const missing = problem === 'missing';
  if (problem !== 'missing' && problem !== 'noexec') throw new KubewasmError({ what: `cannot check the shims ${when}: ${(result.stderr || result.stdout).trim()}`, where: host.name });
  throw new KubewasmError({
    what: `the shim ${path} is ${missing ? 'missing' : 'not executable'} ${when}${missing ? '' : ' (is its file system mounted noexec?)'}`,
    where: host.name,
    fix: missing
      ? 'something on the node removes files from that directory when containerd restarts: choose another --install-dir'
      : 'choose an --install-dir on a file system that allows executables (GKE COS: /home/kubernetes/bin)',
  });
}

async function copyOnNode(host: NodeHost, from: string, to: string): Promise<void> {
  const bytes = await host.readFile(from);
  if (!bytes) throw new Error(`${from} vanished while kubewasm was copying it`);
  const mode = (await host.stat(from))?.mode ?? 0o644;
  await host.writeFileAtomic(to, bytes, mode, { sha256: sha256(bytes) });
}

/** The config file's mode, its directory made: what writing it needs, done ahead of the restart slot. */
async function prepareConfigWrite(host: NodeHost, path: string): Promise<number> {
  try {
    const info = await host.stat(path);
    if (info) return info.mode;
    await host.mkdirp(path.slice(0, path.lastIndexOf('/')) || '/');
    return 0o644;
  } catch (err) {
    throw configWriteError(host, path, err);
  }
}

async function writeConfig(host: NodeHost, path: string, content: Buffer | undefined, preparedMode?: number): Promise<void> {
  try {
    if (content === undefined) return await host.removeFile(path);
    const mode = preparedMode ?? (await prepareConfigWrite(host, path));
    await host.writeFileAtomic(path, content, mode, { sha256: sha256(content) });
  } catch (err) {
    throw configWriteError(host, path, err);
  }
}

function configWriteError(host: NodeHost, path: string, err: unknown): KubewasmError {
  if (err instanceof KubewasmError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === 'EROFS' ? 'its file system is read-only' : code === 'ENOSPC' ? 'no space left on the device' : (err as Error).message;
  return new KubewasmError({
    what: `cannot write the containerd config: ${reason}`,
    where: `${host.name}:${path}`,
    fix: code === 'ENOSPC' ? 'free space on the node' : 'make the file writable for root, or point --config at the file containerd reads on this node (some distributions keep it elsewhere)',
    cause: err,
  });
}

function writeError(host: NodeHost, path: string, err: unknown, what: string, option: string): KubewasmError {
  if (err instanceof KubewasmError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const message = (err as Error).message;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new KubewasmError({ what: `${what}: the node's disk is full (no space left on the device)`, where: `${host.name}:${path}`, fix: `free space on the node, or choose another directory with ${option}`, cause: err });
  }
  if (code === 'EROFS') return new KubewasmError({ what: `${what}: the file system is read-only`, where: `${host.name}:${path}`, fix: `choose a writable directory with ${option}`, cause: err });
  return new KubewasmError({ what: `${what}: ${message}`, where: `${host.name}:${path}`, cause: err });
}

function throwIfAborted(signal: AbortSignal | undefined, host: NodeHost): void {
  if (!signal?.aborted) return;
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
  throw new KubewasmError({ what: `interrupted (${reason})`, where: host.name, fix: 'run kubewasm again to converge the node' });
}

/** The error, with what became of the node appended. */
function withOutcome(err: unknown, host: NodeHost, outcome: string): KubewasmError {
  const failure = asKubewasmError(err);
  return new KubewasmError({ what: `${failure.what}; ${outcome}`, where: failure.where ?? host.name, fix: failure.fix ?? "see containerd's log on the node", cause: err });
}

function runtimesMatch(runtimes: string[] | undefined, expect: RuntimeExpectation): boolean {
  if (runtimes === undefined) return false; // cannot tell without crictl: restart to be sure
  return expect.present.every((r) => runtimes.includes(r)) && expect.absent.every((r) => !runtimes.includes(r));
}
