// The record kubewasm keeps on each node of exactly what it installed, so that
// an uninstall removes that and nothing else.
import { KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';

export const DEFAULT_STATE_DIR = '/var/lib/kubewasm';

export interface InstalledShim {
  name: string;
  /** The version the binary itself printed (`-v`) when kubewasm placed it; else the one it was resolved as. */
  version?: string;
  path: string;
  sha256: string;
  /** The first line of `<shim> -v` on this node when kubewasm placed it: proof it runs here. */
  ran?: string;
  /** sha256 of a file that was at `path` before kubewasm (not kubewasm's): kept in the state dir, put back at uninstall. */
  kept?: string;
}

/** An InstalledShim with its keys in one order, so two records of the same facts are the same JSON. */
export function installedShim(shim: InstalledShim): InstalledShim {
  const { name, version, path, sha256, ran, kept } = shim;
  return { name, ...(version ? { version } : {}), path, sha256, ...(ran ? { ran } : {}), ...(kept ? { kept } : {}) };
}

export interface InstalledRecord {
  formatVersion: 1;
  configPath: string;
  runtimes: string[];
  shims: InstalledShim[];
  /** Directories kubewasm created for its shims: removed (when empty) once no shim of kubewasm's is in them. */
  createdDirs?: string[];
  updatedAt: string;
}

export function recordPath(stateDir: string): string {
  return `${stateDir}/installed.json`;
}

/** Where kubewasm keeps the bytes of files it replaced that were not its own, until uninstall puts them back. */
export function keptPath(stateDir: string, sha256: string): string {
  return `${stateDir}/kept/${sha256}`;
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
