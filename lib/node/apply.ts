// The acting half of the node algorithm: read a node's facts, and apply a
// plan with a backup, a journal and a rollback, so that a node is left either
// exactly as it was or fully converged.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readContainerdFacts, type SetupOverrides } from '../containerd/facts.js';
import { restartContainerd, waitForCri } from '../containerd/service.js';
import type { ContainerdSetup } from '../containerd/setup.js';
import { asKubewasmError, KubewasmError } from '../errors.js';
import type { NodeHost } from './host.js';
import { pathsToInspect, type NodeDesired, type NodeFacts, type NodePlan } from './plan.js';
import { DEFAULT_STATE_DIR, readRecord, writeRecord } from './record.js';

export interface NodeOptions {
  /** containerd settings that override detection (config path, socket, restart command, …). */
  containerd?: SetupOverrides;
  /** Where kubewasm keeps its record, journal and backup on the node. */
  stateDir?: string;
  /** How long to wait for containerd's CRI after a restart. */
  criTimeoutMs?: number;
  /** Progress messages. */
  onStep?: (message: string) => void;
}

interface Journal {
  /** The config file being changed, and where its original bytes are (null: it did not exist). */
  configPath: string;
  backupPath: string | null;
  startedAt: string;
}

export async function readNodeFacts(host: NodeHost, desired: NodeDesired, options: NodeOptions = {}): Promise<NodeFacts> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const containerd = await readContainerdFacts(host, options.containerd);
  const record = await readRecord(host, stateDir);
  const fileDigests: Record<string, string | undefined> = {};
  for (const path of pathsToInspect({ containerd, record }, desired)) fileDigests[path] = await digestOnNode(host, path);
  return { node: host.name, containerd, record, fileDigests };
}

/** sha256 of a file on the node, undefined when it is absent. */
export async function digestOnNode(host: NodeHost, path: string): Promise<string | undefined> {
  if (!(await host.stat(path))) return undefined;
  const result = await host.exec(['sha256sum', path], { timeoutMs: 60_000 });
  if (result.code === 0) return result.stdout.split(/\s+/)[0];
  const bytes = await host.readFile(path); // no sha256sum on the node: hash here
  return bytes ? createHash('sha256').update(bytes).digest('hex') : undefined;
}

/**
 * Performs a plan. On any failure after the config was written, the original
 * config is put back and containerd restarted again before the error is thrown.
 */
export async function applyPlan(host: NodeHost, plan: NodePlan, setup: ContainerdSetup, options: NodeOptions = {}): Promise<void> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const step = options.onStep ?? (() => {});

  const newFiles: string[] = [];
  for (const upload of plan.uploads) {
    step(`upload ${upload.shim} shim to ${upload.to}`);
    const existed = (await host.stat(upload.to)) !== undefined;
    await uploadVerified(host, upload.from, upload.to, upload.sha256);
    if (!existed) newFiles.push(upload.to);
  }

  if (plan.restart) {
    const journal = await writeJournal(host, stateDir, plan);
    let configWritten = false;
    try {
      if (plan.config.changed) {
        step(`${plan.config.after === undefined ? 'remove' : 'write'} ${plan.config.path}`);
        await writeConfig(host, plan.config.path, plan.config.after);
        configWritten = true;
      }
      step('restart containerd');
      await restartContainerd(host, setup);
      step("wait for containerd's CRI");
      await waitForCri(host, setup, { present: plan.runtimes.map((r) => r.name), absent: plan.config.dropped }, options.criTimeoutMs);
    } catch (err) {
      const failure = asKubewasmError(err);
      let undone = 'nothing on the node was changed';
      if (configWritten) {
        step(`failed (${failure.what}); restoring the previous config`);
        try {
          await rollback(host, setup, journal, plan.config.before, options);
          undone = 'the previous config was restored and containerd restarted';
        } catch (rollbackError) {
          // Keep the journal: the next run retries the rollback before anything else.
          for (const path of newFiles) await host.removeFile(path);
          throw new KubewasmError({
            what: `${failure.what}; restoring the previous config failed too: ${asKubewasmError(rollbackError).what}`,
            where: failure.where ?? host.name,
            fix: `fix the node, then run kubewasm again: it restores ${plan.config.path} from ${journal.backupPath ?? '(no file)'} first`,
            cause: err,
          });
        }
      }
      for (const path of newFiles) await host.removeFile(path);
      await host.removeFile(journalPath(stateDir));
      throw new KubewasmError({ what: `${failure.what}; ${undone}`, where: failure.where ?? host.name, fix: failure.fix ?? "see containerd's log on the node", cause: err });
    }
  }

  await writeRecord(host, stateDir, plan.record);
  await host.removeFile(journalPath(stateDir));
  for (const removal of plan.removals) {
    step(`remove ${removal.path}`);
    await host.removeFile(removal.path);
  }
  if (plan.record === undefined) await host.removeFile(backupPath(stateDir));
}

async function uploadVerified(host: NodeHost, from: string, to: string, sha256: string): Promise<void> {
  const bytes = await readFile(from);
  const local = createHash('sha256').update(bytes).digest('hex');
  if (local !== sha256) {
    throw new KubewasmError({ what: `the shim binary changed on this machine since it was verified (sha256 ${local}, expected ${sha256})`, where: from, fix: 'run kubewasm again so it downloads and verifies the shim afresh' });
  }
  await host.mkdirp(to.slice(0, to.lastIndexOf('/')) || '/');
  await host.writeFileAtomic(to, bytes, 0o755);
  const onNode = await digestOnNode(host, to);
  if (onNode !== sha256) {
    await host.removeFile(to);
    throw new KubewasmError({ what: `the uploaded shim has sha256 ${onNode ?? '(missing)'} on the node, expected ${sha256}`, where: `${host.name}:${to}`, fix: 'check the node\'s disk (space, errors) and run kubewasm again' });
  }
}

async function writeConfig(host: NodeHost, path: string, content: Buffer | undefined): Promise<void> {
  try {
    if (content === undefined) return await host.removeFile(path);
    const mode = (await host.stat(path))?.mode ?? 0o644;
    await host.mkdirp(path.slice(0, path.lastIndexOf('/')) || '/');
    await host.writeFileAtomic(path, content, mode);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'EROFS' ? 'its file system is read-only' : (err as Error).message;
    throw new KubewasmError({
      what: `cannot write the containerd config: ${reason}`,
      where: `${host.name}:${path}`,
      fix: 'make the file writable for root, or point --config at the file containerd reads on this node (some distributions keep it elsewhere)',
      cause: err,
    });
  }
}

function journalPath(stateDir: string): string {
  return `${stateDir}/journal.json`;
}

function backupPath(stateDir: string): string {
  return `${stateDir}/config.backup`;
}

/** Written before the config changes; its presence at the next start means a run was interrupted. */
async function writeJournal(host: NodeHost, stateDir: string, plan: NodePlan): Promise<Journal> {
  await host.mkdirp(stateDir, 0o700);
  const journal: Journal = { configPath: plan.config.path, backupPath: plan.config.before ? backupPath(stateDir) : null, startedAt: new Date().toISOString() };
  if (plan.config.before) await host.writeFileAtomic(backupPath(stateDir), plan.config.before, 0o600);
  await host.writeFileAtomic(journalPath(stateDir), `${JSON.stringify(journal, null, 2)}\n`, 0o600);
  return journal;
}

async function rollback(host: NodeHost, setup: ContainerdSetup, journal: Journal, before: Buffer | undefined, options: NodeOptions): Promise<void> {
  const original = before ?? (journal.backupPath ? await host.readFile(journal.backupPath) : undefined);
  await writeConfig(host, journal.configPath, original);
  await restartContainerd(host, setup);
  await waitForCri(host, setup, { present: [], absent: [] }, options.criTimeoutMs);
}

/**
 * A journal left by a run that was killed between writing the config and
 * seeing containerd healthy: put the original config back before anything else.
 */
export async function recoverInterrupted(host: NodeHost, setup: ContainerdSetup, options: NodeOptions = {}): Promise<boolean> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const bytes = await host.readFile(journalPath(stateDir));
  if (!bytes) return false;
  const journal = JSON.parse(bytes.toString('utf8')) as Journal;
  options.onStep?.(`an earlier run was interrupted at ${journal.startedAt}: restoring ${journal.configPath}`);
  await rollback(host, setup, journal, undefined, options);
  await host.removeFile(journalPath(stateDir));
  return true;
}
