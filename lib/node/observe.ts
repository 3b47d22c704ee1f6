// observeNode: the one question the installer's controller (lib/kube) asks
// about its node. Does the node run what is desired, and if not, why not?
// Reads only: no lock, no change.
import { createHash } from 'node:crypto';
import { criStatus, type CriStatus } from '../containerd/service.js';
import { asKubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import { readJournal } from './journal.js';
import { readNodeFacts } from './node-facts.js';
import { probeNode, probeRequestFor } from './node-probe.js';
import { ProbedHost } from './probed-host.js';
import type { NodeOptions } from './options.js';
import { planNode, type NodeDesired, type NodeFacts } from './plan.js';
import { DEFAULT_STATE_DIR } from './record.js';

export interface ObservedShim {
  name: string;
  runtime: string;
  /** Where the shim belongs on this node. */
  path: string;
  /** The sha256 the desired state asks for. */
  sha256: string;
  /** The sha256 of the file there now; undefined: absent. */
  onNode: string | undefined;
  /** The version its own `-v` printed when kubewasm placed it (from the node's record), else the desired one. */
  version?: string;
  /** Binary right, CRI ready and listing its runtime. */
  ready: boolean;
}

export interface NodeObservation {
  node: string;
  facts: NodeFacts;
  cri: CriStatus;
  /**
   * The node is exactly as desired: every shim present with its sha256,
   * kubewasm's config block present and unchanged (a converge would not
   * touch the config), no leftovers to remove, the CRI ready and listing
   * every runtime, and no interrupted run's journal.
   */
  matches: boolean;
  /** Names of the desired shims containerd can run now. */
  ready: string[];
  /** Why the node does not match, one line each (empty when it matches). */
  problems: string[];
  shims: ObservedShim[];
  /** sha256 of the config file kubewasm edits ("sha256:…"), when it exists. */
  configDigest?: string;
  /** containerd as a person reads it: "v2.2.9 config v3 /etc/containerd/config.toml". */
  containerd: string;
}

/**
 * Facts about the node plus whether it matches `desired`, and why not.
 * The controller in lib/kube calls this and nothing else of lib/node's
 * reading side: it replaces readNodeFacts + criStatus there.
 */
export async function observeNode(host: NodeHost, desired: NodeDesired, options: NodeOptions = {}): Promise<NodeObservation> {
  // One round trip for the facts and the CRI's answer (node-probe.ts); no cache is written (reads only).
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const view = new ProbedHost(host, await probeNode(host, probeRequestFor(desired, { stateDir, ...(options.containerd ? { overrides: options.containerd } : {}), cri: true })));
  const facts = await readNodeFacts(view, desired, options);
  const { setup, version, config } = facts.containerd;
  const cri = await criStatus(view, setup);
  const journal = await readJournal(view, stateDir).catch((err: unknown) => asKubewasmError(err));
  const problems: string[] = [];
  if (journal instanceof Error) problems.push(journal.message);
  else if (journal) problems.push(`an interrupted run (${journal.owner}) left its journal: the next converge completes or undoes it`);

  let planProblems: string[] = [];
  try {
    const plan = planNode(facts, desired);
    planProblems = [
      ...(plan.config.changed ? [`${plan.config.path}: kubewasm's block is ${plan.config.before?.includes('# BEGIN kubewasm') ? 'not what it should be' : 'missing'}`] : []),
      ...plan.removals.map((r) => `${r.path} is no longer wanted and still there`),
    ];
  } catch (err) {
    planProblems = [asKubewasmError(err).message];
  }

  const dir = desired.installDir ?? setup.shimDir;
  const recorded = new Map((facts.record?.shims ?? []).map((s) => [s.path, s]));
  const shims: ObservedShim[] = desired.shims.map((source) => {
    const path = `${dir}/${source.shim.binaryName}`;
    const onNode = facts.fileDigests[path];
    const runtime = source.shim.runtimeName;
    let problem: string | undefined;
    if (onNode !== source.sha256) problem = `${path} ${onNode ? `has sha256 ${onNode.slice(0, 12)}…, expected ${source.sha256.slice(0, 12)}…` : 'is missing'}`;
    else if (!cri.ready) problem = `containerd's CRI is not ready (${cri.detail})`;
    else if (cri.runtimes && !cri.runtimes.includes(runtime)) problem = `containerd's CRI does not list runtime ${runtime}`;
    if (problem) problems.push(`${source.shim.name}: ${problem}`);
    const record = recorded.get(path);
    const shimVersion = record?.sha256 === onNode && record?.version ? record.version : source.version;
    return { name: source.shim.name, runtime, path, sha256: source.sha256, onNode, ...(shimVersion ? { version: shimVersion } : {}), ready: problem === undefined };
  });
  problems.push(...planProblems);
  if (desired.shims.length === 0 && !cri.ready) problems.push(`containerd's CRI is not ready (${cri.detail})`);

  const configVersion = /^\s*version\s*=\s*(\d+)/m.exec(config.content?.toString('utf8') ?? '')?.[1];
  return {
    node: host.name,
    facts,
    cri,
    matches: problems.length === 0,
    ready: shims.filter((s) => s.ready).map((s) => s.name),
    problems,
    shims,
    ...(config.content ? { configDigest: `sha256:${createHash('sha256').update(config.content).digest('hex')}` } : {}),
    containerd: `${version.raw}${configVersion ? ` config v${configVersion}` : ''} ${config.path}`,
  };
}
