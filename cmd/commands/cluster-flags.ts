// The flags `kubewasm cluster create` and `cluster delete` share, and the
// ClusterSpec they parse into (not a command: the two commands' common part).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { ClusterSpec } from '../../lib/kube/cluster-plan.js';
import { parseProvider } from '../../lib/kube/cluster-plan.js';
import { packageRoot } from '../../lib/kube/package-root.js';
import type { OptionValues } from '../command.js';
import { durationOption, string, type Flags } from '../flags.js';

export const CLUSTER_FLAGS: Flags = {
  provider: { arg: 'NAME', help: 'kind (default), k3d, or lab (scripts/lab/lab, in a kubewasm clone)' },
  name: { arg: 'N', help: 'cluster name (default kind: "kind", k3d: "kubewasm")' },
  kubeconfig: { arg: 'FILE', help: "where the provider writes the cluster's context (default $KUBECONFIG or ~/.kube/config)" },
};

/** The cluster the flags name. --config defaults to ./kind-config.yaml for kind when it exists. */
export function clusterSpec(options: OptionValues, cwd = process.cwd()): ClusterSpec {
  const provider = parseProvider(string(options, 'provider'));
  const name = string(options, 'name') ?? (provider === 'k3d' ? 'kubewasm' : 'kind');
  const config = string(options, 'config') ?? (provider === 'kind' && existsSync(path.join(cwd, 'kind-config.yaml')) ? 'kind-config.yaml' : undefined);
  const image = string(options, 'image');
  const lab = labScript();
  return {
    provider,
    name,
    ...(config ? { config: path.resolve(cwd, config) } : {}),
    ...(image ? { image } : {}),
    kubeconfig: path.resolve(cwd, string(options, 'kubeconfig') ?? process.env['KUBECONFIG']?.split(':')[0] ?? path.join(homedir(), '.kube', 'config')),
    waitMs: durationOption(options, 'wait', 300_000),
    ...(lab ? { labScript: lab } : {}),
  };
}

/** scripts/lab/lab of the kubewasm clone this CLI runs from, if it is one. */
function labScript(): string | undefined {
  try {
    const script = path.join(packageRoot().root, 'scripts/lab/lab');
    return existsSync(script) ? script : undefined;
  } catch {
    return undefined; // not run from a kubewasm package
  }
}
