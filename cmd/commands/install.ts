import type { V1Node } from '@kubernetes/client-node';
import { KubewasmError, UsageError } from '../../lib/errors.js';
import { describeDistro, detectDistro } from '../../lib/kube/distro.js';
import { buildInstallerImage } from '../../lib/installer-image/build.js';
import { chooseLoadMethod, loadEnvironment, parseLoadMethod } from '../../lib/kube/load-images.js';
import { applyObjects, deleteObjects, kubewasmRuntimeClasses } from '../../lib/kube/objects.js';
import { DEFAULT_INSTALLER_IMAGE, installObjects, runtimeClasses } from '../../lib/kube/manifests.js';
import { desiredDigest, OPT_IN_LABEL, OPT_IN_VALUE } from '../../lib/kube/names.js';
import { nodeName, optedIn, selectionGiven, selectNodes, setOptIn } from '../../lib/kube/nodes.js';
import { verifyRuntimeClasses } from '../../lib/kube/verify.js';
import { convergeProgress, waitForNodes } from '../../lib/kube/wait.js';
import type { ShimBinary } from '../../lib/shims/binary.js';
import { defaultCacheDir } from '../../lib/shims/cache.js';
import { parseShimList, type ShimInfo } from '../../lib/shims/catalog.js';
import { toShimBinary } from '../../lib/shims/releases.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { stringOption, type Command, type CommandContext } from '../command.js';
import { CLUSTER_HELP, CLUSTER_OPTIONS, durationOption, kubeFromOptions, kubewasmArchives, line, loadIntoNodes, namespaceFromOptions, NODE_SELECTION_HELP, NODE_SELECTION_OPTIONS, nodeProgressView, packageRoot, selectionFromContext } from '../kube-options.js';
import { fetchWithProgress, SHIM_SOURCE_HELP, SHIM_SOURCE_OPTIONS, shimOriginFromOptions, shimReleasesFromOptions } from '../shim-sources.js';
import { verifyLine } from './verify.js';

export const install: Command = {
  path: ['install'],
  summary: 'Install Wasm shims on the chosen nodes of a cluster, create RuntimeClasses and verify them',
  usage: 'kubewasm install NODE… | --selector SELECTOR | --all-nodes [--shims wasmtime[,spin…]] [options]',
  options: {
    ...CLUSTER_OPTIONS,
    ...NODE_SELECTION_OPTIONS,
    ...SHIM_SOURCE_OPTIONS,
    shims: { type: 'string' },
    image: { type: 'string' },
    'installer-node': { type: 'string' },
    load: { type: 'string' },
    'install-dir': { type: 'string' },
    'max-unavailable': { type: 'string' },
    timeout: { type: 'string' },
    'no-verify': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  help: `Applies the namespace, the node installer's RBAC, the admission policy that keeps it on its own Node,
its DaemonSet and one RuntimeClass per shim; opts the chosen nodes in (${OPT_IN_LABEL}=${OPT_IN_VALUE});
waits until each reports its shims ready; then runs kubewasm verify.

${NODE_SELECTION_HELP}
  (none: the nodes already opted in)

Shims and image:
  --shims LIST              wasmtime, wasmedge, wasmer, spin (default: wasmtime)
  --image REF               an installer image the nodes can pull (it carries the shims); default: kubewasm
                            builds kubewasm.io/node-installer:<version>-<digest> here and loads it into the nodes
  --installer-node PATH     the Linux x86-64 node binary for the image (default: the one running kubewasm)
  --load METHOD             how images reach the nodes: auto (default), kind, k3d, docker (docker exec … ctr
                            import, for nodes that are containers), ctr (this machine), none
  --install-dir DIR         where shims go on the nodes (default: containerd's PATH, /usr/local/bin)
  --max-unavailable N       nodes converging at once when the installer is updated (default 1)

${SHIM_SOURCE_HELP}

Waiting:
  --timeout DURATION        for the nodes to converge (default 10m)
  --no-verify               skip kubewasm verify at the end
  --dry-run                 print what would be done; the API server validates the objects, nothing changes

${CLUSTER_HELP}`,
  async run(ctx) {
    return runInstall(ctx);
  },
};

async function runInstall(ctx: CommandContext): Promise<number> {
  const t0 = Date.now();
  const dryRun = Boolean(ctx.options['dry-run']);
  const shims = parseShimList(stringOption(ctx.options, 'shims') ?? 'wasmtime');
  const namespace = namespaceFromOptions(ctx.options);
  const registryImage = stringOption(ctx.options, 'image');
  const installDir = stringOption(ctx.options, 'install-dir');
  const maxUnavailable = stringOption(ctx.options, 'max-unavailable');
  if (maxUnavailable !== undefined && !/^[1-9]\d*$/.test(maxUnavailable)) throw new UsageError(`--max-unavailable must be a positive whole number, not '${maxUnavailable}'`);
  const loadRequested = parseLoadMethod(stringOption(ctx.options, 'load'));
  if (registryImage) for (const flag of ['shim-dir', 'bundle', 'mirror', 'lock', 'sha256', 'shim-version', 'installer-node']) {
    if (ctx.options[flag] !== undefined) throw new UsageError(`--${flag} has no use with --image (the image carries its shims)`);
  }
  const say = (text: string) => (dryRun ? ctx.stdout.write(`${text}\n`) : line(ctx, text));

  const kube = kubeFromOptions(ctx.options);
  const allNodes = await kube.listNodes();
  const selection = selectionFromContext(ctx);
  const chosen = selectionGiven(selection) ? await selectNodes(kube, selection) : [];
  const already = allNodes.filter(optedIn);
  const targets = uniqueNodes([...chosen, ...already]);
  if (targets.length === 0) throw new UsageError('no node is opted in yet: say which nodes get the shims', 'name them, or use --selector SELECTOR or --all-nodes');
  const distro = detectDistro(allNodes);
  const names = targets.map(nodeName);
  say(`cluster: ${describeDistro(distro)} at ${kube.server}; nodes: ${names.join(', ')}`);
  if (!registryImage) requireAmd64(targets);

  // 1. The shims and the images that carry them.
  let image = registryImage ?? DEFAULT_INSTALLER_IMAGE;
  const archives: string[] = [];
  const cacheDir = stringOption(ctx.options, 'cache-dir') ?? defaultCacheDir();
  if (!registryImage) {
    if (dryRun) {
      say(`would fetch and verify the ${shims.map((s) => s.name).join(', ')} shim(s) (${describeShimSource(ctx)}) and build the installer image`);
    } else {
      const sources = await shimSources(ctx, shims);
      const { root, version } = packageRoot();
      const t = Date.now();
      const built = await buildInstallerImage({ packageRoot: root, version, shims: sources, ...(stringOption(ctx.options, 'installer-node') ? { nodeBinary: stringOption(ctx.options, 'installer-node')! } : {}) }, cacheDir);
      image = built.name;
      archives.push(built.file);
      say(`installer image ${image}: ${(built.size / 1e6).toFixed(0)} MB, ${built.cached ? 'from the cache' : `built in ${((Date.now() - t) / 1000).toFixed(1)}s`} (${built.file})`);
    }
  }
  if (!dryRun) archives.push(...(await kubewasmArchives(cacheDir, undefined)).archives);

  // 2. Into the nodes' containerd, where the cluster cannot pull them.
  if (dryRun) {
    const env = await loadEnvironment();
    say(`would load the installer and smoke images into ${names.join(', ')} with: ${chooseLoadMethod(registryImage && loadRequested === 'auto' ? safeAuto(distro, names, env) : loadRequested, distro, names, env)}`);
  } else {
    const requested = registryImage && loadRequested === 'auto' ? safeAuto(distro, names, await loadEnvironment()) : loadRequested;
    await loadIntoNodes(ctx, allNodes, names, archives, requested);
  }

  // 3. The objects.
  const manifestOptions = { namespace, image, shims, installDir, ...(maxUnavailable ? { maxUnavailable: Number(maxUnavailable) } : {}) };
  const desired = desiredDigest({ image, shims: shims.map((s) => s.name), installDir });
  const applied = await applyObjects(kube, installObjects(manifestOptions), { dryRun, onApplied: (a) => say(`${a.object} ${dryRun ? `(dry run: ${a.action}${a.note ? `; ${a.note}` : ''})` : a.action}`) });
  const wantedClasses = new Set(runtimeClasses(shims).map((rc) => rc.metadata?.name));
  const stale = (await kubewasmRuntimeClasses(kube)).filter((rc) => !wantedClasses.has(rc.metadata?.name));

  // 4. Opt the nodes in.
  const labelled = await setOptIn(kube, chosen, true, { dryRun });
  if (labelled.length) say(`${dryRun ? 'would label' : 'labelled'} ${labelled.join(', ')} ${OPT_IN_LABEL}=${OPT_IN_VALUE}`);
  if (dryRun) {
    for (const rc of stale) say(`would delete RuntimeClass ${rc.metadata?.name} (its shim is no longer wanted)`);
    say(`would wait for ${names.join(', ')} to report ${shims.map((s) => s.name).join(', ')} ready, then verify`);
    return 0;
  }
  void applied;

  // 5. Wait for every node to converge to this spec.
  const timeoutMs = durationOption(ctx.options, 'timeout', 600_000);
  const progress = await nodeProgressView(ctx, names, (onProgress) =>
    waitForNodes(kube, names, (n) => convergeProgress(n, desired, shims.map((s) => s.name)), { timeoutMs, onProgress }),
  );
  const failed = [...progress].filter(([, p]) => p.state !== 'done');
  if (stale.length && failed.length === 0) await deleteObjects(kube, stale, { onDeleted: (what) => line(ctx, `deleted ${what} (its shim is no longer wanted)`) });
  line(ctx, `${names.length - failed.length} of ${names.length} node(s) ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (failed.length) {
    throw new KubewasmError({
      what: `the node installer failed on ${failed.map(([n, p]) => `${n}: ${p.message}`).join('; ')}`,
      fix: 'fix the cause on the node; the installer retries by itself (kubewasm status shows progress)',
    });
  }

  // 6. Prove it.
  if (ctx.options['no-verify']) return 0;
  const results = await verifyRuntimeClasses(kube, await kubewasmRuntimeClasses(kube), { namespace, onResult: (r) => ctx.stdout.write(verifyLine(r)) });
  return results.every((r) => r.ok) ? 0 : 1;
}

function uniqueNodes(nodes: V1Node[]): V1Node[] {
  const seen = new Map<string, V1Node>();
  for (const n of nodes) seen.set(nodeName(n), n);
  return [...seen.values()];
}

/** The image kubewasm builds carries a linux/amd64 Node.js and shims. */
function requireAmd64(nodes: V1Node[]): void {
  const other = nodes.filter((n) => (n.status?.nodeInfo?.architecture ?? 'amd64') !== 'amd64');
  if (other.length) {
    throw new KubewasmError({
      what: `the installer image kubewasm builds is linux/amd64, but ${other.map((n) => `${nodeName(n)} is ${n.status?.nodeInfo?.architecture}`).join(', ')}`,
      fix: 'pass --image with an installer image for that architecture, or choose amd64 nodes',
    });
  }
}

/** With --image, loading is only for the smoke images: skip it quietly when this machine cannot. */
function safeAuto(distro: Parameters<typeof chooseLoadMethod>[1], names: string[], env: Parameters<typeof chooseLoadMethod>[3]) {
  try {
    return chooseLoadMethod('auto', distro, names, env);
  } catch {
    return 'none' as const;
  }
}

function describeShimSource(ctx: CommandContext): string {
  const dir = stringOption(ctx.options, 'shim-dir');
  if (dir) return `from ${dir}`;
  const origin = shimOriginFromOptions(ctx.options);
  return origin.kind === 'bundle' ? `from the bundle ${origin.file}` : origin.kind === 'mirror' ? `from ${origin.url}` : `from GitHub releases via ${origin.apiUrl}`;
}

async function shimSources(ctx: CommandContext, shims: ShimInfo[]): Promise<ShimBinary[]> {
  const dir = stringOption(ctx.options, 'shim-dir');
  if (dir) {
    shimOriginFromOptions(ctx.options);
    return shimsFromDir(dir, shims);
  }
  const releases = await shimReleasesFromOptions(ctx.options, shims, ['amd64']);
  return (await fetchWithProgress(ctx, releases, shims, ['amd64'])).map(toShimBinary);
}
