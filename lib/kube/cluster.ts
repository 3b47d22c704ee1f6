// Cluster bootstrap (`kubewasm cluster create | delete`): make a cluster with its
// own CLI (kind, k3d, or the lab's script), make it Wasm-capable (the install
// flow, on the nodes that take pods), prove it (verify), and summarize. On
// failure, the cluster's logs go into a folder the error names. The commands
// each provider runs are pure plans (./cluster-plan.ts); this file acts on them.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { KubewasmError } from '../errors.js';
import type { ExecResult } from '../host/host.js';
import { Kube } from './client.js';
import { clusterContext, createPlan, deletePlan, logPlan, nodesPlan, type ClusterProvider, type ClusterSpec, type Step } from './cluster-plan.js';
import { install, type ClusterEvent as InstallEvent, type InstallOptions } from './install.js';
import { API_VERSION, INSTALLER, NAMESPACE } from './names.js';
import { kubewasmRuntimeClasses } from './objects.js';
import { readStatus } from './status.js';
import { verifyRuntimeClasses, type VerifyResult } from './verify.js';

/** Nodes that take pods: kind's and kubeadm's control plane keeps its NoSchedule taint and gets no shim. */
export const WORKER_SELECTOR = '!node-role.kubernetes.io/control-plane';

export type BootstrapEvent =
  | { type: 'step'; what: string }
  | { type: 'install'; event: InstallEvent }
  | { type: 'done'; what: string; ms: number }
  | { type: 'output'; what: string; line: string }
  | { type: 'verify'; result: VerifyResult };

export interface ClusterSummary {
  apiVersion: typeof API_VERSION;
  kind: 'ClusterCreate';
  cluster: { provider: ClusterProvider; name: string; kubeconfig: string; context: string; server: string };
  nodes: Array<{ name: string; roles: string[]; kubelet: string | null; containerRuntime: string | null; wasm: boolean }>;
  shims: Array<{ node: string; name: string; version: string | null; sha256: string | null; ready: boolean }>;
  verify: { ok: boolean; results: VerifyResult[] };
  timings: { createMs: number; installMs: number; verifyMs: number; totalMs: number };
}

export type StepRunner = (step: Step, onLine?: (line: string) => void) => Promise<ExecResult>;

/** What install needs beyond the cluster: the shims and where they come from (the command's flags). */
export type InstallInputs = Omit<InstallOptions, 'namespace' | 'selection' | 'verify' | 'dryRun' | 'timeoutMs'>;

export interface CreateDeps {
  /** The install flow's inputs; cluster create opts in the nodes that take pods and verifies itself. */
  install: InstallInputs;
  /** Where logs go when something fails. */
  logsDir: string;
  onEvent?: (e: BootstrapEvent) => void;
  /** Per verify pod. */
  verifyTimeoutMs?: number;
  /** Runs a step (default: the real CLIs on PATH, their output streamed line by line). */
  run?: StepRunner;
}

/** Creates the cluster, installs, verifies; on any failure collects logs, deletes the cluster and throws. */
export async function createCluster(spec: ClusterSpec, deps: CreateDeps): Promise<ClusterSummary> {
  const emit = deps.onEvent ?? (() => {});
  const run: StepRunner = deps.run ?? runStep;
  const t0 = Date.now();
  const timings = { createMs: 0, installMs: 0, verifyMs: 0, totalMs: 0 };
  const context = clusterContext(spec);
  let phase = 'create';
  try {
    for (const step of createPlan(spec)) await mustRun(step, run, emit);
    timings.createMs = Date.now() - t0;

    phase = 'install';
    const t1 = Date.now();
    emit({ type: 'step', what: 'kubewasm install' });
    const kube = Kube.connect({ kubeconfig: spec.kubeconfig, context });
    const installed = await install(
      kube,
      { ...deps.install, namespace: NAMESPACE, selection: { names: [], selector: WORKER_SELECTOR, all: false }, verify: false, dryRun: false, timeoutMs: spec.waitMs },
      (event) => emit({ type: 'install', event }),
    );
    if (!installed) throw new KubewasmError({ what: 'kubewasm install did not finish' });
    timings.installMs = Date.now() - t1;
    emit({ type: 'done', what: 'kubewasm install', ms: timings.installMs });

    phase = 'verify';
    const t2 = Date.now();
    emit({ type: 'step', what: 'kubewasm verify' });
    const classes = await kubewasmRuntimeClasses(kube);
    const results = await verifyRuntimeClasses(kube, classes, { timeoutMs: deps.verifyTimeoutMs ?? 120_000, onResult: (result) => emit({ type: 'verify', result }) });
    timings.verifyMs = Date.now() - t2;
    const ok = results.some((r) => r.ok) && results.every((r) => r.ok || r.status === 'skipped');
    if (!ok) throw new KubewasmError({ what: `kubewasm verify failed on ${spec.provider} cluster '${spec.name}': ${results.filter((r) => !r.ok).map((r) => `${r.runtimeClass}: ${r.message}`).join('; ') || 'no RuntimeClass ran'}` });
    emit({ type: 'done', what: 'kubewasm verify', ms: timings.verifyMs });

    const summary = await summarize(spec, kube, context, results);
    timings.totalMs = Date.now() - t0;
    return { ...summary, timings };
  } catch (err) {
    const dir = await collectLogs(spec, deps.logsDir, { run, emit, context, failure: err });
    await deleteCluster(spec, { run, onEvent: emit }).catch(() => {});
    const cause = err instanceof KubewasmError ? err : undefined;
    throw new KubewasmError({
      what: `${phase === 'create' ? '' : `kubewasm ${phase} on `}${spec.provider} cluster '${spec.name}' failed${phase === 'create' ? ' to be created' : ''}: ${cause?.what ?? (err as Error).message}`,
      where: dir,
      fix: `read the logs in ${dir} (failure.txt first); the cluster was deleted`,
      cause: err,
    });
  }
}

export async function deleteCluster(spec: ClusterSpec, deps: { run?: StepRunner; onEvent?: (e: BootstrapEvent) => void } = {}): Promise<void> {
  const emit = deps.onEvent ?? (() => {});
  for (const step of deletePlan(spec)) await mustRun(step, deps.run ?? runStep, emit);
}

async function summarize(spec: ClusterSpec, kube: Kube, context: string, results: VerifyResult[]): Promise<Omit<ClusterSummary, 'timings'>> {
  const [nodes, status] = await Promise.all([kube.listNodes(), readStatus(kube, NAMESPACE)]);
  const byName = new Map(status.nodes.map((n) => [n.name, n]));
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterCreate',
    cluster: { provider: spec.provider, name: spec.name, kubeconfig: spec.kubeconfig, context, server: kube.server },
    nodes: nodes.map((n) => {
      const name = n.metadata?.name ?? '';
      const roles = Object.keys(n.metadata?.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
      return { name, roles, kubelet: n.status?.nodeInfo?.kubeletVersion ?? null, containerRuntime: n.status?.nodeInfo?.containerRuntimeVersion ?? null, wasm: (byName.get(name)?.shims ?? []).some((s) => s.ready) };
    }),
    shims: status.nodes.flatMap((n) => n.shims.map((s) => ({ node: n.name, name: s.name, version: s.version, sha256: s.sha256, ready: s.ready }))),
    verify: { ok: true, results },
  };
}

/** Best effort: every step runs even when one fails; returns the folder. */
async function collectLogs(spec: ClusterSpec, dir: string, ctx: { run: StepRunner; emit: (e: BootstrapEvent) => void; context: string; failure: unknown }): Promise<string> {
  await mkdir(dir, { recursive: true });
  ctx.emit({ type: 'step', what: `collecting logs into ${dir}` });
  const failure = ctx.failure instanceof KubewasmError ? `${ctx.failure.message}\n${describeCause(ctx.failure.cause)}` : String((ctx.failure as Error)?.stack ?? ctx.failure);
  await writeFile(path.join(dir, 'failure.txt'), `${failure}\n`);
  const listed = await ctx.run(nodesPlan(spec)).catch(() => undefined);
  const nodes = listed?.code === 0 ? listed.stdout.split('\n').map((s) => s.trim()).filter((s) => s && !s.startsWith('No kind nodes')) : [];
  const notes: string[] = [];
  for (const step of logPlan(spec, dir, nodes)) {
    const r = await ctx.run(step).catch((e: Error) => ({ code: 1, stdout: '', stderr: e.message }));
    if (step.stdoutFile) {
      await mkdir(path.dirname(step.stdoutFile), { recursive: true });
      await writeFile(step.stdoutFile, r.stdout + r.stderr);
    }
    notes.push(`${r.code === 0 ? 'ok' : `exit ${r.code}`}: ${step.argv.join(' ')}${r.code === 0 ? '' : ` (${r.stderr.trim().split('\n').slice(-1)[0] ?? ''})`}`);
  }
  notes.push(...(await installerPodLogs(spec, dir, ctx.context)));
  await writeFile(path.join(dir, 'collected.txt'), `${notes.join('\n')}\n`);
  return dir;
}

/** The node installer pods' logs, when the API answers. */
async function installerPodLogs(spec: ClusterSpec, dir: string, context: string): Promise<string[]> {
  try {
    const kube = Kube.connect({ kubeconfig: spec.kubeconfig, context });
    const pods = await kube.listPods({ namespace: NAMESPACE, labelSelector: `app.kubernetes.io/name=${INSTALLER}` });
    const notes: string[] = [];
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      const log = await kube.call(`read log of pod ${name}`, () => kube.core.readNamespacedPodLog({ name, namespace: NAMESPACE }), { timeoutMs: 10_000 }).catch((e: Error) => `(could not read: ${e.message})`);
      await mkdir(path.join(dir, 'installer'), { recursive: true });
      await writeFile(path.join(dir, 'installer', `${name}.log`), String(log));
      notes.push(`ok: installer pod ${name} (node ${pod.spec?.nodeName ?? '?'})`);
    }
    return notes.length ? notes : ['no installer pods'];
  } catch (e) {
    return [`installer pod logs: not read (${(e as Error).message.split('\n')[0]})`];
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : cause === undefined ? '' : String(cause);
}

async function mustRun(step: Step, run: StepRunner, emit: (e: BootstrapEvent) => void): Promise<void> {
  const t = Date.now();
  emit({ type: 'step', what: step.what });
  const r = await run(step, (line) => emit({ type: 'output', what: step.what, line }));
  if (r.code !== 0) {
    const tail = `${r.stderr || r.stdout}`.trim().split('\n').slice(-4).join(' | ');
    throw new KubewasmError({
      what: `'${step.argv.join(' ')}' failed (exit ${r.code})${tail ? `: ${tail}` : ''}`,
      fix: r.code === 127 ? `install ${step.argv[0]} (its CLI must be on PATH)` : undefined,
      // The whole output, for failure.txt in the logs folder.
      cause: new Error(`output of ${step.argv.join(' ')}:\n${r.stdout}${r.stderr}`),
    });
  }
  emit({ type: 'done', what: step.what, ms: Date.now() - t });
}

/** Runs the step's program; never throws for a non-zero exit (127: not on PATH). */
export function runStep(step: Step, onLine: (line: string) => void = () => {}): Promise<ExecResult> {
  const [command, ...args] = step.argv;
  return new Promise((resolve) => {
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: string[] = [];
    const err: string[] = [];
    const lines = (sink: string[]) => {
      let rest = '';
      return (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        sink.push(text);
        const parts = (rest + text).split('\n');
        rest = parts.pop() ?? '';
        for (const l of parts) if (l.trim()) onLine(l);
      };
    };
    child.stdout.on('data', lines(out));
    child.stderr.on('data', lines(err));
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code === 'ENOENT' ? 127 : 126, stdout: '', stderr: `${command}: ${e.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 128, stdout: out.join(''), stderr: err.join('') }));
  });
}
