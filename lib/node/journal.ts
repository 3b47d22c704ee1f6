// The journal: what a run is about to do to a node, written there before it
// does it. A run killed at any step (kill -9, a dropped connection, the pod
// that restarted its own containerd) leaves it behind, and the next run reads
// it before anything else and either completes that work or undoes it.
import { KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import type { InstalledRecord } from './record.js';
import type { NodePlan, Removal } from './plan.js';

export interface JournalFile {
  path: string;
  /** What the run puts there. */
  sha256: string;
  /** Where the bytes it replaces are kept; null: the file did not exist. */
  backup: string | null;
  /** The hidden file beside it the upload was staged in (gone once renamed into place). */
  staged?: string;
  /** The replaced bytes are not kubewasm's: on completion the backup moves to the state dir's kept/ until uninstall. */
  keep?: boolean;
}

export interface RuntimeExpectation {
  present: string[];
  absent: string[];
}

export interface Journal {
  formatVersion: 2;
  startedAt: string;
  /** Who ran it (pid, host, command), for messages. */
  owner: string;
  /** 'files': uploading, containerd untouched. 'config': the config may be written and containerd restarted. */
  phase: 'files' | 'config';
  /** The state dir did not exist before: undoing removes it again. */
  createdStateDir: boolean;
  files: JournalFile[];
  /** null: the run does not change the config. Digests null: the file is absent. */
  config: {
    path: string;
    beforeSha256: string | null;
    afterSha256: string | null;
    backup: string | null;
    /** Files that hold a copy of the config (EKS: the file containerd reads); equal to it before and after. */
    copies?: string[];
  } | null;
  restart: boolean;
  /** What the CRI lists when the new config is live, and when the old one is. */
  expectNew: RuntimeExpectation;
  expectOld: RuntimeExpectation;
  /** Shims that must be executable once containerd is back. */
  shims: string[];
  /** The record to write once complete (null: no record remains). */
  record: InstalledRecord | null;
  removals: Removal[];
  /** Directories this run creates (outermost first): an undo removes them again when empty. */
  createdDirs?: string[];
  /** Directories kubewasm created earlier and no longer needs: removed when empty on completion. */
  removeDirs?: string[];
}

export function journalPath(stateDir: string): string {
  return `${stateDir}/journal.json`;
}

export function configBackupPath(stateDir: string): string {
  return `${stateDir}/config.backup`;
}

export function fileBackupDir(stateDir: string): string {
  return `${stateDir}/backup`;
}

/** Pure: the journal for a plan. */
export function journalFor(
  plan: NodePlan,
  stateDir: string,
  options: { owner: string; createdStateDir: boolean; configSha256: (bytes: Buffer) => string; staged?: Map<string, string>; now?: Date },
): Journal {
  const { config } = plan;
  const before = new Set(plan.previousRuntimes);
  const added = plan.config.registered.filter((r) => !before.has(r));
  return {
    formatVersion: 2,
    startedAt: (options.now ?? new Date()).toISOString(),
    owner: options.owner,
    phase: 'files',
    createdStateDir: options.createdStateDir,
    files: plan.uploads.map((u) => {
      const staged = options.staged?.get(u.to);
      return { path: u.to, sha256: u.sha256, backup: u.replaces ? `${fileBackupDir(stateDir)}/${u.replaces}` : null, ...(staged ? { staged } : {}), ...(u.keep ? { keep: true } : {}) };
    }),
    config: config.changed
      ? {
          path: config.path,
          beforeSha256: config.before ? options.configSha256(config.before) : null,
          afterSha256: config.after ? options.configSha256(config.after) : null,
          backup: config.before ? configBackupPath(stateDir) : null,
          ...(config.copies.length ? { copies: config.copies } : {}),
        }
      : null,
    restart: plan.restart,
    expectNew: { present: plan.runtimes.map((r) => r.name), absent: plan.config.dropped },
    // Once the old config is back, what this run added is gone again.
    expectOld: { present: [], absent: added },
    shims: plan.record?.shims.map((s) => s.path) ?? [],
    record: plan.record ?? null,
    removals: plan.removals,
    ...(plan.createDirs.length ? { createdDirs: plan.createDirs } : {}),
    ...(plan.removeDirs.length ? { removeDirs: plan.removeDirs } : {}),
  };
}

export type RecoveryDecision =
  | { action: 'complete'; why: string }
  | { action: 'undo'; why: string }
  | { action: 'conflict'; why: string };

/**
 * Pure: complete the interrupted run when everything it wrote is in place
 * (then only containerd's restart may be missing), undo it otherwise.
 * `current` holds the sha256 of each file on the node now (null: absent).
 */
export function decideRecovery(journal: Journal, current: { config: string | null; files: Record<string, string | null> }): RecoveryDecision {
  const filesDone = journal.files.every((f) => current.files[f.path] === f.sha256);
  if (journal.config) {
    if (current.config === journal.config.afterSha256 && journal.phase === 'config') {
      return filesDone ? { action: 'complete', why: 'its new config and shims are in place' } : { action: 'undo', why: 'its config was written but a shim it uploaded is not in place' };
    }
    if (current.config === journal.config.beforeSha256) return { action: 'undo', why: journal.phase === 'files' ? 'it stopped while uploading, before changing the config' : 'it stopped before its config change took effect' };
    return {
      action: 'conflict',
      why: `${journal.config.path} is neither the config it started from nor the one it wrote: someone changed it since`,
    };
  }
  return filesDone && journal.phase === 'config' ? { action: 'complete', why: 'its shims are in place' } : { action: 'undo', why: 'it stopped before it was done' };
}

export async function readJournal(host: NodeHost, stateDir: string): Promise<Journal | undefined> {
  const bytes = await host.readFile(journalPath(stateDir));
  if (!bytes) return undefined;
  let journal: Journal;
  try {
    journal = JSON.parse(bytes.toString('utf8')) as Journal;
  } catch (err) {
    throw unreadable(host, stateDir, (err as Error).message);
  }
  if (journal.formatVersion !== 2) throw unreadable(host, stateDir, `unknown formatVersion ${String(journal.formatVersion)}`);
  return journal;
}

export async function writeJournal(host: NodeHost, stateDir: string, journal: Journal): Promise<void> {
  await host.writeFileAtomic(journalPath(stateDir), `${JSON.stringify(journal, null, 2)}\n`, 0o600);
}

function unreadable(host: NodeHost, stateDir: string, reason: string): KubewasmError {
  return new KubewasmError({
    what: `kubewasm's journal of an interrupted run is unreadable (${reason})`,
    where: `${host.name}:${journalPath(stateDir)}`,
    fix: `compare the containerd config with ${configBackupPath(stateDir)} by hand, then remove the journal`,
  });
}
