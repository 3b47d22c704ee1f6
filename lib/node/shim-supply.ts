// Where a run's shim binaries come from, decided once: ready binaries in a
// directory the user vouches for (the same files for every architecture), or
// the release flow (GitHub, a mirror, a bundle), fetched once per
// architecture however many nodes share it.
import { KubewasmError } from '../errors.js';
import type { ShimBinary } from '../shims/binary.js';
import type { Arch, ShimInfo } from '../shims/catalog.js';
import type { Pins, ShimEvent, ShimOrigin } from '../shims/releases.js';

export type ShimSupply =
  | { kind: 'dir'; dir: string }
  /** Pins may wait for the architectures (a fleet knows them once its nodes answered uname). */
  | { kind: 'releases'; origin: ShimOrigin; cacheDir: string; pins: Pins | ((archs: readonly Arch[]) => Promise<Pins>) };

async function releasesFor(supply: Extract<ShimSupply, { kind: 'releases' }>, archs: readonly Arch[]) {
  const { ShimReleases } = await import('../shims/releases.js');
  const pins = typeof supply.pins === 'function' ? await supply.pins(archs) : supply.pins;
  return new ShimReleases({ origin: supply.origin, cacheDir: supply.cacheDir, pins });
}

/** For messages: "from DIR", "from the bundle FILE", "from GitHub releases via URL". */
export function describeSupply(supply: ShimSupply): string {
  if (supply.kind === 'dir') return `from ${supply.dir}`;
  const { origin } = supply;
  return origin.kind === 'bundle' ? `from the bundle ${origin.file}` : origin.kind === 'mirror' ? `from ${origin.url}` : `from GitHub releases via ${origin.apiUrl}`;
}

/** The verified binaries, once for all the architectures asked for; the result gives a node's set by its arch (ready binaries built for another one are refused). */
export async function provideShims(supply: ShimSupply, shims: ShimInfo[], archs: readonly Arch[], onEvent?: (e: ShimEvent) => void): Promise<(arch?: Arch) => ShimBinary[]> {
  if (supply.kind === 'dir') {
    const { shimsFromDir } = await import('../shims/shim-dir.js');
    const binaries = await shimsFromDir(supply.dir, shims);
    const built = await Promise.all(binaries.map(async (b) => [b, await elfArch(b.localPath)] as const));
    return (arch) => {
      const other = built.find(([, a]) => arch && a && a !== arch);
      if (other) throw new KubewasmError({ what: `${other[0].localPath} is a Linux ${other[1]} program, but this node is ${arch}`, fix: `put the ${arch} build of ${other[0].shim.binaryName} in the shim directory` });
      return binaries;
    };
  }
  const { toShimBinary } = await import('../shims/releases.js');
  const artifacts = archs.length ? await (await releasesFor(supply, archs)).provide(shims, [...archs], onEvent) : [];
  return (arch) => artifacts.filter((a) => a.arch === arch).map(toShimBinary);
}

/** An air-gap bundle: the release archives of `shims` for `archs`, verified, written to `out`. */
export async function bundleShims(supply: Extract<ShimSupply, { kind: 'releases' }>, shims: ShimInfo[], archs: readonly Arch[], out: string, onEvent?: (e: ShimEvent) => void) {
  const [{ toLockEntry }, { writeBundle }] = await Promise.all([import('../shims/releases.js'), import('../shims/bundle.js')]);
  const releases = await releasesFor(supply, archs);
  const artifacts = await releases.provide(shims, [...archs], onEvent);
  await writeBundle(out, artifacts.map(toLockEntry), releases.cache, 'kubewasm bundle');
  return artifacts;
}

/** The architecture an ELF executable is built for (undefined: not ELF, e.g. a script, or another machine). */
async function elfArch(file: string): Promise<Arch | undefined> {
  const { open } = await import('node:fs/promises');
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(20), 0, 20, 0);
    if (bytesRead < 20 || buffer.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const machine = buffer[5] === 2 ? buffer.readUInt16BE(18) : buffer.readUInt16LE(18);
    return machine === 62 ? 'amd64' : machine === 183 ? 'arm64' : undefined;
  } finally {
    await handle.close();
  }
}
