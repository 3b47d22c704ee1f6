// Reads an OCI image-layout archive the way a runtime does (index.json →
// image index → the manifest of one platform → config and layer), with tar,
// independent of the code that wrote it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface Descriptor { mediaType: string; digest: string; size: number; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }
export interface ImageConfig { architecture: string; os: string; config: { Entrypoint: string[]; Env: string[] } }

/** The platforms of the archive's image, and the names index.json gives it. */
export function layoutPlatforms(archive: string): { names: string[]; platforms: string[]; manifests: Descriptor[] } {
  return withLayout(archive, (blob, index) => {
    const top = index.manifests;
    const manifests = top.flatMap((d) => (d.mediaType.endsWith('index.v1+json') ? (JSON.parse(blob(d.digest)) as { manifests: Descriptor[] }).manifests : [d]));
    return { names: top.map((d) => d.annotations?.['io.containerd.image.name'] ?? ''), platforms: manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`), manifests };
  });
}

/** Unpacks the layer of the image for `architecture` into `dir`; returns its config. */
export function unpackPlatform(archive: string, dir: string, architecture = 'amd64'): ImageConfig {
  return withLayout(archive, (blob, index, layout) => {
    const candidates = index.manifests.flatMap((d) => (d.mediaType.endsWith('index.v1+json') ? (JSON.parse(blob(d.digest)) as { manifests: Descriptor[] }).manifests : [d]));
    const chosen = candidates.find((m) => (m.platform?.architecture ?? 'amd64') === architecture);
    if (!chosen) throw new Error(`${archive} has no linux/${architecture} image (it has ${candidates.map((m) => m.platform?.architecture).join(', ')})`);
    const manifest = JSON.parse(blob(chosen.digest)) as { config: { digest: string }; layers: Array<{ digest: string }> };
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(layout, 'blobs', 'sha256', manifest.layers[0]!.digest.replace('sha256:', '')), '-C', dir]);
    return JSON.parse(blob(manifest.config.digest)) as ImageConfig;
  });
}

function withLayout<T>(archive: string, read: (blob: (digest: string) => string, index: { manifests: Descriptor[] }, layout: string) => T): T {
  const layout = mkdtempSync(path.join(tmpdir(), 'kubewasm-oci-'));
  try {
    execFileSync('tar', ['-xf', archive, '-C', layout]);
    const blob = (digest: string) => readFileSync(path.join(layout, 'blobs', 'sha256', digest.replace('sha256:', '')), 'utf8');
    return read(blob, JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] }, layout);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
