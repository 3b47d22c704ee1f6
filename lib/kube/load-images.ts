// Getting image archives into the nodes' containerd where the cluster cannot
// pull them: kind (`kind load image-archive`), k3d (`k3d image import`),
// nodes that are docker containers (`docker exec -i NODE ctr -n k8s.io images
// import -`: the lab, and kind/k3d without their CLIs), or this machine's
// containerd (`ctr -n k8s.io images import`). The decision is pure
// (planLoad); runLoad performs it. Removal (uninstall) uses the same ways.
import { createReadStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { KubewasmError, UsageError } from '../errors.js';
import type { Distro } from './distro.js';

export type LoadMethod = 'kind' | 'k3d' | 'docker' | 'ctr' | 'none';
export const LOAD_METHODS: readonly (LoadMethod | 'auto')[] = ['auto', 'kind', 'k3d', 'docker', 'ctr', 'none'];

export interface LoadStep {
  /** For progress lines: "node-1", "kind cluster 'dev'". */
  target: string;
  argv: string[];
  /** A file to pipe into the command's stdin. */
  stdinFile?: string;
}

export interface LoadEnvironment {
  /** Programs on this machine's PATH (kind, k3d, docker, ctr). */
  programs: ReadonlySet<string>;
  /** Running docker containers: node hostname -> container name. */
  dockerNodes: ReadonlyMap<string, string>;
  /** This machine's hostname. */
  hostname: string;
}

export function parseLoadMethod(value: string | undefined): LoadMethod | 'auto' {
  const v = value ?? 'auto';
  if (!(LOAD_METHODS as string[]).includes(v)) throw new UsageError(`unknown --load '${v}'`, `choose one of: ${LOAD_METHODS.join(', ')}`);
  return v as LoadMethod | 'auto';
}

/** Pure: which way to load into `nodes`, given the distribution and what this machine has. */
export function chooseLoadMethod(requested: LoadMethod | 'auto', distro: Distro, nodes: readonly string[], env: LoadEnvironment): LoadMethod {
  if (requested !== 'auto') return requested;
  if (nodes.length === 0) return 'none';
  if (distro.kind === 'kind' && env.programs.has('kind')) return 'kind';
  if (distro.kind === 'k3d' && env.programs.has('k3d')) return 'k3d';
  if (env.programs.has('docker') && nodes.every((n) => env.dockerNodes.has(n))) return 'docker';
  if (env.programs.has('ctr') && nodes.every((n) => n === env.hostname)) return 'ctr';
  throw new KubewasmError({
    what: `kubewasm cannot load images into node(s) ${nodes.filter((n) => !env.dockerNodes.has(n)).join(', ')}: they are not kind/k3d nodes, docker containers on this machine, or this machine`,
    fix: 'push the installer image to a registry the nodes pull from and pass --image REF (kubewasm image build -o FILE writes the archive), or choose --load docker|ctr',
  });
}

/** Pure: the commands that import `archives` into `nodes`. */
export function planLoad(method: LoadMethod, distro: Distro, nodes: readonly string[], archives: readonly string[], env: Pick<LoadEnvironment, 'dockerNodes'>): LoadStep[] {
  switch (method) {
    case 'none':
      return [];
    case 'kind': {
      const cluster = distro.kind === 'kind' ? distro.cluster : 'kind';
      return archives.map((file) => ({ target: `kind cluster '${cluster}'`, argv: ['kind', 'load', 'image-archive', file, '--name', cluster, '--nodes', nodes.join(',')] }));
    }
    case 'k3d': {
      const cluster = distro.kind === 'k3d' ? distro.cluster : 'k3s-default';
      return [{ target: `k3d cluster '${cluster}'`, argv: ['k3d', 'image', 'import', ...archives, '--cluster', cluster] }];
    }
    case 'docker':
      return nodes.flatMap((node) =>
        archives.map((file) => ({ target: node, argv: ['docker', 'exec', '-i', env.dockerNodes.get(node) ?? node, 'ctr', '-n', 'k8s.io', 'images', 'import', '-'], stdinFile: file })),
      );
    case 'ctr':
      return archives.map((file) => ({ target: 'this machine', argv: ['ctr', '-n', 'k8s.io', 'images', 'import', file] }));
  }
}

/** Images kubewasm loads into nodes (uninstall removes every tag of them). */
export const KUBEWASM_IMAGE_PATTERN = '^kubewasm\\.io/(node-installer|smoke):';

/**
 * Pure: the commands that remove kubewasm's images (every tag matching
 * KUBEWASM_IMAGE_PATTERN) from the nodes again. kind and k3d nodes are docker
 * containers, so `docker exec` reaches them too.
 */
export function planRemove(method: LoadMethod, nodes: readonly string[], env: Pick<LoadEnvironment, 'dockerNodes'>): LoadStep[] {
  const script = `ctr -n k8s.io images ls -q | grep -E '${KUBEWASM_IMAGE_PATTERN}' | xargs -r ctr -n k8s.io images rm --sync`;
  switch (method) {
    case 'none':
      return [];
    case 'ctr':
      return [{ target: 'this machine', argv: ['sh', '-c', script] }];
    default:
      return nodes.map((node) => ({ target: node, argv: ['docker', 'exec', env.dockerNodes.get(node) ?? node, 'sh', '-c', script] }));
  }
}

/** What this machine offers for loading: programs and docker containers that are nodes. */
export async function loadEnvironment(): Promise<LoadEnvironment> {
  const { hostname } = await import('node:os');
  const programs = new Set<string>();
  for (const p of ['kind', 'k3d', 'docker', 'ctr']) if ((await capture(['sh', '-c', `command -v ${p}`])).code === 0) programs.add(p);
  const dockerNodes = new Map<string, string>();
  if (programs.has('docker')) {
    const ps = await capture(['docker', 'ps', '--format', '{{.Names}}']);
    const names = ps.code === 0 ? ps.stdout.split('\n').map((s) => s.trim()).filter(Boolean) : [];
    if (names.length) {
      const inspect = await capture(['docker', 'inspect', '--format', '{{.Name}} {{.Config.Hostname}}', ...names]);
      for (const line of inspect.stdout.split('\n')) {
        const [name, host] = line.trim().replace(/^\//, '').split(/\s+/);
        if (name && host) dockerNodes.set(host, name);
        if (name && !dockerNodes.has(name)) dockerNodes.set(name, name);
      }
    }
  }
  return { programs, dockerNodes, hostname: hostname() };
}

/** Runs the steps, `parallel` at a time; the first failure is thrown with the command's output. */
export async function runLoad(steps: readonly LoadStep[], onStep: (step: LoadStep, state: 'start' | 'done', ms?: number) => void = () => {}, parallel = 2): Promise<void> {
  const queue = [...steps];
  const worker = async () => {
    for (let step = queue.shift(); step; step = queue.shift()) {
      const t0 = Date.now();
      onStep(step, 'start');
      const result = await capture(step.argv, step.stdinFile);
      if (result.code !== 0) {
        throw new KubewasmError({
          what: `'${step.argv.join(' ')}' failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`,
          where: step.target,
          fix: result.code === 127 ? `install ${step.argv[0]}, or choose another --load` : 'check that the node runs and its containerd answers; or push the image to a registry and use --image',
        });
      }
      onStep(step, 'done', Date.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, steps.length)) }, worker));
}

function capture(argv: string[], stdinFile?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code === 'ENOENT' ? 127 : 126, stdout: '', stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    if (stdinFile && child.stdin) {
      child.stdin.on('error', () => {});
      createReadStream(stdinFile).on('error', (e) => child.stdin?.destroy(e)).pipe(child.stdin);
    }
  });
}
