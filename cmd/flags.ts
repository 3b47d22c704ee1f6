// The flags commands share, each written once (its parse config and its help
// line come from one entry). Reading values into a flow's options is lib's
// (lib/flag-values.ts and the *-flags parsers beside each flow). Cheap to
// load: heavier modules are imported inside the async parsers that need them.
import type { ParseArgsOptionsConfig } from 'node:util';
import { FLAVOURS } from '../lib/containerd/presets.js';
import { UsageError } from '../lib/errors.js';
import { string, type FlagValues } from '../lib/flag-values.js';
import { NAMESPACE } from '../lib/kube/names.js';
import { INVENTORY_HELP } from '../lib/node/targets.js';
import { parseShimList, type ShimInfo } from '../lib/shims/catalog.js';
import type { CommandContext } from './command.js';

export { durationOption, list, outputOption, positiveInt, refuseWith, string } from '../lib/flag-values.js';
export { shimSupply } from '../lib/node/run-flags.js';

/** One flag: `arg` names its value (none: a boolean); `list`: repeatable. Help continues on lines of its own. */
export interface Flag {
  help: string;
  arg?: string;
  short?: string;
  list?: boolean;
}
export type Flags = Record<string, Flag>;

export function parseConfig(...groups: Flags[]): ParseArgsOptionsConfig {
  const config: ParseArgsOptionsConfig = {};
  for (const [name, f] of groups.flatMap((g) => Object.entries(g))) config[name] = { type: f.arg ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}), ...(f.list ? { multiple: true } : {}) };
  return config;
}

export function helpOf(title: string, flags: Flags, after = ''): string {
  const lines = Object.entries(flags).map(([name, f]) => {
    const head = `  ${f.short ? `-${f.short}, ` : ''}--${name}${f.arg ? ` ${f.arg}` : ''}`;
    return `${head.length < 28 ? head.padEnd(28) : `${head} `}${f.help.replaceAll('\n', `\n${' '.repeat(28)}`)}`;
  });
  return `${title ? `${title}\n` : ''}${lines.join('\n')}${after ? `\n${after}` : ''}`;
}

export const SHIMS_FLAG: Flags = { shims: { arg: 'LIST', help: 'wasmtime, wasmedge, wasmer, spin (default: wasmtime)' } };
export const shims = (options: FlagValues): ShimInfo[] => parseShimList(string(options, 'shims') ?? 'wasmtime');

// ---- cluster ----

export const KUBE_FLAGS: Flags = {
  kubeconfig: { arg: 'FILE', help: 'the kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)' },
  context: { arg: 'NAME', help: 'the kubeconfig context (default: its current context)' },
  namespace: { arg: 'NS', short: 'n', help: `where kubewasm's installer runs (default ${NAMESPACE})` },
};
export const KUBE_HELP = helpOf('Cluster:', KUBE_FLAGS);

/** The cluster the kube flags name (loads the Kubernetes client). */
export async function connect(options: FlagValues) {
  const { Kube } = await import('../lib/kube/client.js');
  return Kube.connect({ kubeconfig: string(options, 'kubeconfig'), context: string(options, 'context') });
}

/** How images reach the nodes (--load) and where kubewasm keeps them (--cache-dir). */
export async function imageDelivery(options: FlagValues) {
  const [{ parseLoadMethod }, { defaultCacheDir }] = await Promise.all([import('../lib/kube/load-images.js'), import('../lib/shims/cache.js')]);
  return { cacheDir: string(options, 'cache-dir') ?? defaultCacheDir(), load: parseLoadMethod(string(options, 'load')) };
}

export function namespace(options: FlagValues): string {
  const ns = string(options, 'namespace') ?? NAMESPACE;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) throw new UsageError(`'${ns}' is not a namespace name`);
  return ns;
}

export const SELECTION_FLAGS: Flags = {
  selector: { arg: 'SELECTOR', short: 'l', help: 'the nodes matching a label selector (e.g. pool=wasm)' },
  'all-nodes': { help: 'every node' },
};
export const SELECTION_HELP = `Nodes:\n  NODE…                     node names\n${helpOf('', SELECTION_FLAGS)}`;
export const selection = (ctx: CommandContext) => ({ names: ctx.args, selector: string(ctx.options, 'selector'), all: Boolean(ctx.options['all-nodes']) });

export const CLUSTER_FLAGS: Flags = {
  provider: { arg: 'NAME', help: 'kind (default), k3d, or lab (scripts/lab/lab, in a kubewasm clone)' },
  name: { arg: 'N', help: 'cluster name (default kind: "kind", k3d: "kubewasm")' },
  kubeconfig: { arg: 'FILE', help: "where the provider writes the cluster's context (default $KUBECONFIG or ~/.kube/config)" },
};

// ---- nodes reached directly (node install / uninstall) ----

export const TARGET_FLAGS: Flags = {
  local: { help: 'this machine' },
  root: { arg: 'DIR', help: "with --local: the node's / is mounted at DIR (the installer pod); programs run via nsenter -t 1" },
  ssh: { arg: 'USER@HOST[:PORT]', list: true, help: 'nodes over SSH; repeatable or comma-separated. Commands run through sudo -n when USER is not root' },
  identity: { arg: 'FILE', help: 'SSH private key (default: ssh-agent via SSH_AUTH_SOCK, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)' },
  'known-hosts': { arg: 'FILE', help: 'host keys to check (default ~/.ssh/known_hosts); an unknown or changed key is refused' },
  'accept-new-host-key': { help: 'record the key of a host not yet in known_hosts (a changed key is still refused)' },
  port: { arg: 'N', help: 'SSH port when HOST has none (default 22)' },
  via: { arg: 'docker', help: 'the node containers of a kind or k3d cluster, through the Docker API (DOCKER_HOST honoured)' },
  cluster: { arg: 'NAME', help: 'with --via docker: which cluster (default: the only one running)' },
  inventory: { arg: 'FILE', help: 'nodes listed in a file (format below)' },
  'max-unavailable': { arg: 'K', help: 'at most K nodes restart containerd at once (default 1); the rest of the work overlaps' },
  parallel: { arg: 'N', help: "at most N nodes worked on at once (default max(4, 2K+2): enough to keep the restart\nslots busy without every node competing for this machine's CPU and link)" },
};

export const CONTAINERD_FLAGS: Flags = {
  config: { arg: 'PATH', help: 'the config file to edit (default by distribution: /etc/containerd/config.toml,\nk3s/rke2 config(-v3).toml.tmpl, microk8s containerd-template.toml, k0s containerd.d/)' },
  'containerd-address': { arg: 'SOCK', help: "containerd's socket (default /run/containerd/containerd.sock)" },
  'containerd-binary': { arg: 'PATH', help: 'containerd binary, to read its version (default: containerd on PATH)' },
  'restart-command': { arg: 'CMD', help: "how to restart containerd (default: systemctl restart containerd, or the distribution's way)" },
  flavour: { arg: 'NAME', help: `${FLAVOURS.join(', ')} (default: detected)` },
  'state-dir': { arg: 'DIR', help: 'where kubewasm keeps its record on the node (default /var/lib/kubewasm)' },
  'cri-timeout': { arg: 'SECONDS', help: "how long to wait for containerd's CRI after a restart before rolling back (default 60)" },
};

export const NODE_OUTPUT_FLAGS: Flags = {
  'dry-run': { help: 'print the plan; change nothing' },
  output: {
    arg: 'json',
    short: 'o',
    help: 'machine-readable: --local prints one result object; the other targets print an\narray with one object per node, in the order given: a result\n{"node", "ok": true, "applied", "recovered", "config", "uploads", "removals",\n"keptModified", "restart", "timings"} or a failure {"node", "ok": false,\n"error": {"what", "where", "fix"}}',
  },
};

export const NODE_HELP = `${helpOf('Which nodes (one of --local, or any of --ssh, --via docker, --inventory):', TARGET_FLAGS)}

${helpOf('containerd (detected; override when it runs somewhere unusual):', CONTAINERD_FLAGS)}

${helpOf('Output:', NODE_OUTPUT_FLAGS)}

Safety: each node is locked while kubewasm changes it; what a run is about to do is journaled on the node
first, and a run that fails or is interrupted (Ctrl-C, a lost connection, kill -9) leaves the node as it
was or fully converged: the next run completes or undoes what the journal says before anything else.
Exit codes: 0 every node ok, 1 any node failed (a summary says which), 2 bad usage, 130 interrupted.

${INVENTORY_HELP}`;

// ---- where shims come from ----

export const SHIM_FLAGS: Flags = {
  'shim-version': { arg: 'SHIM=VER', list: true, help: "version per shim: X.Y.Z, vX.Y.Z or latest (default: kubewasm's pinned\nversion: wasmtime/wasmedge/wasmer 0.6.1, spin 0.25.1); repeatable or comma-separated" },
  'accept-advisory': { arg: 'ID', list: true, help: 'install a version a published advisory names as affected (e.g. GHSA-cc25-vq59-rcjx)' },
  sha256: { arg: 'SHIM[/ARCH]=HEX', list: true, help: 'the expected sha256 of the release archive, when GitHub has no digest for it' },
  lock: { arg: 'FILE', help: 'versions and sha256s from a lock file (kubewasm-bundle.lock.json)' },
  bundle: { arg: 'FILE', help: "an air-gap bundle written by 'kubewasm bundle' (no network)" },
  mirror: { arg: 'URL', help: 'a file server laid out like github.com: URL/OWNER/REPO/releases/download/TAG/ASSET\n(needs --lock or --sha256: a mirror carries no digests)' },
  'shim-dir': { arg: 'DIR', help: 'ready binaries in DIR (containerd-shim-wasmtime-v1, …); you vouch for them' },
  'github-api-url': { arg: 'URL', help: 'GitHub Enterprise or an API mirror (default: $GITHUB_API_URL or https://api.github.com)' },
  'cache-dir': { arg: 'DIR', help: 'download cache (default: $XDG_CACHE_HOME/kubewasm or ~/.cache/kubewasm)' },
};
export const shimHelp = (flags: Flags = SHIM_FLAGS) =>
  helpOf('Where the shims come from (default: GitHub releases, verified, cached):', flags, '  GITHUB_TOKEN              sent to the API host only; raises the rate limit from 60 to 5,000 requests per hour');
