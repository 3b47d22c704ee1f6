// Which shims and where they come from, as flags (node install, install,
// bundle, image and cluster create), each written once, and their readers:
// the shims, the origin (GitHub, a mirror, a bundle) and the pins
// (--shim-version, --sha256, --accept-advisory, --lock). Modules that reach
// the network or the disk load only when a flag needs them.
import { UsageError } from '../errors.js';
import { helpOf, list, string, type Flags, type FlagValues } from '../cli-flags.js';
import { parseArch, parseShimList, shimInfo, type Arch, type ShimInfo, type ShimName } from './catalog.js';
import type { Pins, ShimOrigin } from './releases.js';

export const SHIMS_FLAG: Flags = { shims: { arg: 'LIST', help: 'wasmtime, wasmedge, wasmer, spin (default: wasmtime)' } };
export const shims = (values: FlagValues): ShimInfo[] => parseShimList(string(values, 'shims') ?? 'wasmtime');

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


/** The origin the flags name; --shim-dir is not a release origin (it is refused beside --bundle and --mirror here). */
export async function shimOriginFromOptions(values: FlagValues, env: NodeJS.ProcessEnv = process.env): Promise<ShimOrigin> {
  const bundle = string(values, 'bundle');
  const mirror = string(values, 'mirror');
  const apiUrl = string(values, 'github-api-url');
  const chosen = [bundle && '--bundle', mirror && '--mirror', string(values, 'shim-dir') && '--shim-dir'].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`${chosen.join(' and ')} name different sources`, 'choose one of --bundle, --mirror, --shim-dir (or none, for GitHub)');
  if (apiUrl && (bundle || mirror)) throw new UsageError(`--github-api-url has no use with ${bundle ? '--bundle' : '--mirror'}`);
  if (bundle) return { kind: 'bundle', file: bundle };
  if (mirror) {
    if (!/^https?:\/\//.test(mirror)) throw new UsageError(`--mirror '${mirror}' is not an http(s) URL`);
    return { kind: 'mirror', url: mirror };
  }
  const { githubApiUrlFrom, githubTokenFromEnv } = await import('./github.js');
  const url = githubApiUrlFrom(apiUrl, env);
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--github-api-url '${url}' is not an http(s) URL`);
  return { kind: 'github', apiUrl: url, token: githubTokenFromEnv(env) };
}

/** --shim-version, --sha256 and --lock as pins; `archs` lets "--sha256 wasmtime=HEX" mean the only arch asked for. */
export async function pinsFromOptions(values: FlagValues, wanted: ShimInfo[], archs: readonly Arch[]): Promise<Pins> {
  const pins: Pins = {};
  const versions: Partial<Record<ShimName, string>> = {};
  for (const [name, version] of list(values, 'shim-version').map((item) => splitPin(item, '--shim-version', 'wasmtime=0.6.0'))) {
    const shim = shimInfo(name);
    if (!wanted.some((w) => w.name === shim.name)) throw new UsageError(`--shim-version names ${shim.name}, which is not among the shims asked for`, `add it to --shims, or drop the pin`);
    versions[shim.name] = version;
  }
  if (Object.keys(versions).length) pins.versions = versions;
  const digests: Record<string, string> = {};
  for (const [key, hex] of list(values, 'sha256').map((item) => splitPin(item, '--sha256', 'wasmtime/amd64=HEX'))) {
    const [name, archName] = key.split('/') as [string, string | undefined];
    const shim = shimInfo(name);
    if (!archName && archs.length !== 1) throw new UsageError(`--sha256 ${key}=… must name the architecture: several are asked for (${archs.join(', ')})`, `write --sha256 ${shim.name}/${archs[0]}=HEX`);
    digests[`${shim.name}/${archName ? parseArch(archName) : archs[0]!}`] = hex.toLowerCase();
  }
  if (Object.keys(digests).length) pins.digests = digests;
  const accepted = list(values, 'accept-advisory');
  if (accepted.length) pins.acceptAdvisories = accepted;
  const lock = string(values, 'lock');
  if (lock) {
    const { readLockFile } = await import('./releases.js');
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
