// `kubewasm verify`: proves each Wasm RuntimeClass with a real pod that runs
// a WASI module printing a known line, read back from the pod's log; the
// pieces `verify --bench` (verify-bench.ts) shares with it.
import { randomBytes } from 'node:crypto';
import type { CoreV1Event, V1Node, V1Pod, V1RuntimeClass } from '@kubernetes/client-node';
import { KubewasmError } from '../errors.js';
import { SMOKE_IMAGE, SMOKE_LINE } from '../installer-image/smoke.js';
import type { Kube } from './client.js';
import { MANAGED_BY, NAMESPACE, readyLabel, READY_VALUE, VERIFY_LABEL } from './names.js';
import { watchUntil } from './wait.js';

export interface SmokePodOptions {
  name: string;
  namespace?: string | undefined;
  image: string;
  runtimeClassName?: string | undefined;
  /** Pin to a node (skips the scheduler; the RuntimeClass's node selector is still checked by the kubelet). */
  node?: string | undefined;
  pullPolicy?: 'Never' | 'IfNotPresent' | 'Always';
  /** Secrets (in the namespace) to pull the image with, for a private registry. */
  imagePullSecrets?: readonly string[] | undefined;
}

/** Pure: the smoke pod. */
export function smokePod(options: SmokePodOptions): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: options.name, namespace: options.namespace ?? NAMESPACE, labels: { ...MANAGED_BY, [VERIFY_LABEL]: 'true' } },
    spec: {
      ...(options.runtimeClassName ? { runtimeClassName: options.runtimeClassName } : {}),
      ...(options.node ? { nodeName: options.node } : {}),
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: 'Exists' }],
      ...(options.imagePullSecrets?.length ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) } : {}),
      containers: [{ name: 'smoke', image: options.image, imagePullPolicy: options.pullPolicy ?? 'IfNotPresent' }],
    },
  };
}

export interface PodRun {
  name: string;
  node: string | null;
  phase: 'Succeeded' | 'Failed';
  log: string;
  /** From the create request to the first observation of a terminal phase. */
  ms: number;
  /** Why it failed (container state reason and message). */
  reason: string | null;
}

/** Container states that will not get better by waiting. */
const HOPELESS = /^(ErrImageNeverPull|ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError|CreateContainerError|RunContainerError|StartError|ContainerCannotRun)$/;

/** Pure: a pod's outcome so far (undefined while it is still on its way). */
export function podOutcome(pod: V1Pod | undefined): { phase: 'Succeeded' | 'Failed'; reason: string | null } | undefined {
  if (!pod) return undefined;
  const phase = pod.status?.phase;
  const state = pod.status?.containerStatuses?.[0]?.state;
  const terminated = state?.terminated;
  if (phase === 'Succeeded') return { phase, reason: null };
  if (phase === 'Failed') return { phase, reason: terminated ? `${terminated.reason ?? 'terminated'} (exit ${terminated.exitCode})${terminated.message ? `: ${terminated.message}` : ''}` : (pod.status?.message ?? pod.status?.reason ?? 'failed') };
  const waiting = state?.waiting;
  if (waiting?.reason && HOPELESS.test(waiting.reason)) return { phase: 'Failed', reason: `${waiting.reason}: ${waiting.message ?? ''}`.trim() };
  return undefined;
}

function describePending(pod: V1Pod | undefined): string {
  if (!pod) return 'the pod disappeared';
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return `not scheduled: ${scheduled.message ?? scheduled.reason ?? ''}`;
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
  return waiting ? `${waiting.reason ?? 'waiting'}${waiting.message ? `: ${waiting.message}` : ''}` : `phase ${pod.status?.phase ?? 'unknown'}`;
}

/**
 * Pure: why a pod did not finish, from its status and its events, naming the
 * node. The kubelet's Warning events hold what the pod's status does not: a
 * runtime handler containerd does not know, an image it cannot pull, the
 * shim's own error.
 */
export function explainPod(pod: V1Pod | undefined, events: readonly CoreV1Event[]): string {
  const node = pod?.spec?.nodeName;
  const where = node ? ` on node ${node}` : '';
  // MissingClusterDNS says only that the kubelet has no cluster DNS (a lab, a bare cluster): it never explains a wait.
  const warnings = events
    .filter((e) => e.type === 'Warning' && e.reason !== 'MissingClusterDNS')
    .sort((a, b) => eventTime(b) - eventTime(a));
  // The most telling warning: a sandbox or container the runtime refused beats a back-off notice.
  const telling = warnings.find((e) => /FailedCreatePodSandBox|Failed|FailedScheduling|ErrImage|InspectFailed/.test(e.reason ?? '') && !/^BackOff$/.test(e.reason ?? '')) ?? warnings[0];
  const status = describePending(pod);
  if (!telling) return `${status}${where}`;
  const message = (telling.message ?? '').replace(/\s+/g, ' ').trim();
  const hint = handlerHint(message);
  return `${status}${where}: ${telling.reason ?? 'Warning'}${(telling.count ?? 1) > 1 ? ` (x${telling.count})` : ''}: ${message.slice(0, 400)}${hint ? ` (${hint})` : ''}`;
}

/** What a known runtime message means for kubewasm. */
function handlerHint(message: string): string | undefined {
  const handler = /no runtime for "([^"]+)" is configured|RuntimeHandler "([^"]+)" not supported/.exec(message);
  if (handler) return `containerd on that node has no runtime handler "${handler[1] ?? handler[2]}": its kubewasm installer has not (re)configured it; kubewasm status shows the node's state`;
  if (/ErrImageNeverPull|ErrImagePull|ImagePullBackOff|failed to pull|not found/i.test(message)) return 'the image is not on that node and cannot be pulled there';
  return undefined;
}

function eventTime(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}

/** The events of one pod (empty when they cannot be read: the explanation is best effort). */
export async function podEvents(kube: Kube, namespace: string, name: string): Promise<CoreV1Event[]> {
  try {
    const list = await kube.call(`list the events of pod ${namespace}/${name}`, () => kube.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}` }), { timeoutMs: 10_000 });
    return list.items;
  } catch {
    return [];
  }
}

/** Creates the pod, waits for it to finish, reads its log, deletes it (unless keep). */
export async function runPod(kube: Kube, pod: V1Pod, options: { timeoutMs?: number; keep?: boolean } = {}): Promise<PodRun> {
  const name = pod.metadata!.name!;
  const ns = pod.metadata?.namespace ?? NAMESPACE;
  const t0 = performance.now();
  await kube.call(`create pod ${ns}/${name}`, () => kube.core.createNamespacedPod({ namespace: ns, body: pod }));
  let lastSeen: V1Pod | undefined;
  try {
    const { outcome, last, ms } = await watchUntil<V1Pod, { outcome: NonNullable<ReturnType<typeof podOutcome>>; last: V1Pod; ms: number }>(kube, {
      path: `/api/v1/namespaces/${ns}/pods`,
      query: { fieldSelector: `metadata.name=${name}` },
      list: () => kube.call('list pods', async () => {
        const list = await kube.core.listNamespacedPod({ namespace: ns, fieldSelector: `metadata.name=${name}` });
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
      }),
      check: (objects) => {
        const p = objects.get(name);
        lastSeen = p ?? lastSeen;
        const o = podOutcome(p);
        return o && p ? { outcome: o, last: p, ms: performance.now() - t0 } : undefined;
      },
      timeoutMs: options.timeoutMs ?? 120_000,
      onTimeout: (objects) =>
        new KubewasmError({
          what: `pod ${ns}/${name} did not finish within ${Math.round((options.timeoutMs ?? 120_000) / 1000)}s (${describePending(objects.get(name))})`,
          fix: `kubectl -n ${ns} describe pod ${name} shows its events (run again with --keep to keep the pod)`,
        }),
    }).catch(async (err: unknown) => {
      // Timed out: the pod's events say why (a handler containerd lacks, an image it cannot pull, …).
      if (!(err instanceof KubewasmError) || !lastSeen) throw err;
      const seconds = Math.round((options.timeoutMs ?? 120_000) / 1000);
      throw new KubewasmError({
        what: `pod ${ns}/${name} did not finish within ${seconds}s: ${explainPod(lastSeen, await podEvents(kube, ns, name))}`,
        ...(lastSeen.spec?.nodeName ? { where: lastSeen.spec.nodeName } : {}),
        fix: `kubectl -n ${ns} describe pod ${name} shows its events (run again with --keep to keep the pod); kubewasm status shows the node's state`,
      });
    });
    let log = '';
    try {
      log = await kube.call(`read the log of pod ${name}`, () => kube.core.readNamespacedPodLog({ name, namespace: ns, container: 'smoke' }));
    } catch (err) {
      if (outcome.phase === 'Succeeded') throw err;
    }
    // A failed pod's status may say little ("ContainerCannotRun"); its events hold the runtime's words.
    const reason = outcome.phase === 'Failed' ? `${outcome.reason ?? 'failed'}${await failureDetail(kube, last, ns, name)}` : null;
    return { name, node: last.spec?.nodeName ?? null, phase: outcome.phase, log, ms, reason };
  } finally {
    if (!options.keep) await kube.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns } }, { gracePeriodSeconds: 0 }).catch(() => false);
  }
}

async function failureDetail(kube: Kube, pod: V1Pod, ns: string, name: string): Promise<string> {
  const events = await podEvents(kube, ns, name);
  if (!events.some((e) => e.type === 'Warning')) return '';
  return `; events: ${explainPod(pod, events)}`;
}

export type VerifyStatus = 'passed' | 'failed' | 'skipped';

export interface VerifyResult {
  runtimeClass: string;
  handler: string;
  /** passed: the pod printed the line; failed: it did not (message says why); skipped: not run (message says why). */
  status: VerifyStatus;
  /** True only when the check ran and passed: a skipped check proves nothing. */
  ok: boolean;
  /** Skipped (with why), e.g. the Spin runtime runs Spin apps, not WASI commands. */
  skipped: string | null;
  node: string | null;
  ms: number | null;
  message: string;
  /** The image the pod ran, when it is not the default smoke image (e.g. the wasi/wasm form). */
  image?: string;
}

/** Pure: which RuntimeClasses the WASI smoke module can prove (spin's handler runs Spin apps only). */
export function verifiable(rc: Pick<V1RuntimeClass, 'handler'>): string | null {
  return rc.handler === 'spin' ? 'the spin runtime runs Spin applications, not a plain WASI command, and kubewasm has no Spin app to run (a Spin app needs the Spin crates, which like containerd-shim-spin are not on crates.io, only git dependencies on github.com/spinframework/spin); its node readiness is checked by the installer' : null;
}

export function podName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63);
}

export async function verifyRuntimeClasses(
  kube: Kube,
  classes: readonly V1RuntimeClass[],
  options: {
    namespace?: string;
    image?: string;
    /** Also run this image (the smoke module as a wasi/wasm-platform image, SMOKE_WASI_IMAGE or its pushed reference) with each RuntimeClass. */
    wasiImage?: string;
    imagePullSecrets?: readonly string[];
    node?: string;
    timeoutMs?: number;
    keep?: boolean;
    onResult?: (r: VerifyResult) => void;
  } = {},
): Promise<VerifyResult[]> {
  const results: VerifyResult[] = [];
  const checks = classes.flatMap((rc) => [{ rc, image: options.image ?? SMOKE_IMAGE, form: undefined as string | undefined }, ...(options.wasiImage && !verifiable(rc) ? [{ rc, image: options.wasiImage, form: options.wasiImage }] : [])]);
  for (const { rc, image, form } of checks) {
    const name = rc.metadata?.name ?? '';
    const skip = verifiable(rc);
    let result: VerifyResult;
    if (skip) {
      result = { runtimeClass: name, handler: rc.handler, status: 'skipped', ok: false, skipped: skip, node: null, ms: null, message: `skipped: ${skip}` };
    } else {
      try {
        const run = await runPod(kube, smokePod({ name: podName(`kubewasm-verify-${name}`), namespace: options.namespace, image, imagePullSecrets: options.imagePullSecrets, runtimeClassName: name, node: options.node }), options);
        const printed = run.log.includes(SMOKE_LINE);
        const ok = run.phase === 'Succeeded' && printed;
        result = {
          runtimeClass: name,
          handler: rc.handler,
          status: ok ? 'passed' : 'failed',
          ok,
          skipped: null,
          node: run.node,
          ms: Math.round(run.ms),
          message: ok
            ? `printed "${SMOKE_LINE}" on ${run.node} in ${(run.ms / 1000).toFixed(1)}s`
            : run.phase === 'Succeeded'
              ? `the pod succeeded but its log is ${JSON.stringify(run.log.slice(0, 200))}, not "${SMOKE_LINE}"`
              : `the pod failed on ${run.node ?? 'no node'}: ${run.reason ?? 'no reason given'}`,
        };
      } catch (err) {
        const where = err instanceof KubewasmError ? err.where : undefined;
        result = { runtimeClass: name, handler: rc.handler, status: 'failed', ok: false, skipped: null, node: where ?? null, ms: null, message: err instanceof KubewasmError ? err.message : String(err) };
      }
      if (form) result = { ...result, image: form, message: `wasi/wasm image ${form}: ${result.message}` };
    }
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

// ---- bench ----

// The bench's result (pod level and runtime level) is defined beside the bench, in verify-bench.ts.
export type { BenchResult } from './verify-bench.js';

/** Pure: the first node where the runtime class's shim is ready. */
export function benchNode(nodes: readonly V1Node[], shim: string, wanted?: string): string | undefined {
  const ready = nodes.filter((n) => n.metadata?.labels?.[readyLabel(shim)] === READY_VALUE).map((n) => n.metadata?.name ?? '');
  if (wanted) return ready.includes(wanted) ? wanted : undefined;
  return ready.sort()[0];
}
