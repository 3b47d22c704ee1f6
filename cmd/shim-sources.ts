// Where shim binaries come from, for every command that needs them: the
// options (--shim-version, --sha256, --lock, --bundle, --shim-dir, --mirror,
// --github-api-url, --cache-dir), the ShimReleases they build, and the
// progress view (listr2 on a terminal, plain lines otherwise).
import type { ParseArgsOptionsConfig } from 'node:util';
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { UsageError } from '../lib/errors.js';
import { execOk, type NodeHost } from '../lib/host/host.js';
import type { ShimBinary } from '../lib/shims/binary.js';
import { defaultCacheDir } from '../lib/shims/cache.js';
import { parseArch, shimInfo, type Arch, type ShimInfo, type ShimName } from '../lib/shims/catalog.js';
import { githubApiUrlFrom, githubTokenFromEnv } from '../lib/shims/github.js';
import { artifactLabel, readLockFile, ShimReleases, toShimBinary, type Pins, type ResolvedArtifact, type ShimArtifact, type ShimEvent, type ShimOrigin } from '../lib/shims/releases.js';
import { shimsFromDir } from '../lib/shims/shim-dir.js';
import { listOption, stringOption, type CommandContext, type OptionValues } from './command.js';

export const SHIM_SOURCE_OPTIONS: ParseArgsOptionsConfig = {
  'shim-version': { type: 'string', multiple: true },
  sha256: { type: 'string', multiple: true },
  lock: { type: 'string' },
  bundle: { type: 'string' },
  'shim-dir': { type: 'string' },
  mirror: { type: 'string' },
  'github-api-url': { type: 'string' },
  'cache-dir': { type: 'string' },
  'accept-advisory': { type: 'string', multiple: true },
};

export const SHIM_SOURCE_HELP = `Where the shims come from (default: GitHub releases, verified, cached):
  --shim-version SHIM=VER   version per shim: X.Y.Z, vX.Y.Z or latest (default: kubewasm's pinned
                            version: wasmtime/wasmedge/wasmer 0.6.1, spin 0.25.1); repeatable or comma-separated
  --accept-advisory ID      install a version a published advisory names as affected (e.g. GHSA-cc25-vq59-rcjx)
  --sha256 SHIM[/ARCH]=HEX  the expected sha256 of the release archive, when GitHub has no digest for it
  --lock FILE               versions and sha256s from a lock file (kubewasm-bundle.lock.json)
  --bundle FILE             an air-gap bundle written by 'kubewasm bundle' (no network)
  --mirror URL              a file server laid out like github.com: URL/OWNER/REPO/releases/download/TAG/ASSET
                            (needs --lock or --sha256: a mirror carries no digests)
  --shim-dir DIR            ready binaries in DIR (containerd-shim-wasmtime-v1, …); you vouch for them
  --github-api-url URL      GitHub Enterprise or an API mirror (default: $GITHUB_API_URL or https://api.github.com)
  --cache-dir DIR           download cache (default: $XDG_CACHE_HOME/kubewasm or ~/.cache/kubewasm)
  GITHUB_TOKEN              sent to the API host only; raises the rate limit from 60 to 5,000 requests per hour`;

/** The origin the options name; --shim-dir is handled apart (no release flow). */
export function shimOriginFromOptions(options: OptionValues, env: NodeJS.ProcessEnv = process.env): ShimOrigin {
  const bundle = stringOption(options, 'bundle');
  const mirror = stringOption(options, 'mirror');
  const apiUrl = stringOption(options, 'github-api-url');
  const chosen = [bundle && '--bundle', mirror && '--mirror', stringOption(options, 'shim-dir') && '--shim-dir'].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`${chosen.join(' and ')} name different sources`, 'choose one of --bundle, --mirror, --shim-dir (or none, for GitHub)');
  if (apiUrl && (bundle || mirror)) throw new UsageError(`--github-api-url has no use with ${bundle ? '--bundle' : '--mirror'}`);
  if (bundle) return { kind: 'bundle', file: bundle };
  if (mirror) {
    if (!/^https?:\/\//.test(mirror)) throw new UsageError(`--mirror '${mirror}' is not an http(s) URL`);
    return { kind: 'mirror', url: mirror };
  }
  const url = githubApiUrlFrom(apiUrl, env);
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--github-api-url '${url}' is not an http(s) URL`);
  return { kind: 'github', apiUrl: url, token: githubTokenFromEnv(env) };
}

/** --shim-version, --sha256 and --lock as pins; `archs` lets "--sha256 wasmtime=HEX" mean the only arch asked for. */
export async function pinsFromOptions(options: OptionValues, shims: ShimInfo[], archs: Arch[]): Promise<Pins> {
  const wanted = new Set(shims.map((s) => s.name));
  const pins: Pins = {};
  const versions: Partial<Record<ShimName, string>> = {};
  for (const item of listOption(options, 'shim-version')) {
    const [name, version] = splitPin(item, '--shim-version', 'wasmtime=0.6.0');
    const shim = shimInfo(name);
    if (!wanted.has(shim.name)) throw new UsageError(`--shim-version names ${shim.name}, which is not among the shims asked for`, `add it to --shims, or drop the pin`);
    versions[shim.name] = version;
  }
  if (Object.keys(versions).length) pins.versions = versions;
  const digests: Record<string, string> = {};
  for (const item of listOption(options, 'sha256')) {
    const [key, hex] = splitPin(item, '--sha256', 'wasmtime/amd64=HEX');
    const [name, archName] = key.split('/') as [string, string | undefined];
    const shim = shimInfo(name);
    let arch: Arch;
    if (archName) arch = parseArch(archName);
    else if (archs.length === 1) arch = archs[0]!;
    else throw new UsageError(`--sha256 ${key}=… must name the architecture: several are asked for (${archs.join(', ')})`, `write --sha256 ${shim.name}/${archs[0]}=HEX`);
    digests[`${shim.name}/${arch}`] = hex.toLowerCase();
  }
  if (Object.keys(digests).length) pins.digests = digests;
  const accepted = listOption(options, 'accept-advisory');
  if (accepted.length) pins.acceptAdvisories = accepted;
  const lock = stringOption(options, 'lock');
  if (lock) {
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

export async function shimReleasesFromOptions(options: OptionValues, shims: ShimInfo[], archs: Arch[], env: NodeJS.ProcessEnv = process.env): Promise<ShimReleases> {
  return new ShimReleases({
    origin: shimOriginFromOptions(options, env),
    cacheDir: stringOption(options, 'cache-dir') ?? defaultCacheDir(env),
    pins: await pinsFromOptions(options, shims, archs),
  });
}

/** The node's architecture, from `uname -m` on it. */
export async function nodeArch(host: NodeHost): Promise<Arch> {
  return parseArch((await execOk(host, ['uname', '-m'])).trim());
}

/**
 * The ShimSources for one node: ready binaries from --shim-dir, or the
 * release flow (resolve, download once, verify, unpack) for the node's arch.
 */
export async function shimSourcesForNode(ctx: CommandContext, host: NodeHost, shims: ShimInfo[]): Promise<ShimBinary[]> {
  const shimDir = stringOption(ctx.options, 'shim-dir');
  if (shimDir) {
    shimOriginFromOptions(ctx.options); // refuses --shim-dir together with --bundle/--mirror
    for (const flag of ['shim-version', 'sha256', 'lock', 'github-api-url', 'cache-dir', 'accept-advisory']) {
      if (ctx.options[flag] !== undefined) throw new UsageError(`--${flag} has no use with --shim-dir (the binaries in the directory are used as they are)`);
    }
    return shimsFromDir(shimDir, shims);
  }
  const arch = await nodeArch(host);
  const releases = await shimReleasesFromOptions(ctx.options, shims, [arch]);
  return (await fetchWithProgress(ctx, releases, shims, [arch])).map(toShimBinary);
}

// ---------------------------------------------------------------------------
// Progress

const mb = (n: number) => (n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`);
const short = (hex: string) => `${hex.slice(0, 12)}…`;

/** Resolve and fetch with a progress view on ctx.stderr: listr2 on a terminal, plain lines otherwise. */
export async function fetchWithProgress(ctx: CommandContext, releases: ShimReleases, shims: ShimInfo[], archs: Arch[]): Promise<ShimArtifact[]> {
  if (ctx.stderr.isTTY && !process.env['CI']) return fetchWithListr(ctx, releases, shims, archs);
  const verbose = Boolean(ctx.options['verbose']);
  return releases.provide(shims, archs, plainProgress((line) => ctx.stderr.write(`${line}\n`), verbose));
}

/** Plain progress lines: resolved, 25 % steps of a download, verified, ready. */
export function plainProgress(log: (line: string) => void, verbose = false): (e: ShimEvent) => void {
  const steps = new Map<string, number>();
  return (e) => {
    const label = artifactLabel(e.artifact);
    switch (e.type) {
      case 'resolved':
        log(`${label}: ${e.artifact.asset} (${e.artifact.tag}), sha256 ${short(e.artifact.sha256)} from ${e.artifact.digestSource}`);
        break;
      case 'cached':
        log(`${label}: in the cache, sha256 checked`);
        break;
      case 'progress': {
        if (!e.total) break;
        const step = Math.floor((e.received / e.total) * 4);
        if (step > (steps.get(label) ?? -1) && step < 4) {
          steps.set(label, step);
          log(`${label}: downloading ${mb(e.received)} of ${mb(e.total)}`);
        }
        break;
      }
      case 'verified':
        log(`${label}: ${e.artifact.fetch.kind === 'bundle' ? 'copied' : 'downloaded'} ${mb(e.bytes)}${e.artifact.fetch.kind === 'bundle' ? ' from the bundle' : ''}, sha256 verified`);
        break;
      case 'skipped-entry':
        if (verbose) log(`${label}: ${e.reason}`);
        break;
      case 'ready':
        log(`${label}: ${e.artifact.shim.binaryName} ready (sha256 ${short(e.artifact.binarySha256)})`);
        break;
    }
  };
}

async function fetchWithListr(ctx: CommandContext, releases: ShimReleases, shims: ShimInfo[], archs: Arch[]): Promise<ShimArtifact[]> {
  const stream = ctx.stderr as NodeJS.WriteStream;
  const rendererOptions = { logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }) };
  const state: { resolved: ResolvedArtifact[]; artifacts: ShimArtifact[] } = { resolved: [], artifacts: [] };
  await new Listr([{ title: `Resolve ${shims.map((s) => s.name).join(', ')} for ${archs.join(', ')}`, task: async () => void (state.resolved = await releases.resolve(shims, archs)) }], { rendererOptions, exitOnError: true }).run();
  state.artifacts = new Array(state.resolved.length);
  await new Listr(
    state.resolved.map((r, i) => ({
      title: `${artifactLabel(r)}: ${r.asset}`,
      task: async (_ctx: unknown, task: { title: string; output: string }) => {
        let last = 0;
        const artifact = await releases.fetch(r, (e) => {
          if (e.type === 'progress' && Date.now() - last > 100) {
            last = Date.now();
            task.output = `${mb(e.received)}${e.total ? ` of ${mb(e.total)}` : ''}`;
          } else if (e.type === 'cached') task.output = 'in the cache';
        });
        state.artifacts[i] = artifact;
        task.title = `${artifactLabel(r)}: ${artifact.fetchedBytes ? `${mb(artifact.fetchedBytes)} ${r.fetch.kind === 'bundle' ? 'copied from the bundle' : 'downloaded'}, ` : 'cached, '}sha256 ${short(r.sha256)} verified (${r.digestSource})`;
      },
    })),
    { concurrent: 4, exitOnError: true, rendererOptions },
  ).run();
  return state.artifacts;
}
