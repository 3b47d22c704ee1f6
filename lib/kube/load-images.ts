// Getting image archives into the nodes' containerd where the cluster cannot
// pull them: kind (`kind load image-archive`), k3d (`k3d image import`),
// nodes that are docker containers (`ctr -n k8s.io images import -` in the
// container, the archive streamed to its stdin through the Docker API: the
// lab, and kind/k3d without their CLIs), or this machine's containerd
// (`ctr -n k8s.io images import`). The decision is pure (planLoad); runLoad
// performs it. Removal (uninstall) uses the same ways.
import { createReadStream, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { KubewasmError, UsageError } from '../errors.js';
import type { DockerApi } from '../host/docker-api.js';
import { cachedImageArchive, installerArchivePath, INSTALLER_REPOSITORY } from '../installer-image/build.js';
import { NATIVE_IMAGE, nativeImageSpec, SMOKE_IMAGE, smokeImageSpec } from '../installer-image/smoke.js';
import { detectDistro, type Distro, type NodeIdentity } from './distro.js';

export type LoadMethod = 'kind' | 'k3d' | 'docker' | 'ctr' | 'none';
export const LOAD_METHODS: readonly (LoadMethod | 'auto')[] = ['auto', 'kind', 'k3d', 'docker', 'ctr', 'none'];

export interface LoadStep {
  /** For progress lines: "node-1", "kind cluster 'dev'". */
  target: string;
  /** Run here, or in `container` through the Docker API. */
  argv: string[];
  /** The node container (id or name) the command runs in. */
  container?: string;
  /** A file streamed into the command's stdin. */
  stdinFile?: string;
}

export interface LoadEnvironment {
  /** Programs on this machine's PATH (kind, k3d, ctr); 'docker' when the Docker engine answers. */
  programs: ReadonlySet<string>;
  /** Running docker containers: node hostname (and container name) -> container name. */
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
    fix: 'push the installer image to a registry the nodes pull from and pass --image REF (kubewasm install builds its archive into the cache and prints its path), or choose --load docker|ctr',
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
        archives.map((file) => ({ target: node, container: env.dockerNodes.get(node) ?? node, argv: ['ctr', '-n', 'k8s.io', 'images', 'import', '-'], stdinFile: file })),
      );
    case 'ctr':
      return archives.map((file) => ({ target: 'this machine', argv: ['ctr', '-n', 'k8s.io', 'images', 'import', file] }));
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const repository = (ref: string) => ref.slice(0, ref.lastIndexOf(':'));
/** Images kubewasm loads into nodes (uninstall removes every tag of them). */
export const KUBEWASM_IMAGE_PATTERN = `^(${[INSTALLER_REPOSITORY, repository(SMOKE_IMAGE), repository(NATIVE_IMAGE)].filter((r, i, all) => all.indexOf(r) === i).map(escape).join('|')}):`;

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
      return nodes.map((node) => ({ target: node, container: env.dockerNodes.get(node) ?? node, argv: ['sh', '-c', script] }));
  }
}

/** What this machine offers for loading: programs, and the Docker engine's containers that are nodes. */
export async function loadEnvironment(): Promise<LoadEnvironment> {
  const { hostname } = await import('node:os');
  const programs = new Set<string>();
  for (const p of ['kind', 'k3d', 'ctr']) if ((await capture(['sh', '-c', `command -v ${p}`])).code === 0) programs.add(p);
  const dockerNodes = await nodeContainers(await dockerApi()).catch(() => undefined);
  if (dockerNodes) programs.add('docker');
  return { programs, dockerNodes: dockerNodes ?? new Map(), hostname: hostname() };
}

async function dockerApi(): Promise<DockerApi> {
  const { DockerApi } = await import('../host/docker-api.js');
  return new DockerApi();
}

/** Running containers by the node name they carry (their hostname) and by their own name. */
async function nodeContainers(api: DockerApi): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const running = await api.json<Array<{ Id: string; Names: string[] }>>('GET', '/containers/json');
  for (const c of running) {
    const name = (c.Names[0] ?? c.Id).replace(/^\//, '');
    const info = await api.json<{ Config?: { Hostname?: string } }>('GET', `/containers/${c.Id}/json`);
    if (info.Config?.Hostname) found.set(info.Config.Hostname, name);
    if (!found.has(name)) found.set(name, name);
  }
  return found;
}

/** Runs the steps, `parallel` at a time; the first failure is thrown with the command's output. */
export async function runLoad(steps: readonly LoadStep[], onStep: (step: LoadStep, state: 'start' | 'done', ms?: number) => void = () => {}, parallel = 2): Promise<void> {
  const queue = [...steps];
  const worker = async () => {
    for (let step = queue.shift(); step; step = queue.shift()) {
      const t0 = Date.now();
      onStep(step, 'start');
      const result = step.container ? await execIn(step.container, step.argv, step.stdinFile) : await capture(step.argv, step.stdinFile);
      if (result.code !== 0) {
        throw new KubewasmError({
          what: `'${step.argv.join(' ')}'${step.container ? ` in container ${step.container}` : ''} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`,
          where: step.target,
          fix: result.code === 127 ? `install ${step.argv[0]}, or choose another --load` : 'check that the node runs and its containerd answers; or push the image to a registry and use --image',
        });
      }
      onStep(step, 'done', Date.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, steps.length)) }, worker));
}

/** A command in a node container through the Docker API (the docker transport's exec), the file streamed to its stdin. */
async function execIn(container: string, argv: string[], stdinFile?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const exec = await (await dockerApi()).startExec(container, argv);
  if (stdinFile) createReadStream(stdinFile).on('error', (e) => exec.socket.destroy(e)).pipe(exec.socket); // ends with a half-close: EOF for ctr
  else exec.finishInput();
  const r = await exec.result().catch((err: Error) => ({ code: 255, stdout: Buffer.alloc(0), stderr: Buffer.from(err.message) }));
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
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

/** Loads archives into the named nodes the way `requested` says (auto: kind, k3d, docker, this machine); says what it did. */
export async function loadImages(allNodes: readonly NodeIdentity[], names: readonly string[], archives: readonly string[], requested: LoadMethod | 'auto', say: (text: string) => void): Promise<LoadMethod> {
  const distro = detectDistro(allNodes);
  const env = await loadEnvironment();
  const method = chooseLoadMethod(requested, distro, names, env);
  if (method === 'none' || names.length === 0) return method;
  const t = Date.now();
  await runLoad(planLoad(method, distro, names, archives, env), (step, state, ms) => {
    if (state === 'done') say(`loaded ${path.basename(step.stdinFile ?? step.argv.find((a) => a.endsWith('.tar')) ?? 'images')} into ${step.target} (${((ms ?? 0) / 1000).toFixed(1)}s)`);
  });
  say(`images loaded into ${names.join(', ')} with ${method} in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  return method;
}
