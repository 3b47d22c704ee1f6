// planNode: from what is on a node and what is wanted there, decide every
// change. Pure; applyPlan (apply.ts) performs it.
import { planConfig, type ConfigPlan } from '../containerd/config-plan.js';
import type { RuntimeSpec } from '../containerd/runtime.js';
import type { ContainerdFacts } from '../containerd/facts.js';
import type { ShimArchive, ShimBinary } from '../shims/binary.js';
import { installedShim, type InstalledRecord, type InstalledShim } from './record.js';


export interface NodeDesired {
  /** The shims wanted on the node; empty means "remove what kubewasm installed". */
  shims: ShimBinary[];
  /** Where shim binaries go on the node; default: the setup's directory on containerd's PATH. */
  installDir?: string;
}

export interface NodeFacts {
  node: string;
  containerd: ContainerdFacts;
  record: InstalledRecord | undefined;
  /** sha256 of each file on the node that the plan may touch (undefined: absent). */
  fileDigests: Record<string, string | undefined>;
  /** Directories a shim would go into that do not exist yet, outermost first (pathsToCreate). */
  missingDirs?: string[];
}

export interface Upload {
  shim: string;
  from: string;
  to: string;
  sha256: string;
  /** The release archive `from` was unpacked from (a transport may send it and unpack on the node). */
  archive?: ShimArchive;
  /** sha256 of the file this upload replaces (backed up first, put back by a rollback); undefined: a new file. */
  replaces?: string;
  /**
   * The replaced file is not one kubewasm installed (someone else's binary):
   * its bytes stay in kubewasm's state dir and go back in place at uninstall.
   */
  keep?: boolean;
}

export interface Removal {
  path: string;
  /** Removed only when the file still has the digest kubewasm installed. */
  sha256: string;
  /** sha256 of the bytes kubewasm found there first and kept: put back instead of leaving nothing. */
  restore?: string;
}

export interface NodePlan {
  node: string;
  uploads: Upload[];
  /** Shims kubewasm installed before that are no longer wanted (removed after containerd no longer uses them). */
  removals: Removal[];
  /** Files kubewasm installed that someone else changed since; kept, and said. */
  keptModified: string[];
  config: ConfigPlan;
  restart: boolean;
  runtimes: RuntimeSpec[];
  /** The record after the plan is applied; undefined when nothing of kubewasm's remains. */
  record: InstalledRecord | undefined;
  /** The runtimes the node's record listed before (what the old config serves). */
  previousRuntimes: string[];
  /** Directories kubewasm creates for its shims (outermost first); recorded, removed when empty again. */
  createDirs: string[];
  /** Directories kubewasm created earlier that no wanted shim needs any more (innermost first; removed only when empty). */
  removeDirs: string[];
}

/** The paths whose digests planNode needs in NodeFacts.fileDigests. */
export function pathsToInspect(facts: Pick<NodeFacts, 'containerd' | 'record'>, desired: NodeDesired): string[] {
  const dir = desired.installDir ?? facts.containerd.setup.shimDir;
  return [...new Set([...desired.shims.map((s) => `${dir}/${s.shim.binaryName}`), ...(facts.record?.shims.map((s) => s.path) ?? [])])];
}

/** The install directory and its parents, outermost first: readNodeFacts reports which are missing. */
export function dirsToInspect(facts: Pick<NodeFacts, 'containerd'>, desired: NodeDesired): string[] {
  if (desired.shims.length === 0) return [];
  const dir = desired.installDir ?? facts.containerd.setup.shimDir;
  const parts = dir.split('/').filter(Boolean);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

export function planNode(facts: NodeFacts, desired: NodeDesired, now: Date = new Date()): NodePlan {
  const dir = desired.installDir ?? facts.containerd.setup.shimDir;
  const onPath = dir === facts.containerd.setup.shimDir;
  const wanted = desired.shims.map((source) => ({ source, path: `${dir}/${source.shim.binaryName}` }));

  const previousByPath = new Map((facts.record?.shims ?? []).map((s) => [s.path, s]));
  const uploads: Upload[] = wanted
    .filter(({ source, path }) => facts.fileDigests[path] !== source.sha256)
    .map(({ source, path }) => {
      const replaces = facts.fileDigests[path];
      // Not kubewasm's file (no record of it, or kubewasm's own entry says other bytes): keep it for the uninstall.
      const previous = previousByPath.get(path);
      const keep = replaces !== undefined && previous?.sha256 !== replaces && previous?.kept === undefined;
      return { shim: source.shim.name, from: source.localPath, to: path, sha256: source.sha256, ...(source.archive ? { archive: source.archive } : {}), ...(replaces ? { replaces } : {}), ...(keep ? { keep } : {}) };
    });

  const runtimes: RuntimeSpec[] = wanted.map(({ source, path }) => ({
    name: source.shim.runtimeName,
    runtimeType: source.shim.runtimeType,
    ...(onPath ? {} : { runtimePath: path }),
  }));
  const config = planConfig(facts.containerd.config, runtimes);

  const wantedPaths = new Set(wanted.map((w) => w.path));
  const previous = facts.record?.shims ?? [];
  const stale = previous.filter((s) => !wantedPaths.has(s.path));
  const removals: Removal[] = stale
    .filter((s) => facts.fileDigests[s.path] === s.sha256)
    .map((s) => ({ path: s.path, sha256: s.sha256, ...(s.kept ? { restore: s.kept } : {}) }));
  const keptModified = stale.filter((s) => facts.fileDigests[s.path] !== undefined && facts.fileDigests[s.path] !== s.sha256).map((s) => s.path);

  const uploadByPath = new Map(uploads.map((u) => [u.to, u]));
  const shims: InstalledShim[] = wanted.map(({ source, path }) => {
    const previous = previousByPath.get(path);
    const upload = uploadByPath.get(path);
    // What `-v` printed when kubewasm placed these very bytes stays; a new upload's is filled in by applyPlan.
    const ran = previous && !upload && previous.sha256 === source.sha256 ? previous.ran : undefined;
    const version = ran ? previous?.version : source.version;
    const kept = upload?.keep ? upload.replaces : previous?.kept;
    return installedShim({ name: source.shim.name, ...(version ? { version } : {}), path, sha256: source.sha256, ...(ran ? { ran } : {}), ...(kept ? { kept } : {}) });
  });

  // Directories: the ones kubewasm creates now, and the ones it created before that nothing wanted lies in.
  const createDirs = uploads.length ? (facts.missingDirs ?? []) : [];
  const wantedDirs = new Set(wanted.map((w) => w.path.slice(0, w.path.lastIndexOf('/'))));
  const previousDirs = facts.record?.createdDirs ?? [];
  const keptDirs = [...previousDirs, ...createDirs].filter((d) => [...wantedDirs].some((w) => w === d || w.startsWith(`${d}/`)));
  const removeDirs = previousDirs.filter((d) => !keptDirs.includes(d)).sort((a, b) => b.length - a.length);

  const record: InstalledRecord | undefined =
    shims.length === 0 && config.registered.length === 0
      ? undefined
      : {
          formatVersion: 1,
          configPath: config.path,
          runtimes: [...config.registered, ...config.adopted, ...config.autoRegistered],
          shims,
          ...(keptDirs.length ? { createdDirs: [...new Set(keptDirs)] } : {}),
          updatedAt: now.toISOString(),
        };

  // A new shim binary under a registered runtime is picked up per container start; a config change needs a
  // restart, and so does a shim that k3s/rke2 will only register when they render their config again.
  const restart = config.changed || config.autoRegistered.length > 0;
  return { node: facts.node, uploads, removals, keptModified, config, restart, runtimes, record, previousRuntimes: facts.record?.runtimes ?? [], createDirs, removeDirs };
}

export function planIsEmpty(plan: NodePlan): boolean {
  return plan.uploads.length === 0 && plan.removals.length === 0 && !plan.restart && plan.removeDirs.length === 0;
}

/** The plan as lines a person reads (--dry-run). */
export function describePlan(plan: NodePlan): string[] {
  const lines: string[] = [];
  for (const d of plan.createDirs) lines.push(`create ${d} (removed again when kubewasm's shims are gone)`);
  for (const u of plan.uploads) {
    const replacing = u.replaces ? `, replacing the file there (sha256 ${u.replaces.slice(0, 12)}…, ${u.keep ? 'not kubewasm\'s: kept in kubewasm\'s state dir and put back at uninstall' : 'kept for a rollback'})` : '';
    lines.push(`install ${u.shim} shim: ${u.to} (sha256 ${u.sha256.slice(0, 12)}…)${replacing}`);
  }
  if (plan.config.changed) {
    const action = plan.config.after === undefined ? 'remove (kubewasm created it)' : plan.config.before === undefined ? 'create' : 'edit';
    const what = [
      plan.config.registered.length ? `register ${plan.config.registered.join(', ')}` : '',
      plan.config.dropped.length ? `unregister ${plan.config.dropped.join(', ')}` : '',
    ].filter(Boolean).join('; ');
    lines.push(`${action} ${plan.config.path} (config version ${plan.config.configVersion})${what ? `: ${what}` : ''}`);
    if (plan.config.imagePull?.decision === 'set') lines.push(`set use_local_image_pull = true (CRI images plugin) in ${plan.config.path}: ${plan.config.imagePull.why}`);
  }
  if (plan.config.imagePull?.decision === 'cannot') lines.push(`warning: ${plan.config.imagePull.why}`);
  for (const name of plan.config.autoRegistered) lines.push(`let ${name} be registered by the distribution itself (its shim is on its PATH)`);
  for (const name of plan.config.adopted) lines.push(`keep runtime ${name}: already registered identically by hand`);
  if (plan.restart) lines.push('restart containerd and wait for its CRI');
  for (const r of plan.removals) lines.push(r.restore ? `put back the file kubewasm found at ${r.path} (sha256 ${r.restore.slice(0, 12)}…)` : `remove ${r.path}`);
  for (const d of plan.removeDirs) lines.push(`remove ${d} if empty (kubewasm created it)`);
  for (const path of plan.keptModified) lines.push(`keep ${path}: changed since kubewasm installed it`);
  if (lines.length === 0) lines.push('nothing to do: the node already matches');
  return lines;
}
