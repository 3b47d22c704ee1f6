// The commands `kubewasm cluster create | delete` run for each provider, as
// pure plans (argv lists), and the spec they are planned from. Cheap to load
// (no Kubernetes client): the command parses its flags against it.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { durationOption, string, type Flags, type FlagValues } from '../cli-flags.js';
import { packageRoot } from './package-root.js';

export const CLUSTER_PROVIDERS = ['kind', 'k3d', 'lab'] as const;
export type ClusterProvider = (typeof CLUSTER_PROVIDERS)[number];

export interface ClusterSpec {
  provider: ClusterProvider;
  /** kind/k3d cluster name (kind's default: "kind"). */
  name: string;
  /** The provider's config file (kind: kind-config.yaml). */
  config?: string;
  /** Node image (kind --image, k3d --image). */
  image?: string;
  /** The kubeconfig file the provider writes the cluster's context into. */
  kubeconfig: string;
  /** How long the provider may wait for its control plane. */
  waitMs: number;
  /** The lab's script (provider lab): scripts/lab/lab in a kubewasm clone. */
  labScript?: string;
}

export interface Step {
  what: string;
  argv: string[];
  /** Write the command's stdout to this file (log collection). */
  stdoutFile?: string;
}

export function parseProvider(value: string | undefined): ClusterProvider {
  const v = value ?? 'kind';
  if (!(CLUSTER_PROVIDERS as readonly string[]).includes(v)) throw new UsageError(`unknown --provider '${v}'`, `choose one of: ${CLUSTER_PROVIDERS.join(', ')}`);
  return v as ClusterProvider;
}

/** The flags cluster create and delete share. */
export const CLUSTER_FLAGS: Flags = {
  provider: { arg: 'NAME', help: 'kind (default), k3d, or lab (scripts/lab/lab, in a kubewasm clone)' },
  name: { arg: 'N', help: 'cluster name (default kind: "kind", k3d: "kubewasm")' },
  kubeconfig: { arg: 'FILE', help: "where the provider writes the cluster's context (default $KUBECONFIG or ~/.kube/config)" },
};

/** The cluster the flags of cluster create | delete name. --config defaults to ./kind-config.yaml for kind when it exists. */
export function clusterSpec(values: FlagValues, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): ClusterSpec {
  const provider = parseProvider(string(values, 'provider'));
  const config = string(values, 'config') ?? (provider === 'kind' && existsSync(path.join(cwd, 'kind-config.yaml')) ? 'kind-config.yaml' : undefined);
  const image = string(values, 'image');
  const lab = cloneLabScript();
  return {
    provider,
    name: string(values, 'name') ?? (provider === 'k3d' ? 'kubewasm' : 'kind'),
    ...(config ? { config: path.resolve(cwd, config) } : {}),
    ...(image ? { image } : {}),
    kubeconfig: path.resolve(cwd, string(values, 'kubeconfig') ?? env['KUBECONFIG']?.split(':')[0] ?? path.join(homedir(), '.kube', 'config')),
    waitMs: durationOption(values, 'wait', 300_000),
    ...(lab ? { labScript: lab } : {}),
  };
}

/** scripts/lab/lab of the kubewasm clone this CLI runs from, if it is one. */
function cloneLabScript(): string | undefined {
  try {
    const script = path.join(packageRoot().root, 'scripts/lab/lab');
    return existsSync(script) ? script : undefined;
  } catch {
    return undefined; // not run from a kubewasm package
  }
}

/** The kubeconfig context the provider names its cluster by. */
export function clusterContext(spec: Pick<ClusterSpec, 'provider' | 'name'>): string {
  switch (spec.provider) {
    case 'kind':
      return `kind-${spec.name}`;
    case 'k3d':
      return `k3d-${spec.name}`;
    case 'lab':
      return 'kubewasm-lab';
  }
}

const seconds = (ms: number) => `${Math.max(1, Math.ceil(ms / 1000))}s`;

/** Pure: the commands that create the cluster and write its kubeconfig. */
export function createPlan(spec: ClusterSpec): Step[] {
  switch (spec.provider) {
    case 'kind':
      // --retain: a failed create keeps its nodes until kubewasm has exported their logs.
      return [
        {
          what: `kind create cluster '${spec.name}'`,
          argv: ['kind', 'create', 'cluster', '--name', spec.name, '--kubeconfig', spec.kubeconfig, '--retain', '--wait', seconds(spec.waitMs),
            ...(spec.config ? ['--config', spec.config] : []), ...(spec.image ? ['--image', spec.image] : [])],
        },
      ];
    case 'k3d':
      return [
        {
          what: `k3d cluster create '${spec.name}'`,
          argv: ['k3d', 'cluster', 'create', spec.name, '--wait', '--timeout', seconds(spec.waitMs), '--kubeconfig-update-default=false', '--kubeconfig-switch-context=false',
            ...(spec.config ? ['--config', spec.config] : []), ...(spec.image ? ['--image', spec.image] : [])],
        },
        { what: `k3d kubeconfig write '${spec.name}'`, argv: ['k3d', 'kubeconfig', 'write', spec.name, '--output', spec.kubeconfig] },
      ];
    case 'lab':
      return [{ what: 'lab up', argv: [labScript(spec), 'up'] }];
  }
}

/** Pure: the commands that delete the cluster. */
export function deletePlan(spec: ClusterSpec): Step[] {
  switch (spec.provider) {
    case 'kind':
      return [{ what: `kind delete cluster '${spec.name}'`, argv: ['kind', 'delete', 'cluster', '--name', spec.name, '--kubeconfig', spec.kubeconfig] }];
    case 'k3d':
      return [{ what: `k3d cluster delete '${spec.name}'`, argv: ['k3d', 'cluster', 'delete', spec.name] }];
    case 'lab':
      return [{ what: 'lab down', argv: [labScript(spec), 'down'] }];
  }
}

/** Pure: the commands that list the cluster's node containers. */
export function nodesPlan(spec: ClusterSpec): Step {
  switch (spec.provider) {
    case 'kind':
      return { what: 'kind get nodes', argv: ['kind', 'get', 'nodes', '--name', spec.name] };
    case 'k3d':
      return { what: 'docker ps (k3d nodes)', argv: ['docker', 'ps', '-a', '--filter', `label=k3d.cluster=${spec.name}`, '--format', '{{.Names}}'] };
    case 'lab':
      return { what: 'docker ps (lab nodes)', argv: ['docker', 'ps', '-a', '--filter', 'label=io.kubewasm.lab.node', '--format', '{{.Names}}'] };
  }
}

/**
 * Pure: the commands that collect the cluster's logs into `dir`: kind's own
 * export (every node's journal, kubelet and containerd logs, pod logs) and
 * each node container's containerd journal (k3s has no journal: its log).
 */
export function logPlan(spec: ClusterSpec, dir: string, nodes: readonly string[]): Step[] {
  const steps: Step[] = [];
  if (spec.provider === 'kind') steps.push({ what: 'kind export logs', argv: ['kind', 'export', 'logs', path.join(dir, 'kind'), '--name', spec.name] });
  for (const node of nodes) {
    steps.push(
      spec.provider === 'k3d'
        ? { what: `${node}: k3s log`, argv: ['docker', 'logs', node], stdoutFile: path.join(dir, 'nodes', node, 'k3s.log') }
        : { what: `${node}: containerd journal`, argv: ['docker', 'exec', node, 'journalctl', '-u', 'containerd', '--no-pager', '-o', 'short-precise'], stdoutFile: path.join(dir, 'nodes', node, 'containerd.journal') },
    );
  }
  return steps;
}

function labScript(spec: ClusterSpec): string {
  if (!spec.labScript) throw new UsageError('--provider lab needs a kubewasm clone (scripts/lab/lab)', 'run kubewasm from a clone of its repository, or use --provider kind');
  return spec.labScript;
}
