// Taking back and finishing a run, from its journal: shared by applyPlan
// (steps.ts undos) and by the recovery of an interrupted run (recover.ts).
import { KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import { restartContainerd, waitForCri } from '../containerd/service.js';
import type { ContainerdSetup } from '../containerd/setup.js';
import { fileBackupDir, journalPath, type Journal } from './journal.js';
import { copyOnNode, writeConfig } from './node-files.js';
import { sha256 } from './node-facts.js';
import type { NodeOptions } from './options.js';
import { digestCachePath } from './node-probe.js';
import { keptPath, writeRecord } from './record.js';

/** Puts back each file the journal names: its backup, or nothing if it did not exist; then the directories it created, if empty. */
export async function undoFiles(host: NodeHost, journal: Journal): Promise<void> {
  for (const file of journal.files) {
    if (file.staged) await host.removeFile(file.staged);
    if (file.backup) {
      if (await host.stat(file.backup)) await copyOnNode(host, file.backup, file.path);
    } else await host.removeFile(file.path);
  }
  for (const dir of [...(journal.createdDirs ?? [])].reverse()) await host.removeEmptyDir(dir);
}

/** Restores the config the journal started from (and its copies) and restarts containerd on it. */
export async function undoConfig(host: NodeHost, setup: ContainerdSetup, journal: Journal, options: NodeOptions): Promise<void> {
  if (journal.config) {
    const original = journal.config.backup ? await host.readFile(journal.config.backup) : undefined;
    if (journal.config.backup && (!original || sha256(original) !== journal.config.beforeSha256)) {
      throw new KubewasmError({ what: `the backup of the config is missing or damaged`, where: `${host.name}:${journal.config.backup}`, fix: `restore ${journal.config.path} by hand` });
    }
    await writeConfig(host, journal.config.path, original);
    for (const copy of journal.config.copies ?? []) await writeConfig(host, copy, original);
  }
  options.onStep?.('restart containerd on the previous config');
  await restartContainerd(host, setup);
  await waitForCri(host, setup, journal.expectOld, options.criTimeoutMs);
}

/** Removes the journal and backups; the state dir too when nothing of kubewasm's is left in it. */
export async function cleanUp(host: NodeHost, stateDir: string, journal: Journal, removeStateDir: boolean): Promise<void> {
  const backups = journal.files.filter((f) => f.backup);
  for (const file of backups) await host.removeFile(file.backup!);
  if (backups.length) await host.removeEmptyDir(fileBackupDir(stateDir));
  if (journal.config?.backup) await host.removeFile(journal.config.backup);
  await host.removeFile(journalPath(stateDir));
  if (removeStateDir) {
    await host.removeEmptyDir(`${stateDir}/kept`);
    await host.removeFile(digestCachePath(stateDir)); // nothing of kubewasm's left to hash
    await host.removeEmptyDir(stateDir);
  }
}

/**
 * The end of a successful run (or the completion of an interrupted one):
 * someone else's replaced binaries move to kept/, the record, removals (a
 * kept file goes back where kubewasm found it), directories kubewasm created
 * and no longer needs, clean up.
 */
export async function complete(host: NodeHost, stateDir: string, journal: Journal, step: (m: string) => void): Promise<void> {
  for (const file of journal.files) {
    if (!file.keep || !file.backup) continue;
    const kept = keptPath(stateDir, file.backup.slice(file.backup.lastIndexOf('/') + 1));
    if (!(await host.stat(kept)) && (await host.stat(file.backup))) {
      await host.mkdirp(`${stateDir}/kept`, 0o700);
      await host.rename(file.backup, kept);
    }
  }
  await writeRecord(host, stateDir, journal.record ?? undefined, { stateDirExists: true });
  for (const removal of journal.removals) {
    if (removal.restore) {
      const kept = keptPath(stateDir, removal.restore);
      step(`put back the file kubewasm found at ${removal.path}`);
      if (await host.stat(kept)) {
        await copyOnNode(host, kept, removal.path);
        await host.removeFile(kept);
        continue;
      }
      step(`kubewasm's copy of it (${kept}) is gone: removing ${removal.path}`);
    } else step(`remove ${removal.path}`);
    await host.removeFile(removal.path);
  }
  for (const dir of journal.removeDirs ?? []) await host.removeEmptyDir(dir);
  await cleanUp(host, stateDir, journal, journal.record === null);
}
