// Options and output shared by the cluster commands (install, uninstall,
// label, unlabel, status, verify, manifests): which cluster, which nodes, how
// long to wait, and per-node progress (listr2 on a terminal, plain lines
// otherwise).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParseArgsOptionsConfig } from 'node:util';
import type { V1Node } from '@kubernetes/client-node';
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { detectDistro } from '../lib/kube/distro.js';
import { cachedImageArchive, installerArchivePath, INSTALLER_REPOSITORY } from '../lib/installer-image/build.js';
import { chooseLoadMethod, loadEnvironment, planLoad, runLoad, type LoadMethod } from '../lib/kube/load-images.js';
import { nativeImageSpec, smokeImageSpec } from '../lib/installer-image/smoke.js';
import { UsageError } from '../lib/errors.js';
import { Kube } from '../lib/kube/client.js';
import { NAMESPACE } from '../lib/kube/names.js';
import type { NodeSelection } from '../lib/kube/nodes.js';
import type { NodeProgress } from '../lib/kube/wait.js';
import { KUBE_OPTIONS, listOption, stringOption, type CommandContext, type OptionValues } from './command.js';

export const CLUSTER_OPTIONS: ParseArgsOptionsConfig = { ...KUBE_OPTIONS };

export const CLUSTER_HELP = `Cluster:
  --kubeconfig FILE         the kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --context NAME            the kubeconfig context (default: its current context)
  -n, --namespace NS        where kubewasm's installer runs (default ${NAMESPACE})`;

export const NODE_SELECTION_OPTIONS: ParseArgsOptionsConfig = {
  selector: { type: 'string', short: 'l' },
  'all-nodes': { type: 'boolean' },
};

export const NODE_SELECTION_HELP = `Nodes:
  NODE…                     node names
  -l, --selector SELECTOR   the nodes matching a label selector (e.g. pool=wasm)
  --all-nodes               every node`;

export function kubeFromOptions(options: OptionValues): Kube {
  return Kube.connect({ kubeconfig: stringOption(options, 'kubeconfig'), context: stringOption(options, 'context') });
}

export function namespaceFromOptions(options: OptionValues): string {
  const ns = stringOption(options, 'namespace') ?? NAMESPACE;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) throw new UsageError(`'${ns}' is not a namespace name`);
  return ns;
}

export function selectionFromContext(ctx: CommandContext): NodeSelection {
  return { names: ctx.args, selector: stringOption(ctx.options, 'selector'), all: Boolean(ctx.options['all-nodes']) };
}

/** "90s", "10m", "1h" or plain seconds -> milliseconds. */
export function durationOption(options: OptionValues, name: string, fallbackMs: number): number {
  const value = stringOption(options, name);
  if (value === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`--${name} '${value}' is not a duration`, 'write e.g. 90s, 10m or 1h');
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

export function positiveInt(options: OptionValues, name: string, fallback: number): number {
  const value = stringOption(options, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive whole number, not '${value}'`);
  return n;
}

export function outputOption(options: OptionValues, allowed: readonly string[]): string {
  const output = stringOption(options, 'output') ?? allowed[0]!;
  if (!allowed.includes(output)) throw new UsageError(`unknown output format '${output}'`, `use ${allowed.map((a) => `-o ${a}`).join(', ')}`);
  return output;
}

export { listOption };

/** The kubewasm package (package.json, dist/, node_modules/) this command runs from, and its version. */
export function packageRoot(): { root: string; version: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kubewasm') return { root: dir, version: pkg.version ?? '0.0.0' };
    }
    dir = path.dirname(dir);
  }
  throw new UsageError('cannot find the kubewasm package this command runs from');
}

export function useListr(ctx: CommandContext): boolean {
  return Boolean(ctx.stderr.isTTY) && !process.env['CI'];
}

export function line(ctx: CommandContext, text: string): void {
  ctx.stderr.write(`${text}\n`);
}

/**
 * Shows one line per node while `run` waits for them: a listr2 task per node
 * on a terminal (its title follows the node's progress), a plain line per
 * change otherwise. Returns what `run` returns.
 */
export async function nodeProgressView(
  ctx: CommandContext,
  names: readonly string[],
  run: (onProgress: (name: string, p: NodeProgress) => void) => Promise<Map<string, NodeProgress>>,
): Promise<Map<string, NodeProgress>> {
  if (!useListr(ctx) || names.length === 0) {
    return run((name, p) => line(ctx, `${name}: ${p.state === 'done' ? '✓ ' : p.state === 'failed' ? '✗ ' : ''}${p.message}`));
  }
  type Task = { title: string; output: string };
  const tasks = new Map<string, Task>();
  const pending = new Map<string, { resolve: () => void; reject: (e: Error) => void; last?: NodeProgress }>();
  const settled = new Map<string, Promise<void>>();
  for (const name of names) {
    settled.set(name, new Promise<void>((resolve, reject) => pending.set(name, { resolve, reject })));
    settled.get(name)!.catch(() => {});
  }
  const show = (name: string, p: NodeProgress) => {
    const entry = pending.get(name);
    if (entry) entry.last = p;
    const task = tasks.get(name);
    if (task) task.title = `${name}: ${p.message}`;
    if (p.state === 'done') entry?.resolve();
    if (p.state === 'failed') entry?.reject(new Error(`${name}: ${p.message}`));
  };
  const stream = ctx.stderr as NodeJS.WriteStream;
  const listr = new Listr(
    names.map((name) => ({
      title: `${name}: waiting`,
      task: async (_: unknown, task: Task) => {
        tasks.set(name, task);
        const last = pending.get(name)?.last;
        if (last) task.title = `${name}: ${last.message}`;
        await settled.get(name);
      },
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }) } },
  );
  const view = listr.run().catch(() => {});
  try {
    return await run(show);
  } catch (err) {
    for (const [name, entry] of pending) entry.reject(new Error(`${name}: ${entry.last?.message ?? 'no news'} (timed out)`));
    throw err;
  } finally {
    await view;
  }
}

// ---- images into nodes (install, label) ----

/**
 * The archives kubewasm loads into nodes: the installer image's (when it is
 * one kubewasm built, from the cache) and the smoke images. `missing` names
 * an installer image kubewasm built elsewhere (not in this cache).
 */
export async function kubewasmArchives(cacheDir: string, installerImage: string | undefined): Promise<{ archives: string[]; missing?: string }> {
  const archives = [await cachedImageArchive(smokeImageSpec(), cacheDir), await cachedImageArchive(nativeImageSpec(), cacheDir)];
  if (!installerImage?.startsWith(`${INSTALLER_REPOSITORY}:`)) return { archives };
  const file = installerArchivePath(cacheDir, installerImage);
  return existsSync(file) ? { archives: [file, ...archives] } : { archives, missing: installerImage };
}

/** Loads archives into the named nodes the way `--load` says (auto: kind, k3d, docker, this machine); returns the method. */
export async function loadIntoNodes(ctx: CommandContext, allNodes: readonly V1Node[], names: readonly string[], archives: readonly string[], requested: LoadMethod | 'auto'): Promise<LoadMethod> {
  const distro = detectDistro(allNodes);
  const env = await loadEnvironment();
  const method = chooseLoadMethod(requested, distro, names, env);
  if (method === 'none' || names.length === 0) return method;
  const t = Date.now();
  await runLoad(planLoad(method, distro, names, archives, env), (step, state, ms) => {
    if (state === 'done') line(ctx, `loaded ${path.basename(step.stdinFile ?? step.argv.find((a) => a.endsWith('.tar')) ?? 'images')} into ${step.target} (${((ms ?? 0) / 1000).toFixed(1)}s)`);
  });
  line(ctx, `images loaded into ${names.join(', ')} with ${method} in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  return method;
}
