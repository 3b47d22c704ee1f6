// `kubewasm status`: what every node reports (from its labels and
// annotations), the RuntimeClasses and the installer DaemonSet. The JSON/YAML
// shape (ClusterStatus below) is stable: fields are only ever added.
import type { CoreV1Event, V1DaemonSet, V1Node, V1Pod, V1RuntimeClass } from '@kubernetes/client-node';
import { advisoriesFor } from '../shims/advisories.js';
import { SHIMS, type ShimName } from '../shims/catalog.js';
import type { Kube } from './client.js';
import { explainPod, podEvents } from './verify.js';
import { ANNOTATIONS, DESIRED_ANNOTATION, INSTALLER, MANAGED_BY, MANAGED_LABEL, NAMESPACE, OPT_IN_LABEL, OPT_IN_VALUE, READY_LABEL_PREFIX, READY_VALUE, SHIM_LABEL, API_VERSION } from './names.js';

/** `kubewasm status -o json|yaml` */
export interface ClusterStatus {
  apiVersion: typeof API_VERSION;
  kind: 'Status';
  installer: InstallerStatus;
  runtimeClasses: Array<{ name: string; handler: string; shim: string | null; nodeSelector: Record<string, string> }>;
  nodes: NodeStatus[];
  /** Pods of kubewasm's RuntimeClasses that wait (Pending), each with why (from its status and events). */
  waitingPods: WaitingPod[];
}

export interface WaitingPod {
  namespace: string;
  name: string;
  runtimeClass: string;
  node: string | null;
  /** RFC 3339 creation time. */
  since: string | null;
  reason: string;
}

export interface InstallerStatus {
  installed: boolean;
  image: string | null;
  /** desiredDigest() of the DaemonSet's spec: nodes reporting it run the current spec. */
  desired: string | null;
  shims: string[];
  pods: { scheduled: number; ready: number; updated: number } | null;
}

export interface NodeStatus {
  name: string;
  /** The opt-in label is set. */
  enabled: boolean;
  /** kubewasm may have files on it (the installer's kubewasm.io/managed label). */
  managed: boolean;
  /** Converging | Ready | Drifted | Conflict | Failed | Resetting, or null when the installer never reported. */
  state: string | null;
  desired: string | null;
  /** `advisories`: ids of published advisories that name this shim version as affected. */
  shims: Array<{ name: string; ready: boolean; version: string | null; sha256: string | null; runtime: string | null; advisories: string[] }>;
  containerd: string | null;
  configDigest: string | null;
  lastError: { message: string; time: string | null } | null;
  updated: string | null;
  architecture: string | null;
  kubelet: string | null;
  containerRuntime: string | null;
  /** The node installer pod on this node, if any: its phase, readiness and why it waits. */
  installerPod: { name: string; phase: string; ready: boolean; reason: string | null } | null;
}

/** Pure: one node's status from its object (and the installer pod on it). */
export function nodeStatus(node: V1Node, pod?: V1Pod): NodeStatus {
  const labels = node.metadata?.labels ?? {};
  const ann = node.metadata?.annotations ?? {};
  const installed = parseShims(ann[ANNOTATIONS.shims]);
  const readyNames = Object.keys(labels).filter((k) => k.startsWith(READY_LABEL_PREFIX) && labels[k] === READY_VALUE).map((k) => k.slice(READY_LABEL_PREFIX.length));
  const names = [...new Set([...installed.map((s) => s.name), ...readyNames])].sort();
  const info = node.status?.nodeInfo;
  return {
    name: node.metadata?.name ?? '',
    enabled: labels[OPT_IN_LABEL] === OPT_IN_VALUE,
    managed: labels[MANAGED_LABEL] !== undefined,
    state: ann[ANNOTATIONS.state] ?? null,
    desired: ann[ANNOTATIONS.desired] ?? null,
    shims: names.map((name) => {
      const s = installed.find((i) => i.name === name);
      const advisories = name in SHIMS && s?.version ? advisoriesFor(name as ShimName, s.version).map((a) => a.id) : [];
      return { name, ready: readyNames.includes(name), version: s?.version ?? null, sha256: s?.sha256 ?? null, runtime: s?.runtime ?? null, advisories };
    }),
    containerd: ann[ANNOTATIONS.containerd] ?? null,
    configDigest: ann[ANNOTATIONS.configDigest] ?? null,
    lastError: ann[ANNOTATIONS.lastError] ? { message: ann[ANNOTATIONS.lastError]!, time: ann[ANNOTATIONS.lastErrorTime] ?? null } : null,
    updated: ann[ANNOTATIONS.updated] ?? null,
    architecture: info?.architecture ?? null,
    kubelet: info?.kubeletVersion ?? null,
    containerRuntime: info?.containerRuntimeVersion ?? null,
    installerPod: pod ? podSummary(pod) : null,
  };
}

function podSummary(pod: V1Pod): NonNullable<NodeStatus['installerPod']> {
  const cs = pod.status?.containerStatuses?.[0];
  const waiting = cs?.state?.waiting;
  const terminated = cs?.state?.terminated ?? cs?.lastState?.terminated;
  const reason = waiting?.reason ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` : !cs?.ready && terminated?.reason ? `last exit: ${terminated.reason} (${terminated.exitCode})` : null;
  return { name: pod.metadata?.name ?? '', phase: pod.status?.phase ?? 'Unknown', ready: cs?.ready ?? false, reason };
}

function parseShims(value: string | undefined): Array<{ name: string; version?: string; sha256?: string; runtime?: string }> {
  if (!value) return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? parsed.filter((s): s is { name: string } => typeof (s as { name?: unknown })?.name === 'string') : [];
  } catch {
    return [];
  }
}

/** Pure: the Wasm pods that wait, and why (their events by pod name). */
export function waitingPods(pods: readonly V1Pod[], runtimeClasses: readonly V1RuntimeClass[], events: ReadonlyMap<string, readonly CoreV1Event[]> = new Map()): WaitingPod[] {
  const classes = new Set(runtimeClasses.map((rc) => rc.metadata?.name ?? ''));
  return pods
    .filter((p) => p.status?.phase === 'Pending' && !p.metadata?.deletionTimestamp && classes.has(p.spec?.runtimeClassName ?? ''))
    .map((p) => ({
      namespace: p.metadata?.namespace ?? '',
      name: p.metadata?.name ?? '',
      runtimeClass: p.spec?.runtimeClassName ?? '',
      node: p.spec?.nodeName ?? null,
      since: p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp as unknown as string).toISOString() : null,
      reason: explainPod(p, events.get(`${p.metadata?.namespace}/${p.metadata?.name}`) ?? []),
    }))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** Pure: the whole status from the objects. */
export function clusterStatus(nodes: readonly V1Node[], runtimeClasses: readonly V1RuntimeClass[], daemonSet: V1DaemonSet | undefined, installerPods: readonly V1Pod[] = [], waiting: WaitingPod[] = []): ClusterStatus {
  const container = daemonSet?.spec?.template?.spec?.containers?.[0];
  const env = (name: string) => container?.env?.find((e) => e.name === name)?.value;
  return {
    apiVersion: API_VERSION,
    kind: 'Status',
    installer: {
      installed: daemonSet !== undefined,
      image: container?.image ?? null,
      desired: daemonSet?.spec?.template?.metadata?.annotations?.[DESIRED_ANNOTATION] ?? null,
      shims: env('KUBEWASM_SHIMS')?.split(',').filter(Boolean) ?? [],
      pods: daemonSet ? { scheduled: daemonSet.status?.desiredNumberScheduled ?? 0, ready: daemonSet.status?.numberReady ?? 0, updated: daemonSet.status?.updatedNumberScheduled ?? 0 } : null,
    },
    runtimeClasses: runtimeClasses
      .map((rc) => ({ name: rc.metadata?.name ?? '', handler: rc.handler, shim: rc.metadata?.labels?.[SHIM_LABEL] ?? null, nodeSelector: rc.scheduling?.nodeSelector ?? {} }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    nodes: nodes.map((n) => nodeStatus(n, installerPods.find((p) => p.spec?.nodeName === n.metadata?.name && !p.metadata?.deletionTimestamp))).sort((a, b) => a.name.localeCompare(b.name)),
    waitingPods: waiting,
  };
}

/** Pure: the table `kubewasm status` prints. */
export function statusTable(status: ClusterStatus): string {
  const shimNames = [...new Set([...status.installer.shims, ...status.nodes.flatMap((n) => n.shims.map((s) => s.name))])].sort();
  // A mixed cluster gets an ARCH column and each shim's sha256 (it differs per architecture).
  const mixed = new Set(status.nodes.map((n) => n.architecture)).size > 1;
  const header = ['NODE', ...(mixed ? ['ARCH'] : []), 'ENABLED', 'STATE', ...shimNames.map((s) => s.toUpperCase()), 'CONTAINERD', 'LAST ERROR'];
  const rows = status.nodes.map((n) => [
    n.name,
    ...(mixed ? [n.architecture ?? '-'] : []),
    n.enabled ? 'yes' : 'no',
    n.state ?? (n.enabled ? `Pending${n.installerPod?.reason ? ` (installer pod: ${n.installerPod.reason.split(':')[0]})` : ''}` : '-'),
    ...shimNames.map((s) => {
      const shim = n.shims.find((x) => x.name === s);
      return shim ? `${shim.ready ? 'ready' : 'not ready'}${shim.version ? ` ${shim.version}` : ''}${mixed && shim.sha256 ? ` sha256:${shim.sha256.slice(0, 12)}` : ''}${shim.advisories.length ? ` (affected: ${shim.advisories.join(', ')})` : ''}` : '-';
    }),
    n.containerd?.split(' ')[0] ?? n.containerRuntime?.replace(/^containerd:\/\//, '') ?? '-',
    n.lastError ? `${n.lastError.time ?? ''} ${n.lastError.message}`.trim().slice(0, 200) : n.enabled && n.installerPod?.reason ? `installer pod ${n.installerPod.name}: ${n.installerPod.reason}`.slice(0, 200) : '',
  ]);
  const lines = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...lines.map((r) => (r[i] ?? '').length)));
  const table = lines.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
  const installer = status.installer.installed
    ? `installer: ${status.installer.image} (${status.installer.shims.join(', ') || 'no shims'}), pods ready ${status.installer.pods?.ready ?? 0}/${status.installer.pods?.scheduled ?? 0}`
    : 'installer: not installed (kubewasm install)';
  const classes = status.runtimeClasses.length ? `runtime classes: ${status.runtimeClasses.map((rc) => (rc.name === rc.handler ? rc.name : `${rc.name} (handler ${rc.handler})`)).join(', ')}` : 'runtime classes: none';
  const pods = status.waitingPods?.length
    ? `\nWasm pods waiting:\n${status.waitingPods.map((p) => `  ${p.namespace}/${p.name} (RuntimeClass ${p.runtimeClass}${p.since ? `, since ${p.since}` : ''}): ${p.reason}`.slice(0, 400)).join('\n')}\n`
    : '';
  return `${installer}\n${classes}\n\n${table}\n${pods}`;
}

/** At most this many waiting Wasm pods get their events read (one call each). */
const WAITING_PODS_EXPLAINED = 20;

export async function readStatus(kube: Kube, ns: string = NAMESPACE): Promise<ClusterStatus> {
  const [nodes, classes, ds, pods, pending] = await Promise.all([
    kube.listNodes(),
    kube.call('list runtime classes', async () => (await kube.nodeApi.listRuntimeClass({ labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY['app.kubernetes.io/managed-by']}` })).items),
    kube.read<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: INSTALLER, namespace: ns } }),
    kube.listPods({ namespace: ns, labelSelector: `app.kubernetes.io/name=${INSTALLER}` }),
    kube.listPods({ fieldSelector: 'status.phase=Pending' }),
  ]);
  const waiting = waitingPods(pending, classes);
  const events = new Map<string, CoreV1Event[]>();
  await Promise.all(waiting.slice(0, WAITING_PODS_EXPLAINED).map(async (p) => events.set(`${p.namespace}/${p.name}`, await podEvents(kube, p.namespace, p.name))));
  return clusterStatus(nodes, classes, ds, pods, waitingPods(pending, classes, events));
}
