// `verify --bench`: the same small job as a Wasm pod and as a runc pod, N
// times each on one node, alternating, after one unmeasured warm-up of each.
// Two figures per run:
// - the pod level: create request -> Succeeded seen by a watch (what a user
//   waits for; it moves with the kubelet's status writes, ~1-2 s);
// - the runtime level: containerd's own create -> start -> exit timestamps,
//   read through CRI (`crictl inspect`, nanoseconds) on the node. Any cluster:
//   kubewasm's installer pod runs on that node with the host's PID namespace,
//   so an exec into it runs the node's own crictl (`nsenter -t 1 -m`). Without
//   that (no installer pod, no pods/exec right, no crictl on the node) the
//   bench falls back to the pod status's startedAt/finishedAt (whole seconds)
//   and says why.
import { Writable } from 'node:stream';
import { Exec, type V1Node, type V1Pod, type V1RuntimeClass, type V1Status } from '@kubernetes/client-node';
import { KubewasmError } from '../errors.js';
import { NATIVE_IMAGE, NATIVE_LINE, SMOKE_IMAGE, SMOKE_LINE } from '../installer-image/smoke.js';
import type { Kube } from './client.js';
import { INSTALLER, NAMESPACE } from './names.js';
import { containerId, criSample, podStatusSample, runtimeTimes, summarize, type RuntimeSample, type RuntimeTimes, type Summary } from './verify-bench-times.js';
import { podName, runPod, smokePod } from './verify.js';

export interface BenchResult {
  node: string;
  /** The node's container runtime as it reports it (nodeInfo.containerRuntimeVersion, e.g. containerd://2.2.9). */
  containerRuntime: string | null;
  runtimeClass: string;
  /** Pod level: create request -> Succeeded seen (ms). */
  wasm: Summary;
  runc: Summary;
  samples: { wasm: number[]; runc: number[] };
  /** Runtime level: create -> start -> exit from containerd's timestamps (or the pod status's, at 1 s). */
  runtime: RuntimeTimes;
}

/** The node's crictl, whatever its endpoint is called (crictl.yaml, plain containerd, k3s, microk8s). */
const CRICTL_INSPECT = `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
if command -v crictl >/dev/null 2>&1; then
  crictl inspect -o json "$1" 2>/dev/null && exit 0
  for e in unix:///run/containerd/containerd.sock unix:///run/k3s/containerd/containerd.sock unix:///var/snap/microk8s/common/run/containerd.sock; do
    crictl --runtime-endpoint "$e" inspect -o json "$1" 2>/dev/null && exit 0
  done
  echo "crictl on this node could not inspect container $1" >&2; exit 3
fi
command -v k3s >/dev/null 2>&1 && k3s crictl inspect -o json "$1" 2>/dev/null && exit 0
echo "no crictl on this node" >&2; exit 127`;

/** Runs argv in a pod's container; stdout, stderr and the exit code. */
export async function execInPod(kube: Kube, namespace: string, pod: string, container: string, argv: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) => new Writable({ write: (chunk: Buffer, _enc, done) => void (add(chunk.toString()), done()) });
  return new Promise((resolve, reject) => {
    let socket: { close(): void } | undefined;
    const timer = setTimeout(() => {
      socket?.close();
      reject(new Error(`exec in pod ${namespace}/${pod} did not finish within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    const done = (status: V1Status) => {
      clearTimeout(timer);
      const exit = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
      resolve({ code: status.status === 'Success' ? 0 : Number(exit ?? 1), stdout, stderr: stderr || (status.status === 'Success' ? '' : (status.message ?? '')) });
    };
    new Exec(kube.kc)
      .exec(namespace, pod, container, argv, sink((s) => (stdout += s)), sink((s) => (stderr += s)), null, false, done)
      .then((ws) => (socket = ws))
      .catch((err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
  });
}

type Inspect = (id: string) => Promise<RuntimeSample>;

/** crictl inspect on `node`, through kubewasm's installer pod there; or why it cannot be had. */
async function criOn(kube: Kube, namespace: string, node: string): Promise<{ inspect: Inspect; via: string } | { why: string }> {
  let pods: V1Pod[];
  try {
    pods = await kube.listPods({ namespace, labelSelector: `app.kubernetes.io/name=${INSTALLER}`, fieldSelector: `spec.nodeName=${node}` });
  } catch (err) {
    return { why: `the installer pods could not be listed (${(err as Error).message})` };
  }
  const pod = pods.find((p) => p.status?.phase === 'Running')?.metadata?.name;
  if (!pod) return { why: `no running kubewasm installer pod on ${node} to read containerd's timestamps through` };
  const inspect: Inspect = async (id) => {
    const r = await execInPod(kube, namespace, pod, 'installer', ['nsenter', '-t', '1', '-m', '--', '/bin/sh', '-c', CRICTL_INSPECT, 'sh', id], 30_000);
    if (r.code !== 0) throw new Error(`crictl inspect on ${node} (exit ${r.code}): ${r.stderr.trim().slice(0, 300)}`);
    return criSample(r.stdout);
  };
  return { inspect, via: `crictl inspect on ${node}, run through installer pod ${pod}` };
}

export async function benchWithRuntime(
  kube: Kube,
  options: { namespace?: string; runtimeClass: V1RuntimeClass; node: string; runs: number; wasmImage?: string; runcImage?: string; timeoutMs?: number; onRun?: (kind: 'wasm' | 'runc', i: number, ms: number) => void },
): Promise<BenchResult> {
  const namespace = options.namespace ?? NAMESPACE;
  const rcName = options.runtimeClass.metadata?.name ?? '';
  let cri = await criOn(kube, namespace, options.node);
  const once = async (kind: 'wasm' | 'runc'): Promise<{ ms: number; runtime: RuntimeSample }> => {
    const pod = smokePod({ name: podName(`kubewasm-bench-${kind}`), namespace, image: kind === 'wasm' ? (options.wasmImage ?? SMOKE_IMAGE) : (options.runcImage ?? NATIVE_IMAGE), runtimeClassName: kind === 'wasm' ? rcName : undefined, node: options.node });
    const name = pod.metadata!.name!;
    try {
      const run = await runPod(kube, pod, { timeoutMs: options.timeoutMs ?? 120_000, keep: true });
      const line = kind === 'wasm' ? SMOKE_LINE : NATIVE_LINE;
      if (run.phase !== 'Succeeded' || !run.log.includes(line)) {
        throw new KubewasmError({ what: `the ${kind} bench pod did not print "${line}" (${run.phase}: ${run.reason ?? JSON.stringify(run.log.slice(0, 120))})`, where: options.node, fix: 'run kubewasm verify first; the bench needs the smoke images on the node (kubewasm install loads them)' });
      }
      // The container is still there (the pod is kept until now): its status, then containerd's own record of it.
      const final = await kube.read<V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } });
      const id = containerId(final);
      let runtime: RuntimeSample | undefined;
      if ('inspect' in cri) {
        try {
          if (!id) throw new Error(`the status of pod ${name} names no container (${final?.status?.containerStatuses?.[0]?.containerID ?? 'none'})`);
          runtime = await cri.inspect(id);
        } catch (err) {
          // Only the first read may fail over to the pod status (the warm-up); later ones are errors.
          if (!runtimeSeen) cri = { why: (err as Error).message };
          else throw new KubewasmError({ what: `reading containerd's timestamps of bench pod ${name} failed: ${(err as Error).message}`, where: options.node, fix: 'run again; kubectl -n ' + namespace + ' get pods shows the installer pod on that node' });
        }
      }
      runtime ??= podStatusSample(final);
      if (!runtime) throw new KubewasmError({ what: `bench pod ${name} succeeded but its status has no start and finish times`, where: options.node, fix: 'run again' });
      runtimeSeen = true;
      return { ms: run.ms, runtime };
    } finally {
      await kube.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } }, { gracePeriodSeconds: 0 }).catch(() => false);
    }
  };
  let runtimeSeen = false;
  await once('wasm');
  await once('runc');
  const samples = { wasm: [] as number[], runc: [] as number[] };
  const runtime = { wasm: [] as RuntimeSample[], runc: [] as RuntimeSample[] };
  for (let i = 0; i < options.runs; i++) {
    for (const kind of ['wasm', 'runc'] as const) {
      const r = await once(kind);
      samples[kind].push(r.ms);
      runtime[kind].push(r.runtime);
      options.onRun?.(kind, i, r.ms);
    }
  }
  const nodeObject: V1Node | undefined = await kube.readNode(options.node).catch(() => undefined);
  return {
    node: options.node,
    containerRuntime: nodeObject?.status?.nodeInfo?.containerRuntimeVersion ?? null,
    runtimeClass: rcName,
    wasm: summarize(samples.wasm),
    runc: summarize(samples.runc),
    samples,
    runtime: runtimeTimes('inspect' in cri ? 'cri' : 'pod-status', 'inspect' in cri ? cri.via : cri.why, runtime),
  };
}
