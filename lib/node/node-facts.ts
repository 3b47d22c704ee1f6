// Reading a node: what planNode needs (containerd's setup, version and config,
// kubewasm's record, the digests of the files a plan may touch). Only reads.
import { createHash } from 'node:crypto';
import { readContainerdFacts, type ContainerdFacts } from '../containerd/facts.js';
import type { NodeHost } from '../host/host.js';
import type { NodeOptions } from './options.js';
import { ProbedHost } from './probed-host.js';
import { dirsToInspect, pathsToInspect, type NodeDesired, type NodeFacts } from './plan.js';
import { DEFAULT_STATE_DIR, readRecord } from './record.js';

export async function readNodeFacts(host: NodeHost, desired: NodeDesired, options: NodeOptions = {}, containerd?: ContainerdFacts): Promise<NodeFacts> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  containerd ??= await readContainerdFacts(host, options.containerd);
  const record = await readRecord(host, stateDir);
  const fileDigests: Record<string, string | undefined> = {};
  for (const path of pathsToInspect({ containerd, record }, desired)) fileDigests[path] = await digestOnNode(host, path);
  const missingDirs: string[] = [];
  for (const dir of dirsToInspect({ containerd }, desired)) if (missingDirs.length || !(await host.stat(dir))) missingDirs.push(dir);
  return { node: host.name, containerd, record, fileDigests, missingDirs };
}

/** sha256 of a file on the node, undefined when it is absent. */
export async function digestOnNode(host: NodeHost, path: string): Promise<string | undefined> {
  const probed = host instanceof ProbedHost ? host.digest(path) : undefined;
  if (probed !== undefined) return probed ?? undefined;
  const result = await host.exec(['sh', '-c', '[ -e "$1" ] || exit 44; command -v sha256sum >/dev/null 2>&1 || exit 45; exec sha256sum -- "$1"', 'sh', path], { timeoutMs: 60_000 });
  if (result.code === 44) return undefined;
  if (result.code === 0) return result.stdout.split(/\s+/)[0];
  const bytes = await host.readFile(path); // no sha256sum on the node: hash here
  return bytes ? sha256(bytes) : undefined;
}

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
