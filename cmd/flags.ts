// The flags commands share: each written once (its parse config and its help
// line come from one entry), and the parsers that turn them into the typed
// options of lib flows. Cheap to load: heavier modules are imported inside the
// async parsers that need them.
import type { ParseArgsOptionsConfig } from 'node:util';
import { FLAVOURS } from '../lib/containerd/presets.js';
import { UsageError } from '../lib/errors.js';
import { NAMESPACE } from '../lib/kube/names.js';
import type { ConvergeOptions } from '../lib/node/converge.js';
import type { ShimSupply } from '../lib/node/shim-supply.js';
import { containerdOverrides, expandHome, INVENTORY_HELP, type TargetSelection } from '../lib/node/targets.js';
import { parseArch, parseShimList, shimInfo, type Arch, type ShimInfo, type ShimName } from '../lib/shims/catalog.js';
import type { Pins, ShimOrigin } from '../lib/shims/releases.js';
import type { CommandContext, OptionValues } from './command.js';

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

export const string = (options: OptionValues, name: string): string | undefined => (typeof options[name] === 'string' ? options[name] : undefined);

/** A repeatable and comma-separated flag's values. */
export const list = (options: OptionValues, name: string): string[] =>
  [options[name] ?? []].flat().flatMap((v) => (typeof v === 'string' ? v.split(',') : [])).map((v) => v.trim()).filter(Boolean);

/** "90s", "10m", "1h" or plain seconds -> milliseconds. */
export function durationOption(options: OptionValues, name: string, fallbackMs: number): number {
  const value = string(options, name);
  if (value === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`--${name} '${value}' is not a duration`, 'write e.g. 90s, 10m or 1h');
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']);
}

export function positiveInt<F extends number | undefined = undefined>(options: OptionValues, name: string, fallback?: F): number | F {
  const value = string(options, name);
  if (value === undefined) return fallback as F;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive whole number, not '${value}'`);
  return n;
}

export function outputOption<F extends string>(options: OptionValues, allowed: readonly F[]): F {
  const output = string(options, 'output') ?? allowed[0]!;
  if (!(allowed as readonly string[]).includes(output)) throw new UsageError(`unknown output format '${output}'`, `use ${allowed.map((a) => `-o ${a}`).join(', ')}`);
  return output as F;
}

export const SHIMS_FLAG: Flags = { shims: { arg: 'LIST', help: 'wasmtime, wasmedge, wasmer, spin (default: wasmtime)' } };
export const shims = (options: OptionValues): ShimInfo[] => parseShimList(string(options, 'shims') ?? 'wasmtime');

/** Flags that have no use together with `flag`. */
export function refuseWith(options: OptionValues, flag: string, others: readonly string[], why: string): void {
  for (const other of others) if (options[other] !== undefined) throw new UsageError(`--${other} has no use with ${flag} (${why})`);
}

// ---- cluster ----

export const KUBE_FLAGS: Flags = {
  kubeconfig: { arg: 'FILE', help: 'the kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)' },
  context: { arg: 'NAME', help: 'the kubeconfig context (default: its current context)' },
  namespace: { arg: 'NS', short: 'n', help: `where kubewasm's installer runs (default ${NAMESPACE})` },
};
export const KUBE_HELP = helpOf('Cluster:', KUBE_FLAGS);

export const kubeTarget = (options: OptionValues) => ({ kubeconfig: string(options, 'kubeconfig'), context: string(options, 'context') });

export function namespace(options: OptionValues): string {
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

/** Which nodes: exactly one of --local, or any of --ssh, --via docker, --inventory, with their companions. */
export function targetSelection(options: OptionValues): TargetSelection {
  const fleet = ['ssh', 'via', 'inventory'].filter((k) => options[k] !== undefined);
  if (options['local'] && fleet.length) throw new UsageError(`--local and --${fleet[0]} name different nodes`, 'choose --local, or any of --ssh, --via docker, --inventory');
  if (!options['local'] && !fleet.length) throw new UsageError('say which nodes: --local, --ssh USER@HOST…, --via docker or --inventory FILE');
  if (options['root'] !== undefined && !options['local']) throw new UsageError('--root goes with --local');
  for (const flag of ['identity', 'known-hosts', 'accept-new-host-key', 'port']) {
    if (options[flag] !== undefined && !options['ssh'] && !options['inventory']) throw new UsageError(`--${flag} goes with --ssh or --inventory`);
  }
  if (options['cluster'] !== undefined && options['via'] === undefined) throw new UsageError('--cluster goes with --via docker');
  if (options['via'] !== undefined && options['via'] !== 'docker') throw new UsageError(`unknown --via '${String(options['via'])}'`, 'the only one is --via docker');
  if (options['local']) return { local: { root: string(options, 'root') } };
  const identity = string(options, 'identity');
  const knownHosts = string(options, 'known-hosts');
  const port = positiveInt(options, 'port');
  return {
    ssh: list(options, 'ssh'),
    sshDefaults: {
      ...(identity ? { identityFile: expandHome(identity) } : {}),
      ...(knownHosts ? { knownHostsFile: expandHome(knownHosts) } : {}),
      ...(options['accept-new-host-key'] ? { acceptNewHostKey: true } : {}),
      ...(port ? { port } : {}),
    },
    ...(options['via'] ? { docker: { cluster: string(options, 'cluster') } } : {}),
    inventory: string(options, 'inventory'),
  };
}

/** The converge options the containerd flags give (the same parser reads an inventory's containerd settings). */
export function convergeOptions(options: OptionValues): ConvergeOptions {
  const containerd = containerdOverrides(
    { config: string(options, 'config'), address: string(options, 'containerd-address'), binary: string(options, 'containerd-binary'), restartCommand: string(options, 'restart-command'), flavour: string(options, 'flavour') },
    (key) => `--${key}`,
    (what) => new UsageError(what),
  );
  const stateDir = string(options, 'state-dir');
  const criTimeout = positiveInt(options, 'cri-timeout');
  return { containerd, ...(stateDir ? { stateDir } : {}), ...(criTimeout ? { criTimeoutMs: criTimeout * 1000 } : {}), ...(options['dry-run'] ? { dryRun: true } : {}) };
}

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
export const SHIM_SOURCE_OPTIONS = parseConfig(SHIM_FLAGS);
export const shimHelp = (flags: Flags = SHIM_FLAGS) =>
  helpOf('Where the shims come from (default: GitHub releases, verified, cached):', flags, '  GITHUB_TOKEN              sent to the API host only; raises the rate limit from 60 to 5,000 requests per hour');

export const SHIM_SOURCE_HELP = shimHelp();

/** The origin the options name; --shim-dir is not a release origin (see shimSupply). */
export async function shimOriginFromOptions(options: OptionValues, env: NodeJS.ProcessEnv = process.env): Promise<ShimOrigin> {
  const bundle = string(options, 'bundle');
  const mirror = string(options, 'mirror');
  const apiUrl = string(options, 'github-api-url');
  const chosen = [bundle && '--bundle', mirror && '--mirror', string(options, 'shim-dir') && '--shim-dir'].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`${chosen.join(' and ')} name different sources`, 'choose one of --bundle, --mirror, --shim-dir (or none, for GitHub)');
  if (apiUrl && (bundle || mirror)) throw new UsageError(`--github-api-url has no use with ${bundle ? '--bundle' : '--mirror'}`);
  if (bundle) return { kind: 'bundle', file: bundle };
  if (mirror) {
    if (!/^https?:\/\//.test(mirror)) throw new UsageError(`--mirror '${mirror}' is not an http(s) URL`);
    return { kind: 'mirror', url: mirror };
  }
  const { githubApiUrlFrom, githubTokenFromEnv } = await import('../lib/shims/github.js');
  const url = githubApiUrlFrom(apiUrl, env);
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--github-api-url '${url}' is not an http(s) URL`);
  return { kind: 'github', apiUrl: url, token: githubTokenFromEnv(env) };
}

/** --shim-version, --sha256 and --lock as pins; `archs` lets "--sha256 wasmtime=HEX" mean the only arch asked for. */
export async function pinsFromOptions(options: OptionValues, wanted: ShimInfo[], archs: readonly Arch[]): Promise<Pins> {
  const pins: Pins = {};
  const versions: Partial<Record<ShimName, string>> = {};
  for (const [name, version] of list(options, 'shim-version').map((item) => splitPin(item, '--shim-version', 'wasmtime=0.6.0'))) {
    const shim = shimInfo(name);
    if (!wanted.some((w) => w.name === shim.name)) throw new UsageError(`--shim-version names ${shim.name}, which is not among the shims asked for`, `add it to --shims, or drop the pin`);
    versions[shim.name] = version;
  }
  if (Object.keys(versions).length) pins.versions = versions;
  const digests: Record<string, string> = {};
  for (const [key, hex] of list(options, 'sha256').map((item) => splitPin(item, '--sha256', 'wasmtime/amd64=HEX'))) {
    const [name, archName] = key.split('/') as [string, string | undefined];
    const shim = shimInfo(name);
    if (!archName && archs.length !== 1) throw new UsageError(`--sha256 ${key}=… must name the architecture: several are asked for (${archs.join(', ')})`, `write --sha256 ${shim.name}/${archs[0]}=HEX`);
    digests[`${shim.name}/${archName ? parseArch(archName) : archs[0]!}`] = hex.toLowerCase();
  }
  if (Object.keys(digests).length) pins.digests = digests;
  const accepted = list(options, 'accept-advisory');
  if (accepted.length) pins.acceptAdvisories = accepted;
  const lock = string(options, 'lock');
  if (lock) {
    const { readLockFile } = await import('../lib/shims/releases.js');
    pins.lock = await readLockFile(lock);
    pins.lockSource = lock;
  }
  return pins;
}

function splitPin(item: string, flag: string, example: string): [string, string] {
  const at = item.indexOf('=');
  if (at <= 0 || at === item.length - 1) throw new UsageError(`${flag} '${item}' is not KEY=VALUE`, `e.g. ${flag} ${example}`);
  return [item.slice(0, at).trim(), item.slice(at + 1).trim()];
}

/** Where this run's shims come from: --shim-dir as it is, else the release flow with its pins (read once the archs are known, if not given). */
export async function shimSupply(options: OptionValues, wanted: ShimInfo[], archs?: readonly Arch[], env: NodeJS.ProcessEnv = process.env, cacheHoldsMore = false): Promise<ShimSupply> {
  const origin = await shimOriginFromOptions(options, env); // also refuses --shim-dir with --bundle or --mirror
  const dir = string(options, 'shim-dir');
  if (dir) {
    const unused = ['shim-version', 'sha256', 'lock', 'github-api-url', 'accept-advisory', ...(cacheHoldsMore ? [] : ['cache-dir'])];
    refuseWith(options, '--shim-dir', unused, 'the binaries in the directory are used as they are');
    return { kind: 'dir', dir };
  }
  const { defaultCacheDir } = await import('../lib/shims/cache.js');
  return { kind: 'releases', origin, cacheDir: string(options, 'cache-dir') ?? defaultCacheDir(env), pins: archs ? await pinsFromOptions(options, wanted, archs) : (known) => pinsFromOptions(options, wanted, known) };
}
