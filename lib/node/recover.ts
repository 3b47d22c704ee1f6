// Recovery: a journal left by an interrupted run (kill -9, a dropped
// connection, the pod that restarted its own containerd) is completed when
// all it wrote is in place, undone otherwise, under the node lock, before
// anything else. Also the sweep of temporary files an interrupted write left.
import { criStatus, restartContainerd, waitForCri } from '../containerd/service.js';
import type { ContainerdSetup } from '../containerd/setup.js';
import { asKubewasmError, KubewasmError } from '../errors.js';
import { isTempOf, type NodeHost } from '../host/host.js';
import { configBackupPath, decideRecovery, journalPath, readJournal, type RuntimeExpectation } from './journal.js';
import { checkShims } from './node-files.js';
import { digestOnNode, sha256 } from './node-facts.js';
import { digestCachePath } from './node-probe.js';
import { noGate, type NodeOptions } from './options.js';
import { DEFAULT_STATE_DIR, recordPath } from './record.js';
import { cleanUp, complete, undoConfig, undoFiles } from './undo.js';

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
  return [journalPath(stateDir), recordPath(stateDir), configBackupPath(stateDir), digestCachePath(stateDir)];
}

function runtimesMatch(runtimes: string[] | undefined, expect: RuntimeExpectation): boolean {
  if (runtimes === undefined) return false; // cannot tell without crictl: restart to be sure
  return expect.present.every((r) => runtimes.includes(r)) && expect.absent.every((r) => !runtimes.includes(r));
}
