// The flags of a node run (node install | uninstall), each written once, and
// their reader into the run's options: which nodes (a TargetSelection), the
// containerd overrides (through the same parser as an inventory's settings),
// how many nodes at once, and where the shims come from (install, bundle,
// image and cluster create share that part). Pure but for the modules the shim
// flags load when they need them; no node is reached here.
import { helpOf, list, positiveInt, refuseWith, string, type Flags, type FlagValues } from '../cli-flags.js';
import { FLAVOURS } from '../containerd/presets.js';
import { UsageError } from '../errors.js';
import type { Arch, ShimInfo } from '../shims/catalog.js';
import { pinsFromOptions, shimOriginFromOptions } from '../shims/source-flags.js';
import type { ConvergeOptions } from './converge.js';
import type { ScheduleOptions } from './fleet.js';
import type { ShimSupply } from './shim-supply.js';
import { containerdOverrides, expandHome, INVENTORY_HELP, type TargetSelection } from './targets.js';

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

/** Which nodes: exactly one of --local, or any of --ssh, --via docker, --inventory, with their companions. */
export function targetSelection(values: FlagValues): TargetSelection {
  const fleet = ['ssh', 'via', 'inventory'].filter((k) => values[k] !== undefined);
  if (values['local'] && fleet.length) throw new UsageError(`--local and --${fleet[0]} name different nodes`, 'choose --local, or any of --ssh, --via docker, --inventory');
  if (!values['local'] && !fleet.length) throw new UsageError('say which nodes: --local, --ssh USER@HOST…, --via docker or --inventory FILE');
  if (values['root'] !== undefined && !values['local']) throw new UsageError('--root goes with --local');
  for (const flag of ['identity', 'known-hosts', 'accept-new-host-key', 'port']) {
    if (values[flag] !== undefined && !values['ssh'] && !values['inventory']) throw new UsageError(`--${flag} goes with --ssh or --inventory`);
  }
  if (values['cluster'] !== undefined && values['via'] === undefined) throw new UsageError('--cluster goes with --via docker');
  if (values['via'] !== undefined && values['via'] !== 'docker') throw new UsageError(`unknown --via '${String(values['via'])}'`, 'the only one is --via docker');
  if (values['local']) return { local: { root: string(values, 'root') } };
  const identity = string(values, 'identity');
  const knownHosts = string(values, 'known-hosts');
  const port = positiveInt(values, 'port');
  return {
    ssh: list(values, 'ssh'),
    sshDefaults: {
      ...(identity ? { identityFile: expandHome(identity) } : {}),
      ...(knownHosts ? { knownHostsFile: expandHome(knownHosts) } : {}),
      ...(values['accept-new-host-key'] ? { acceptNewHostKey: true } : {}),
      ...(port ? { port } : {}),
    },
    ...(values['via'] ? { docker: { cluster: string(values, 'cluster') } } : {}),
    inventory: string(values, 'inventory'),
  };
}

/** The converge options the containerd flags give (the same parser reads an inventory's containerd settings). */
export function convergeOptions(values: FlagValues): ConvergeOptions {
  const containerd = containerdOverrides(
    { config: string(values, 'config'), address: string(values, 'containerd-address'), binary: string(values, 'containerd-binary'), restartCommand: string(values, 'restart-command'), flavour: string(values, 'flavour') },
    (key) => `--${key}`,
    (what) => new UsageError(what),
  );
  const stateDir = string(values, 'state-dir');
  const criTimeout = positiveInt(values, 'cri-timeout');
  return { containerd, ...(stateDir ? { stateDir } : {}), ...(criTimeout ? { criTimeoutMs: criTimeout * 1000 } : {}), ...(values['dry-run'] ? { dryRun: true } : {}) };
}

/** --max-unavailable and --parallel. */
export const scheduleOptions = (values: FlagValues): ScheduleOptions => ({ maxUnavailable: positiveInt(values, 'max-unavailable', 1), parallel: positiveInt(values, 'parallel') });

/** Where this run's shims come from: --shim-dir as it is, else the release flow with its pins (read once the archs are known, if not given). */
export async function shimSupply(values: FlagValues, wanted: ShimInfo[], archs?: readonly Arch[], env: NodeJS.ProcessEnv = process.env, cacheHoldsMore = false): Promise<ShimSupply> {
  const origin = await shimOriginFromOptions(values, env); // also refuses --shim-dir with --bundle or --mirror
  const dir = string(values, 'shim-dir');
  if (dir) {
    const unused = ['shim-version', 'sha256', 'lock', 'github-api-url', 'accept-advisory', ...(cacheHoldsMore ? [] : ['cache-dir'])];
    refuseWith(values, '--shim-dir', unused, 'the binaries in the directory are used as they are');
    return { kind: 'dir', dir };
  }
  const { defaultCacheDir } = await import('../shims/cache.js');
  return { kind: 'releases', origin, cacheDir: string(values, 'cache-dir') ?? defaultCacheDir(env), pins: archs ? await pinsFromOptions(values, wanted, archs) : (known) => pinsFromOptions(values, wanted, known) };
}
