// `kubewasm install`, the cluster flow: choose the nodes; get the shims and
// the installer image that carries them (unless --image names one the nodes
// pull); load images into the nodes where the cluster cannot pull; apply the
// objects; opt the nodes in; wait until each reports the spec ready; verify.
import type { V1Node } from '@kubernetes/client-node';
import { KubewasmError, UsageError } from '../errors.js';
import { buildInstallerImage } from '../installer-image/build.js';
import { describeSupply, provideShims, type ShimSupply } from '../node/shim-supply.js';
import { ARCHES, type Arch, type ShimInfo } from '../shims/catalog.js';
import type { ShimEvent } from '../shims/releases.js';
import type { Kube } from './client.js';
import { describeDistro, detectDistro, type Distro } from './distro.js';
import { describePush, pushImages, smokeWasiArchive, type RegistryOptions } from './images.js';
import { chooseLoadMethod, kubewasmArchives, loadEnvironment, loadImages, type LoadEnvironment, type LoadMethod } from './load-images.js';
import { installObjects, runtimeClasses } from './manifests.js';
import { DEFAULT_INSTALLER_IMAGE, desiredDigest, OPT_IN_LABEL, OPT_IN_VALUE } from './names.js';
import { nodeName, optedIn, selectionGiven, selectNodes, setOptIn, type NodeSelection } from './nodes.js';
import { applyObjects, deleteObjects, kubewasmRuntimeClasses } from './objects.js';
import { packageRoot } from './package-root.js';
import { verifyRuntimeClasses, type VerifyResult } from './verify.js';
import { convergeProgress, waitForNodes, type NodeProgress } from './wait.js';

export interface InstallOptions {
  namespace: string;
  selection: NodeSelection;
  shims: ShimInfo[];
  /** An installer image the nodes pull (it carries its shims); else kubewasm builds one from `supply`. */
  image?: string | undefined;
  supply?: ShimSupply | undefined;
  /** A Linux node binary replacing the pinned npm one for its architecture in the image. */
  installerNode?: string | undefined;
  cacheDir: string;
  load: LoadMethod | 'auto';
  installDir?: string | undefined;
  maxUnavailable?: number | undefined;
  timeoutMs: number;
  verify: boolean;
  dryRun: boolean;
  /** Push the images here and deploy them from there (nothing is loaded into the nodes). */
  registry?: RegistryOptions | undefined;
  /** Secrets in the namespace the nodes pull the images with (a private registry). */
  imagePullSecrets?: string[] | undefined;
}

export type ClusterEvent =
  | { type: 'info'; text: string }
  | { type: 'shim'; event: ShimEvent }
  /** The nodes the flow now waits for; `node` events follow. */
  | { type: 'waiting'; nodes: string[] }
  | { type: 'node'; node: string; progress: NodeProgress }
  | { type: 'waited' }
  | { type: 'verify'; result: VerifyResult };

/** Returns whether every check passed (a dry run: true). */
export async function install(kube: Kube, o: InstallOptions, onEvent: (e: ClusterEvent) => void): Promise<boolean> {
  const t0 = Date.now();
  const say = (text: string) => onEvent({ type: 'info', text });
  const allNodes = await kube.listNodes();
  const chosen = selectionGiven(o.selection) ? await selectNodes(kube, o.selection) : [];
  const targets = uniqueNodes([...chosen, ...allNodes.filter(optedIn)]);
  if (targets.length === 0) throw new UsageError('no node is opted in yet: say which nodes get the shims', 'name them, or use --selector SELECTOR or --all-nodes');
  const distro = detectDistro(allNodes);
  const names = targets.map(nodeName);
  say(`cluster: ${describeDistro(distro)} at ${kube.server}; nodes: ${names.join(', ')}`);
  const archs = o.image ? [] : nodeArchitectures(targets);

  // 1. The shims and the images that carry them.
  let image = o.image ?? DEFAULT_INSTALLER_IMAGE;
  const archives: string[] = [];
  if (!o.image && o.dryRun) say(`would fetch and verify the ${o.shims.map((s) => s.name).join(', ')} shim(s) (${describeSupply(o.supply!)}) and build the installer image for ${archs.map((a) => `linux/${a}`).join(', ')}`);
  if (!o.image && !o.dryRun) {
    // Each shim is fetched once per architecture; each platform's image carries its own.
    const shimsFor = await provideShims(o.supply!, o.shims, archs, (event) => onEvent({ type: 'shim', event }));
    const { root, version } = packageRoot();
    const t = Date.now();
    const shims = Object.fromEntries(archs.map((arch) => [arch, shimsFor(arch)]));
    const built = await buildInstallerImage({ packageRoot: root, version, shims, ...(o.installerNode ? { nodeBinary: o.installerNode } : {}), onDownload: (url, bytes) => say(`downloaded ${url} (${(bytes / 1e6).toFixed(1)} MB, digest checked)`) }, o.cacheDir);
    image = built.name;
    archives.push(built.file);
    say(`installer image ${image} (${built.platforms.join(', ')}): ${(built.size / 1e6).toFixed(0)} MB, ${built.cached ? 'from the cache' : `built in ${((Date.now() - t) / 1000).toFixed(1)}s`} (${built.file})`);
  }
  if (!o.dryRun) archives.push(...(await kubewasmArchives(o.cacheDir, undefined)).archives);

  // 2. Into a registry the nodes pull from, or into the nodes' containerd where the cluster cannot pull them.
  let smokeImage: string | undefined;
  let wasiImage: string | undefined;
  if (o.registry) {
    const where = `${o.registry.target.registry}/${o.registry.target.repository}`;
    if (o.dryRun) say(`would push the installer and smoke images (the wasi/wasm form too) to ${where}; the nodes pull them from there`);
    else {
      // The wasi/wasm form only goes through a registry: a pull is how users' Wasm images reach a node.
      const pushed = await pushImages([...archives, await smokeWasiArchive(o.cacheDir)], o.registry);
      image = pushed.installer ?? image;
      smokeImage = pushed.smoke;
      wasiImage = pushed.wasi;
      say(`${describePush(pushed)}; the nodes pull ${image}`);
    }
  } else {
    const env = o.dryRun || (o.image && o.load === 'auto') ? await loadEnvironment() : undefined;
    const load = o.image && o.load === 'auto' ? safeAuto(distro, names, env!) : o.load;
    if (o.dryRun) say(`would load the installer and smoke images into ${names.join(', ')} with: ${chooseLoadMethod(load, distro, names, env!)}`);
    else await loadImages(allNodes, names, archives, load, say);
  }

  // 3. The objects.
  const manifest = { namespace: o.namespace, image, shims: o.shims, installDir: o.installDir, imagePullSecrets: o.imagePullSecrets, ...(o.maxUnavailable ? { maxUnavailable: o.maxUnavailable } : {}) };
  await applyObjects(kube, installObjects(manifest), { dryRun: o.dryRun, onApplied: (a) => say(`${a.object} ${o.dryRun ? `(dry run: ${a.action}${a.note ? `; ${a.note}` : ''})` : a.action}`) });
  const wanted = new Set(runtimeClasses(o.shims).map((rc) => rc.metadata?.name));
  const stale = (await kubewasmRuntimeClasses(kube)).filter((rc) => !wanted.has(rc.metadata?.name));

  // 4. Opt the nodes in.
  const labelled = await setOptIn(kube, chosen, true, { dryRun: o.dryRun });
  if (labelled.length) say(`${o.dryRun ? 'would label' : 'labelled'} ${labelled.join(', ')} ${OPT_IN_LABEL}=${OPT_IN_VALUE}`);
  if (o.dryRun) {
    for (const rc of stale) say(`would delete RuntimeClass ${rc.metadata?.name} (its shim is no longer wanted)`);
    say(`would wait for ${names.join(', ')} to report ${o.shims.map((s) => s.name).join(', ')} ready, then verify`);
    return true;
  }

  // 5. Wait for every node to converge to this spec.
  const desired = desiredDigest({ image, shims: o.shims.map((s) => s.name), installDir: o.installDir });
  const progress = await waitWithEvents(onEvent, names, (onProgress) =>
    waitForNodes(kube, names, (n) => convergeProgress(n, desired, o.shims.map((s) => s.name)), { timeoutMs: o.timeoutMs, onProgress }),
  );
  const failed = [...progress].filter(([, p]) => p.state !== 'done');
  if (stale.length && failed.length === 0) await deleteObjects(kube, stale, { onDeleted: (what) => say(`deleted ${what} (its shim is no longer wanted)`) });
  say(`${names.length - failed.length} of ${names.length} node(s) ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (failed.length) {
    throw new KubewasmError({
      what: `the node installer failed on ${failed.map(([n, p]) => `${n}: ${p.message}`).join('; ')}`,
      fix: 'fix the cause on the node; the installer retries by itself (kubewasm status shows progress)',
    });
  }

  // 6. Prove it.
  if (!o.verify) return true;
  const results = await verifyRuntimeClasses(kube, await kubewasmRuntimeClasses(kube), { namespace: o.namespace, ...(smokeImage ? { image: smokeImage } : {}), ...(wasiImage ? { wasiImage } : {}), ...(o.imagePullSecrets ? { imagePullSecrets: o.imagePullSecrets } : {}), onResult: (result) => onEvent({ type: 'verify', result }) });
  return results.every((r) => r.ok);
}

/** Brackets a wait with `waiting` and `waited`, its progress as `node` events. */
export async function waitWithEvents<T>(onEvent: (e: ClusterEvent) => void, nodes: string[], wait: (onProgress: (node: string, progress: NodeProgress) => void) => Promise<T>): Promise<T> {
  onEvent({ type: 'waiting', nodes });
  try {
    return await wait((node, progress) => onEvent({ type: 'node', node, progress }));
  } finally {
    onEvent({ type: 'waited' });
  }
}

function uniqueNodes(nodes: V1Node[]): V1Node[] {
  return [...new Map(nodes.map((n) => [nodeName(n), n])).values()];
}

/** Pure: the architectures of `nodes` (each gets its platform in the image); one kubewasm cannot build for is refused. */
export function nodeArchitectures(nodes: readonly V1Node[]): Arch[] {
  const archOf = (n: V1Node) => n.status?.nodeInfo?.architecture ?? 'amd64';
  const other = nodes.filter((n) => !(ARCHES as readonly string[]).includes(archOf(n)));
  if (other.length) {
    throw new KubewasmError({
      what: `kubewasm builds the installer image for ${ARCHES.join(' and ')}, but ${other.map((n) => `${nodeName(n)} is ${archOf(n)}`).join(', ')}`,
      fix: `pass --image with an installer image for that architecture, or choose ${ARCHES.join('/')} nodes`,
    });
  }
  return ARCHES.filter((a) => nodes.some((n) => archOf(n) === a));
}

/** With --image, loading is only for the smoke images: skip it quietly when this machine cannot. */
function safeAuto(distro: Distro, names: string[], env: LoadEnvironment): LoadMethod {
  try {
    return chooseLoadMethod('auto', distro, names, env);
  } catch {
    return 'none';
  }
}
