// The images kubewasm's cluster flow needs, as OCI archives: the node
// installer (carrying the verified shims) and the smoke images `verify` runs
// (`kubewasm image build`), and their push to a registry whose nodes pull
// (`kubewasm image push`, `install --registry`).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildInstallerImage, INSTALLER_REPOSITORY } from '../installer-image/build.js';
import { SMOKE_IMAGE, SMOKE_WASI_IMAGE, smokeWasiImage } from '../installer-image/smoke.js';
import { provideShims, type ShimSupply } from '../node/shim-supply.js';
import { pushArchives, type PushEvent, type PushResult } from '../oci/registry-push.js';
import type { RegistryTarget } from '../oci/registry-ref.js';
import type { Arch, ShimInfo } from '../shims/catalog.js';
import type { ShimEvent } from '../shims/releases.js';
import { kubewasmArchives } from './load-images.js';
import { packageRoot } from './package-root.js';

export interface ImageBuildOptions {
  shims: ShimInfo[];
  supply: ShimSupply;
  installerNode?: string | undefined;
  /** One platform of the installer image per architecture (default amd64). */
  archs?: readonly Arch[] | undefined;
  cacheDir: string;
  /** Copy the archives here (default: leave them in the cache). */
  outDir?: string | undefined;
}

export interface BuiltImages {
  installer: { name: string; file: string; size: number; cached: boolean; seconds: number };
  /** Every archive: the installer first, then the smoke images. */
  archives: string[];
}

export async function buildImages(o: ImageBuildOptions, onShim?: (e: ShimEvent) => void): Promise<BuiltImages> {
  const archs = o.archs ?? ['amd64'];
  const shimsFor = await provideShims(o.supply, o.shims, archs, onShim);
  const shims = Object.fromEntries(archs.map((arch) => [arch, shimsFor(arch)]));
  const { root, version } = packageRoot();
  const t = Date.now();
  const built = await buildInstallerImage({ packageRoot: root, version, shims, ...(o.installerNode ? { nodeBinary: o.installerNode } : {}) }, o.cacheDir);
  const installer = { ...built, seconds: (Date.now() - t) / 1000 };
  let archives = [built.file, ...(await kubewasmArchives(o.cacheDir, undefined)).archives];
  if (o.outDir) {
    await mkdir(o.outDir, { recursive: true });
    const copied = archives.map((file) => path.join(o.outDir!, path.basename(file)));
    await Promise.all(archives.map((file, i) => copyFile(file, copied[i]!)));
    archives = copied;
    installer.file = copied[0]!;
  }
  return { installer, archives };
}

export interface RegistryOptions {
  target: RegistryTarget;
  /** docker config.json with the registry's credentials (default ~/.docker/config.json). */
  registryConfig?: string | undefined;
  caFile?: string | undefined;
}

/**
 * The smoke module as a wasi/wasm image (one manifest, a tar layer) as an OCI
 * archive in the cache, for registries only: nodes pull it through CRI as
 * users' Wasm images arrive (`ctr images import` would skip its platform).
 */
export async function smokeWasiArchive(cacheDir: string): Promise<string> {
  const image = await smokeWasiImage();
  const dir = path.join(cacheDir, 'images');
  const file = path.join(dir, `${SMOKE_WASI_IMAGE.replace(/[/:]/g, '_')}-${image.top.digest.slice(7, 19)}.tar`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    await writeFile(`${file}.tmp`, image.tar);
    await rename(`${file}.tmp`, file);
  }
  return file;
}

/** Pushes archives; returns where each image went, and the installer's and smoke images' references. */
export async function pushImages(archives: string[], o: RegistryOptions, onEvent?: (e: PushEvent) => void): Promise<PushResult & { installer?: string; smoke?: string; wasi?: string }> {
  const result = await pushArchives({ ...o, archives, ...(onEvent ? { onEvent } : {}) });
  const installer = result.images.find((i) => i.source.startsWith(`${INSTALLER_REPOSITORY}:`))?.reference;
  const smoke = result.images.find((i) => i.source === SMOKE_IMAGE)?.reference;
  const wasi = result.images.find((i) => i.source === SMOKE_WASI_IMAGE)?.reference;
  return { ...result, ...(installer ? { installer } : {}), ...(smoke ? { smoke } : {}), ...(wasi ? { wasi } : {}) };
}

/** One line about a push: what went where, what it cost. */
export function describePush(r: PushResult): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  return `pushed ${r.images.length} image(s) in ${r.seconds.toFixed(1)}s: ${r.blobsUploaded} blob(s) uploaded, ${r.blobsSkipped} already there; ${mb(r.bytesSent)} sent of ${mb(r.bytesTotal)}`;
}
