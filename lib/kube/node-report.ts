// What the node installer writes on its own Node, decided purely: from the
// node's current labels and annotations and what the installer observed, the
// smallest JSON merge patch that makes the node say so. Only kubewasm's keys
// are ever in it (the own-node admission policy refuses anything else).
import {
  ANNOTATIONS,
  MANAGED_LABEL,
  OPT_IN_LABEL,
  OPT_IN_VALUE,
  readyLabel,
  READY_LABEL_PREFIX,
  READY_VALUE,
  type NodeState,
} from './names.js';

export interface NodeMeta {
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

export interface InstalledShimReport {
  name: string;
  version?: string | undefined;
  sha256: string;
  runtime: string;
}

export type NodeReport =
  /** About to change the node: it is managed from now on; ready labels stay only for shims still wanted. */
  | { phase: 'Converging'; desired: string; keepReady: readonly string[] }
  /** Converged (or found converged) and checked: `ready` are the shims containerd runs now. */
  | { phase: 'Ready'; desired: string; ready: readonly string[]; shims: readonly InstalledShimReport[]; configDigest?: string | undefined; containerd?: string | undefined; blockDigest?: string | undefined; time: string }
  /** The node stopped matching (a file or containerd changed under kubewasm): ready labels go first, `error` says why; a converge follows. */
  | { phase: 'Drifted'; desired: string; ready: readonly string[]; error: string; time: string }
  /** A user's own change kubewasm leaves alone (a hand edit in its block, a runtime of theirs): said once, not fought. */
  | { phase: 'Conflict'; desired: string; ready: readonly string[]; error: string; time: string }
  /** A converge or reset failed; `ready` are the shims that still check out after the rollback. */
  | { phase: 'Failed'; desired?: string | undefined; ready: readonly string[]; error: string; time: string }
  /** About to reset: no ready labels from now on. */
  | { phase: 'Resetting' }
  /** Reset done: nothing of kubewasm's on the node, so nothing of kubewasm's on the Node object either. */
  | { phase: 'Reset' };

export type MergePatch = { metadata: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> } };

export function isOptedIn(meta: NodeMeta): boolean {
  return meta.labels?.[OPT_IN_LABEL] === OPT_IN_VALUE;
}

/** Any kubewasm label or annotation the installer manages (not the user's opt-in label). */
export function hasKubewasmMarks(meta: NodeMeta): boolean {
  return Object.keys(meta.labels ?? {}).some(isInstallerLabel) || Object.keys(meta.annotations ?? {}).some(isInstallerAnnotation);
}

function isInstallerLabel(key: string): boolean {
  return key === MANAGED_LABEL || key.startsWith(READY_LABEL_PREFIX);
}

function isInstallerAnnotation(key: string): boolean {
  return (Object.values(ANNOTATIONS) as string[]).includes(key);
}

/** The installer-owned labels and annotations the node should carry after `report`. */
export function wantedMarks(current: NodeMeta, report: NodeReport): { labels: Record<string, string>; annotations: Record<string, string> } {
  const oldAnn = current.annotations ?? {};
  const keep = (keys: string[]) => Object.fromEntries(keys.filter((k) => oldAnn[k] !== undefined).map((k) => [k, oldAnn[k]!]));
  const ready = (names: readonly string[]) => Object.fromEntries(names.map((n) => [readyLabel(n), READY_VALUE]));
  switch (report.phase) {
    case 'Converging': {
      const stillReady = Object.keys(current.labels ?? {})
        .filter((k) => k.startsWith(READY_LABEL_PREFIX) && current.labels?.[k] === READY_VALUE)
        .map((k) => k.slice(READY_LABEL_PREFIX.length))
        .filter((n) => report.keepReady.includes(n));
      return {
        labels: { [MANAGED_LABEL]: 'true', ...ready(stillReady) },
        annotations: {
          ...keep([ANNOTATIONS.shims, ANNOTATIONS.configDigest, ANNOTATIONS.containerd, ANNOTATIONS.lastError, ANNOTATIONS.lastErrorTime, ANNOTATIONS.updated, ANNOTATIONS.blockDigest]),
          [ANNOTATIONS.state]: 'Converging',
          [ANNOTATIONS.desired]: report.desired,
        },
      };
    }
    case 'Ready':
      return {
        labels: { [MANAGED_LABEL]: 'true', ...ready(report.ready) },
        annotations: {
          [ANNOTATIONS.state]: 'Ready',
          [ANNOTATIONS.desired]: report.desired,
          [ANNOTATIONS.shims]: JSON.stringify(report.shims),
          ...(report.configDigest ? { [ANNOTATIONS.configDigest]: report.configDigest } : {}),
          ...(report.containerd ? { [ANNOTATIONS.containerd]: report.containerd } : {}),
          ...(report.blockDigest ? { [ANNOTATIONS.blockDigest]: report.blockDigest } : {}),
          [ANNOTATIONS.updated]: report.time,
        },
      };
    case 'Drifted':
    case 'Conflict':
      return {
        labels: { [MANAGED_LABEL]: 'true', ...ready(report.ready) },
        annotations: {
          ...keep([ANNOTATIONS.shims, ANNOTATIONS.configDigest, ANNOTATIONS.containerd, ANNOTATIONS.updated, ANNOTATIONS.blockDigest]),
          [ANNOTATIONS.desired]: report.desired,
          [ANNOTATIONS.state]: report.phase,
          [ANNOTATIONS.lastError]: truncate(report.error, 2000),
          [ANNOTATIONS.lastErrorTime]: report.time,
        },
      };
    case 'Failed':
      return {
        labels: { [MANAGED_LABEL]: 'true', ...ready(report.ready) },
        annotations: {
          ...keep([ANNOTATIONS.shims, ANNOTATIONS.configDigest, ANNOTATIONS.containerd, ANNOTATIONS.updated, ANNOTATIONS.desired, ANNOTATIONS.blockDigest]),
          ...(report.desired ? { [ANNOTATIONS.desired]: report.desired } : {}),
          [ANNOTATIONS.state]: 'Failed',
          [ANNOTATIONS.lastError]: truncate(report.error, 2000),
          [ANNOTATIONS.lastErrorTime]: report.time,
        },
      };
    case 'Resetting':
      return {
        labels: { [MANAGED_LABEL]: 'true' },
        annotations: { ...keep([ANNOTATIONS.lastError, ANNOTATIONS.lastErrorTime]), [ANNOTATIONS.state]: 'Resetting' },
      };
    case 'Reset':
      return { labels: {}, annotations: {} };
  }
}

/** The merge patch from `current` to the marks `report` wants; undefined when the node already says it. */
export function nodePatch(current: NodeMeta, report: NodeReport): MergePatch | undefined {
  const wanted = wantedMarks(current, report);
  const labels = diff(current.labels ?? {}, wanted.labels, isInstallerLabel);
  const annotations = diff(current.annotations ?? {}, wanted.annotations, isInstallerAnnotation);
  if (!labels && !annotations) return undefined;
  return { metadata: { ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) } };
}

function diff(current: Record<string, string>, wanted: Record<string, string>, owned: (key: string) => boolean): Record<string, string | null> | undefined {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(wanted)) if (current[k] !== v) out[k] = v;
  for (const k of Object.keys(current)) if (owned(k) && !(k in wanted)) out[k] = null;
  return Object.keys(out).length ? out : undefined;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Pure: is kubewasm's block in the config a user's hand edit? Yes when the
 * block on the node differs both from the one the installer last wrote or
 * found (`recorded`, the Node's block-digest annotation) and from the one it
 * would write now (`planned`). A block that equals `recorded` but not
 * `planned` is an older spec (converge it); one that is gone is drift (write
 * it again); without a record the installer cannot tell, so it converges.
 */
export function handEditedBlock(block: { onNode?: string | undefined; planned?: string | undefined; recorded?: string | undefined }): boolean {
  return block.onNode !== undefined && block.recorded !== undefined && block.onNode !== block.recorded && block.onNode !== block.planned;
}

/** Backoff after `failures` consecutive failures: 5 s, 10 s, 20 s, … up to 5 min. */
export function backoffMs(failures: number, baseMs = 5_000, maxMs = 300_000): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 20));
}

export type { NodeState };
