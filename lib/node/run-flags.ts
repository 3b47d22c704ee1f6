// The flags of a node run read into its options: which nodes (a
// TargetSelection), the containerd overrides (through the same parser as an
// inventory's settings), how many nodes at once, and where the shims come from
// (node install; install, bundle and cluster create share it). Pure but for
// the modules the shim flags load when they need them; no node is reached here.
import { UsageError } from '../errors.js';
import { list, positiveInt, refuseWith, string, type FlagValues } from '../flag-values.js';
import type { Arch, ShimInfo } from '../shims/catalog.js';
import { pinsFromOptions, shimOriginFromOptions } from '../shims/source-flags.js';
import type { ConvergeOptions } from './converge.js';
import type { ScheduleOptions } from './fleet.js';
import type { ShimSupply } from './shim-supply.js';
import { containerdOverrides, expandHome, type TargetSelection } from './targets.js';

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
