// Where shims come from, as the flags of node install, install, bundle and
// cluster create say it: the origin (GitHub, a mirror, a bundle) and the pins
// (--shim-version, --sha256, --accept-advisory, --lock). Modules that reach
// the network or the disk load only when a flag needs them.
import { UsageError } from '../errors.js';
import { list, string, type FlagValues } from '../flag-values.js';
import { parseArch, shimInfo, type Arch, type ShimInfo, type ShimName } from './catalog.js';
import type { Pins, ShimOrigin } from './releases.js';

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
