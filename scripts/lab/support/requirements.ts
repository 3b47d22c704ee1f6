// What the lab and the tests need from this machine, and the checks that
// fail with the command that fixes it (nothing is skipped silently). The
// Debian packages are listed once, in ./host-packages, which
// scripts/lab/prepare installs from; the components built into the lab cache
// are listed once, in BUILT below, each with the script that builds it.
// Programs are found on the PATH: where a program lives differs between
// Debian's package and an image or a hand install (docker, sudo).
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { inputFileName, pinnedInputs } from '../../../lib/installer-image/inputs.js';

export const LAB_CACHE = process.env['KUBEWASM_CACHE'] ?? '/var/cache/kubewasm-lab';
const SETUP = 'scripts/setup --lab';
export const HOST_PACKAGES_FILE = new URL('./host-packages', import.meta.url).pathname;

export interface HostPackage {
  name: string;
  /** The programs of this package that the lab or a test runs. */
  programs: string[];
}

/** Pure: the packages of a host-packages text (one a line: package, then its programs; # comments). */
export function parseHostPackages(text: string): HostPackage[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => {
      const [name, ...programs] = line.split(/\s+/);
      return { name: name!, programs };
    });
}

export function hostPackages(): HostPackage[] {
  return parseHostPackages(readFileSync(HOST_PACKAGES_FILE, 'utf8'));
}

/** The cache's builds: directory under LAB_CACHE, its programs (in bin/), and what builds it. */
export const BUILT = {
  kubernetes: { dir: 'kubernetes-v1.34.4', programs: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kubectl'], builtBy: 'scripts/lab/build/kubernetes.sh' },
  'containerd-2.2': { dir: 'containerd-v2.2.9', programs: ['containerd', 'ctr', 'containerd-shim-runc-v2'], builtBy: 'scripts/lab/build/containerd.sh' },
  'containerd-2.4': { dir: 'containerd-v2.4.2', programs: ['containerd', 'ctr', 'containerd-shim-runc-v2'], builtBy: 'scripts/lab/build/containerd.sh' },
  crictl: { dir: 'crictl-v1.34.0', programs: ['crictl'], builtBy: 'scripts/lab/build/crictl.sh' },
  registry: { dir: 'registry-v3.1.2', programs: ['registry'], builtBy: 'scripts/lab/build/registry.sh' },
  kind: { dir: 'kind-v0.33.0', programs: ['kind'], builtBy: 'scripts/lab/build/kind.sh' },
} as const satisfies Record<string, { dir: string; programs: readonly string[]; builtBy: string }>;
export type BuiltComponent = keyof typeof BUILT;

/**
 * The installer image's pinned inputs (node-linux-* from npm, Debian .debs), both
 * architectures, fetched once by scripts/lab/build/image-inputs.sh: tests build
 * images from this directory (read only) and never download.
 */
export const IMAGE_INPUTS = { dir: path.join(LAB_CACHE, 'image-inputs'), builtBy: 'scripts/lab/build/image-inputs.sh' } as const;

/** The inputs source for building installer images in tests, or an error naming the script that fetches it. */
export function requireImageInputs(): { dir: string; offline: true } {
  const missing = (['amd64', 'arm64'] as const).flatMap((arch) => pinnedInputs(arch)).map(inputFileName).filter((f) => !existsSync(path.join(IMAGE_INPUTS.dir, f)));
  if (missing.length) throw new Error(`${IMAGE_INPUTS.dir} lacks ${missing.join(', ')}: this test needs the installer image's pinned inputs. Run \`${SETUP}\` (or \`${IMAGE_INPUTS.builtBy}\`), then run the tests again.`);
  return { dir: IMAGE_INPUTS.dir, offline: true };
}

/** The bin directory of a cached build (not checked: requireBuilt checks a program in it). */
export function builtBinDir(component: BuiltComponent): string {
  return path.join(LAB_CACHE, BUILT[component].dir, 'bin');
}

/** Pure: where `program` is on `searchPath` (a PATH value), or undefined. */
export function findOnPath(program: string, searchPath: string, isExecutable: (file: string) => boolean): string | undefined {
  for (const dir of searchPath.split(':').filter(Boolean)) {
    const file = path.join(dir, program);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The package that provides `program`, from host-packages; throws for a program nobody listed (a test's mistake). */
export function packageOf(program: string, packages: readonly HostPackage[] = hostPackages()): string {
  const found = packages.find((p) => p.programs.includes(program));
  if (!found) throw new Error(`requireProgram('${program}'): no package in ${HOST_PACKAGES_FILE} provides it; add the Debian package that does`);
  return found.name;
}

/**
 * The path of `program` on the PATH (root's sbin directories included), or an
 * error naming the Debian package and the command that installs it.
 */
export function requireProgram(program: string): string {
  const pkg = packageOf(program);
  const searchPath = [process.env['PATH'] ?? '', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'].join(':');
  const found = findOnPath(program, searchPath, executable);
  if (found) return found;
  throw new Error(`${program} is not on the PATH: this test needs it (Debian package ${pkg}). Run \`${SETUP}\` (or \`apt-get install -y ${pkg}\`), then run the tests again.`);
}

/**
 * A file a Debian package installs at a fixed place, for tests that need that
 * very build (Debian's containerd 1.6 in /usr/bin, whatever else is on the PATH).
 */
export function requirePackageFile(pkg: string, file: string): string {
  if (!hostPackages().some((p) => p.name === pkg)) throw new Error(`requirePackageFile('${pkg}'): ${pkg} is not in ${HOST_PACKAGES_FILE}`);
  if (executable(file)) return file;
  throw new Error(`${file} is missing: this test needs it (Debian package ${pkg}). Run \`${SETUP}\` (or \`apt-get install -y ${pkg}\`), then run the tests again.`);
}

/** A program of a cached build, or an error naming the script that builds it. */
export function requireBuilt(component: BuiltComponent, program: string): string {
  const { programs, builtBy } = BUILT[component];
  if (!(programs as readonly string[]).includes(program)) throw new Error(`requireBuilt('${component}', '${program}'): ${component} has no program ${program}`);
  const file = path.join(builtBinDir(component), program);
  if (executable(file)) return file;
  throw new Error(`${file} is missing: this test needs it. Run \`${SETUP}\` (or \`${builtBy}\`; it builds and caches it), then run the tests again.`);
}

export function requireFile(file: string, installedBy = SETUP): string {
  if (!existsSync(file)) throw new Error(`${file} is missing: this test needs it. Run \`${installedBy}\`, then run the tests again.`);
  return file;
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this test starts real daemons and must run as root (sudo npm test)');
}
