// Cluster bootstrap (`kubewasm cluster create | delete`): make a cluster with its
// own CLI (kind, k3d, or the lab's script), make it Wasm-capable (install, which
// the command passes in), prove it (verify), and summarize. On failure, the
// cluster's logs go into a folder the error names. The commands each provider
// runs are pure plans (argv lists); createCluster and friends act on them.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KubewasmError, UsageError } from '../errors.js';
import { spawn } from 'node:child_process';
import type { ExecResult } from '../host/host.js';
import { Kube } from './client.js';
import { INSTALLER, NAMESPACE, API_VERSION } from './names.js';
import { kubewasmRuntimeClasses } from './objects.js';
import { readStatus } from './status.js';
import { verifyRuntimeClasses, type VerifyResult } from './verify.js';

export const CLUSTER_PROVIDERS = ['kind', 'k3d', 'lab'] as const;
export type ClusterProvider = (typeof CLUSTER_PROVIDERS)[number];

export interface ClusterSpec {
  provider: ClusterProvider;
  /** kind/k3d cluster name (kind's default: "kind"). */
  name: string;
  /** The provider's config file (kind: kind-config.yaml). */
  config?: string;
  /** Node image (kind --image, k3d --image). */
  image?: string;
  /** The kubeconfig file the provider writes the cluster's context into. */
  kubeconfig: string;
  /** How long the provider may wait for its control plane. */
  waitMs: number;
  /** The lab's script (provider lab): scripts/lab/lab in a kubewasm clone. */
  labScript?: string;
}

export interface Step {
  what: string;
  argv: string[];
  /** Write the command's stdout to this file (log collection). */
  stdoutFile?: string;
}

export function parseProvider(value: string | undefined): ClusterProvider {
  const v = value ?? 'kind';
  if (!(CLUSTER_PROVIDERS as readonly string[]).includes(v)) throw new UsageError(`unknown --provider '${v}'`, `choose one of: ${CLUSTER_PROVIDERS.join(', ')}`);
  return v as ClusterProvider;
}

/** The kubeconfig context the provider names its cluster by. */
export function clusterContext(spec: Pick<ClusterSpec, 'provider' | 'name'>): string {
  switch (spec.provider) {
    case 'kind':
      return `kind-${spec.name}`;
    case 'k3d':
      return `k3d-${spec.name}`;
    case 'lab':
      return 'kubewasm-lab';
  }
}

const seconds = (ms: number) => `${Math.max(1, Math.ceil(ms / 1000))}s`;

/** Pure: the commands that create the cluster and write its kubeconfig. */
export function createPlan(spec: ClusterSpec): Step[] {
  switch (spec.provider) {
    case 'kind':
      // --retain: a failed create keeps its nodes until kubewasm has exported their logs.
      return [
        {
          what: `kind create cluster '${spec.name}'`,
          argv: ['kind', 'create', 'cluster', '--name', spec.name, '--kubeconfig', spec.kubeconfig, '--retain', '--wait', seconds(spec.waitMs),
            ...(spec.config ? ['--config', spec.config] : []), ...(spec.image ? ['--image', spec.image] : [])],
        },
      ];
    case 'k3d':
      return [
        {
          what: `k3d cluster create '${spec.name}'`,
          argv: ['k3d', 'cluster', 'create', spec.name, '--wait', '--timeout', seconds(spec.waitMs), '--kubeconfig-update-default=false', '--kubeconfig-switch-context=false',
            ...(spec.config ? ['--config', spec.config] : []), ...(spec.image ? ['--image', spec.image] : [])],
        },
        { what: `k3d kubeconfig write '${spec.name}'`, argv: ['k3d', 'kubeconfig', 'write', spec.name, '--output', spec.kubeconfig] },
      ];
    case 'lab':
      return [{ what: 'lab up', argv: [labScript(spec), 'up'] }];
  }
}

/** Pure: the commands that delete the cluster. */
export function deletePlan(spec: ClusterSpec): Step[] {
  switch (spec.provider) {
    case 'kind':
      return [{ what: `kind delete cluster '${spec.name}'`, argv: ['kind', 'delete', 'cluster', '--name', spec.name, '--kubeconfig', spec.kubeconfig] }];
    case 'k3d':
      return [{ what: `k3d cluster delete '${spec.name}'`, argv: ['k3d', 'cluster', 'delete', spec.name] }];
    case 'lab':
      return [{ what: 'lab down', argv: [labScript(spec), 'down'] }];
  }
}

/** Pure: the commands that list the cluster's node containers. */
export function nodesPlan(spec: ClusterSpec): Step {
  switch (spec.provider) {
    case 'kind':
      return { what: 'kind get nodes', argv: ['kind', 'get', 'nodes', '--name', spec.name] };
    case 'k3d':
      return { what: 'docker ps (k3d nodes)', argv: ['docker', 'ps', '-a', '--filter', `label=k3d.cluster=${spec.name}`, '--format', '{{.Names}}'] };
    case 'lab':
      return { what: 'docker ps (lab nodes)', argv: ['docker', 'ps', '-a', '--filter', 'label=io.kubewasm.lab.node', '--format', '{{.Names}}'] };
  }
}

/**
 * Pure: the commands that collect the cluster's logs into `dir`: kind's own
 * export (every node's journal, kubelet and containerd logs, pod logs) and
 * each node container's containerd journal (k3s has no journal: its log).
 */
export function logPlan(spec: ClusterSpec, dir: string, nodes: readonly string[]): Step[] {
  const steps: Step[] = [];
  if (spec.provider === 'kind') steps.push({ what: 'kind export logs', argv: ['kind', 'export', 'logs', path.join(dir, 'kind'), '--name', spec.name] });
  for (const node of nodes) {
    steps.push(
      spec.provider === 'k3d'
        ? { what: `${node}: k3s log`, argv: ['docker', 'logs', node], stdoutFile: path.join(dir, 'nodes', node, 'k3s.log') }
        : { what: `${node}: containerd journal`, argv: ['docker', 'exec', node, 'journalctl', '-u', 'containerd', '--no-pager', '-o', 'short-precise'], stdoutFile: path.join(dir, 'nodes', node, 'containerd.journal') },
    );
  }
  return steps;
}

function labScript(spec: ClusterSpec): string {
  if (!spec.labScript) throw new UsageError('--provider lab needs a kubewasm clone (scripts/lab/lab)', 'run kubewasm from a clone of its repository, or use --provider kind');
  return spec.labScript;
}

// ---- acting ----

export type ClusterEvent =
  | { type: 'step'; what: string }
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

export interface CreateDeps {
  /** Makes the cluster Wasm-capable (kubewasm install on it), throwing on failure. */
  install: (target: { kubeconfig: string; context: string }) => Promise<void>;
  /** Where logs go when something fails. */
  logsDir: string;
  onEvent?: (e: ClusterEvent) => void;
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
    await deps.install({ kubeconfig: spec.kubeconfig, context });
    timings.installMs = Date.now() - t1;
    emit({ type: 'done', what: 'kubewasm install', ms: timings.installMs });

    phase = 'verify';
    const t2 = Date.now();
    emit({ type: 'step', what: 'kubewasm verify' });
    const kube = Kube.connect({ kubeconfig: spec.kubeconfig, context });
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

export async function deleteCluster(spec: ClusterSpec, deps: { run?: StepRunner; onEvent?: (e: ClusterEvent) => void } = {}): Promise<void> {
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
async function collectLogs(spec: ClusterSpec, dir: string, ctx: { run: StepRunner; emit: (e: ClusterEvent) => void; context: string; failure: unknown }): Promise<string> {
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
  return cause instanceof Error ? (cause.stack ?? cause.message) : cause === undefined ? '' : String(cause);
}

async function mustRun(step: Step, run: StepRunner, emit: (e: ClusterEvent) => void): Promise<void> {
  const t = Date.now();
  emit({ type: 'step', what: step.what });
  const r = await run(step, (line) => emit({ type: 'output', what: step.what, line }));
  if (r.code !== 0) {
    const tail = `${r.stderr || r.stdout}`.trim().split('\n').slice(-4).join(' | ');
    throw new KubewasmError({
      what: `'${step.argv.join(' ')}' failed (exit ${r.code})${tail ? `: ${tail}` : ''}`,
      fix: r.code === 127 ? `install ${step.argv[0]} (its CLI must be on PATH)` : undefined,
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
