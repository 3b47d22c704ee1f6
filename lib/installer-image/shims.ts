// The shim binaries baked into the installer image, and the manifest that
// says which they are: written by the image builder, read (and verified) by
// the node installer in the pod, so nodes need no internet and no registry.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { KubewasmError } from '../errors.js';
import type { ShimBinary } from '../shims/binary.js';
import { shimInfo, type ShimInfo } from '../shims/catalog.js';

/** Where the image keeps the shims. */
export const IMAGE_SHIM_DIR = '/opt/kubewasm/shims';
export const SHIM_MANIFEST = 'shims.json';

export interface ImageShimManifest {
  formatVersion: 1;
  shims: Array<{ name: string; version?: string; sha256: string; file: string }>;
}

export function shimManifest(sources: readonly ShimBinary[]): ImageShimManifest {
  return {
    formatVersion: 1,
    shims: [...sources]
      .sort((a, b) => a.shim.name.localeCompare(b.shim.name))
      .map((s) => ({ name: s.shim.name, ...(s.version ? { version: s.version } : {}), sha256: s.sha256, file: s.shim.binaryName })),
  };
}

/** The wanted shims from the image's directory, each checked against the manifest's sha256. */
export async function readImageShims(dir: string, wanted: readonly ShimInfo[]): Promise<ShimBinary[]> {
  const manifestPath = path.join(dir, SHIM_MANIFEST);
  let manifest: ImageShimManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ImageShimManifest;
    if (manifest.formatVersion !== 1 || !Array.isArray(manifest.shims)) throw new Error('unknown format');
  } catch (err) {
    throw new KubewasmError({ what: `the installer image has no readable shim manifest (${(err as Error).message})`, where: manifestPath, fix: 'build the installer image again: run kubewasm install (it builds the image and loads it into the nodes)', cause: err });
  }
  const sources: ShimBinary[] = [];
  for (const shim of wanted) {
    const entry = manifest.shims.find((s) => s.name === shim.name);
    if (!entry) {
      throw new KubewasmError({ what: `the installer image does not carry the ${shim.name} shim (it has: ${manifest.shims.map((s) => s.name).join(', ') || 'none'})`, where: dir, fix: `rebuild the image with --shims including ${shim.name}, or remove it from KUBEWASM_SHIMS` });
    }
    const localPath = path.join(dir, path.basename(entry.file));
    const bytes = await readFile(localPath).catch((cause: unknown) => {
      throw new KubewasmError({ what: `the installer image lacks ${entry.file}`, where: localPath, fix: 'rebuild the installer image', cause });
    });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== entry.sha256) {
      throw new KubewasmError({ what: `the ${shim.name} shim in the installer image has sha256 ${sha256}, its manifest says ${entry.sha256}`, where: localPath, fix: 'the image is corrupt or was altered: rebuild it' });
    }
    sources.push({ shim: shimInfo(entry.name), localPath, sha256, ...(entry.version ? { version: entry.version } : {}) });
  }
  return sources;
}
