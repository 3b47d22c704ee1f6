// The record kubewasm keeps on each node of exactly what it installed, so that
// an uninstall removes that and nothing else.
import { KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';

export const DEFAULT_STATE_DIR = '/var/lib/kubewasm';

export interface InstalledShim {
  name: string;
  version?: string;
  path: string;
  sha256: string;
}

export interface InstalledRecord {
  formatVersion: 1;
  configPath: string;
  runtimes: string[];
  shims: InstalledShim[];
  updatedAt: string;
}

export function recordPath(stateDir: string): string {
  return `${stateDir}/installed.json`;
}

export async function readRecord(host: NodeHost, stateDir: string): Promise<InstalledRecord | undefined> {
  const bytes = await host.readFile(recordPath(stateDir));
  if (!bytes) return undefined;
  try {
    const record = JSON.parse(bytes.toString('utf8')) as InstalledRecord;
    if (record.formatVersion !== 1) throw new Error(`unknown formatVersion ${String(record.formatVersion)}`);
    return record;
  } catch (err) {
    throw new KubewasmError({
      what: `kubewasm's record of what it installed is unreadable: ${(err as Error).message}`,
      where: `${host.name}:${recordPath(stateDir)}`,
      fix: 'restore it from a backup, or remove it and remove kubewasm\'s shims and config block by hand',
    });
  }
}

export async function writeRecord(host: NodeHost, stateDir: string, record: InstalledRecord | undefined, options: { stateDirExists?: boolean } = {}): Promise<void> {
  if (!record) return host.removeFile(recordPath(stateDir));
  if (!options.stateDirExists) await host.mkdirp(stateDir, 0o700);
  await host.writeFileAtomic(recordPath(stateDir), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}
