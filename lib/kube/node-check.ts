// One look at the node, for the installer: lib/node's observeNode (facts,
// CRI, does the node match and why not) plus what the controller decides on:
// the plan that would converge it (or the user's own change that stops it),
// kubewasm's record, whether each shim runs, the digests of kubewasm's block
// as it is and as it would be written, and the files to watch next. Reads only.
import { createHash } from 'node:crypto';
import { findBlock } from '../containerd/block.js';
import type { CriStatus } from '../containerd/service.js';
import { asKubewasmError, type KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import type { ConvergeOptions } from '../node/converge.js';
import { observeNode } from '../node/observe.js';
import { planNode, type NodeDesired, type NodeFacts, type NodePlan } from '../node/plan.js';
import { DEFAULT_STATE_DIR, recordPath, type InstalledRecord } from '../node/record.js';
import type { InstalledShimReport } from './node-report.js';
import type { WatchedPath } from './node-watch.js';

export interface NodeCheck {
  facts: NodeFacts;
  /** The plan that would converge the node; undefined when kubewasm cannot plan (see `userConflict`). */
  plan: NodePlan | undefined;
  cri: CriStatus;
  /** Shims whose binary has the expected digest and runs, and whose runtime containerd's CRI lists. */
  ready: string[];
  /** Why the node does not match (empty: it does). */
  problems: string[];
  /** A user's own change kubewasm must not overwrite (a runtime of theirs under kubewasm's name, a damaged block). */
  userConflict: KubewasmError | undefined;
  shims: InstalledShimReport[];
  configDigest?: string;
  /** sha256 of kubewasm's block in the config as it is, and as kubewasm would write it. */
  block: { onNode?: string | undefined; planned?: string | undefined };
  containerd: string;
  /** What to watch on the node for the next change. */
  watch: WatchedPath[];
}

/** Errors of the config engine that mean "the user has their own say here": reported, not retried in a loop. */
export function isUserConflict(error: KubewasmError): boolean {
  return /is already registered with runtime_type|kubewasm's block is damaged/.test(error.what);
}

export async function checkNode(host: NodeHost, desired: NodeDesired, options: ConvergeOptions = {}): Promise<NodeCheck> {
  const seen = await observeNode(host, desired, options);
  const { facts } = seen;
  const config = facts.containerd.config;
  const problems = [...seen.problems];
  let plan: NodePlan | undefined;
  let userConflict: KubewasmError | undefined;
  try {
    plan = planNode(facts, desired);
  } catch (err) {
    const error = asKubewasmError(err);
    if (isUserConflict(error)) userConflict = error;
    else problems.push(error.message);
  }
  if (plan && desired.shims.length > 0 && !sameRecord(facts.record, plan.record)) {
    const where = recordPath(options.stateDir ?? DEFAULT_STATE_DIR);
    problems.push(facts.record ? `kubewasm's record ${where} does not say what is installed` : `kubewasm's record ${where} is missing`);
  }
  // "The shim runs": its own -v, for each shim containerd would start.
  const ready: string[] = [];
  for (const shim of seen.shims.filter((s) => s.ready)) {
    const failure = await shimRuns(host, shim.path);
    if (failure) problems.push(`${shim.name}: ${shim.path} -v does not run (${failure})`);
    else ready.push(shim.name);
  }
  const text = config.content?.toString('utf8');
  const blockOf = (t: string | undefined) => {
    if (t === undefined) return undefined;
    try {
      const found = findBlock(t, config.path);
      return found ? digest(t.slice(found.start, found.end)) : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    facts,
    plan,
    cri: seen.cri,
    ready,
    problems: [...new Set(problems)],
    userConflict,
    shims: seen.shims.map((s) => ({ name: s.name, ...(s.version ? { version: s.version } : {}), sha256: s.sha256, runtime: s.runtime })),
    ...(seen.configDigest ? { configDigest: seen.configDigest } : {}),
    block: { onNode: blockOf(text), planned: plan ? blockOf(plan.config.after?.toString('utf8')) : undefined },
    containerd: seen.containerd,
    watch: watchTargets(facts, desired, options),
  };
}

/** Pure: the files whose change may mean the node no longer matches. */
export function watchTargets(facts: Pick<NodeFacts, 'containerd'>, desired: NodeDesired, options: Pick<ConvergeOptions, 'stateDir'> = {}): WatchedPath[] {
  const { setup } = facts.containerd;
  const dir = desired.installDir ?? setup.shimDir;
  return [
    { path: setup.configPath, what: 'containerd config' },
    ...(setup.renderedConfigPath ? [{ path: setup.renderedConfigPath, what: 'rendered containerd config' }] : []),
    ...(setup.copiedConfigPath ? [{ path: setup.copiedConfigPath, what: 'containerd config copy' }] : []),
    ...desired.shims.map((s) => ({ path: `${dir}/${s.shim.binaryName}`, what: `${s.shim.name} shim` })),
    { path: recordPath(options.stateDir ?? DEFAULT_STATE_DIR), what: "kubewasm's record" },
    // containerd binds its socket anew on every start: a new inode is a restart.
    { path: setup.address, what: "containerd's socket" },
  ];
}

/** Same shims, runtimes and config as kubewasm would record (the time aside). */
function sameRecord(a: InstalledRecord | undefined, b: InstalledRecord | undefined): boolean {
  const strip = (r: InstalledRecord | undefined) => (r ? JSON.stringify({ ...r, updatedAt: '' }) : undefined);
  return strip(a) === strip(b);
}

/** undefined when `<shim> -v` exits 0, else what it said. */
async function shimRuns(host: NodeHost, path: string): Promise<string | undefined> {
  const result = await host.exec([path, '-v'], { timeoutMs: 10_000 });
  return result.code === 0 ? undefined : `exit ${result.code}: ${(result.stderr || result.stdout).trim().split('\n').at(-1)?.slice(0, 200) ?? ''}`;
}

function digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
