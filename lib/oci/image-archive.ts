// OCI image layout tarballs built from a list of files, without a registry or
// a container engine: `ctr images import` and `docker load` take them as they
// are. One image, or an index of one image per platform. One layer per image, deterministic bytes (fixed mtimes, owner 0:0, sorted
// entries), so the same inputs always give the same digests.
import { createHash } from 'node:crypto';
import { writeFile, rename } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Header, Pax } from 'tar';
import { KubewasmError } from '../errors.js';

export interface ImageFile {
  /** Path inside the image, e.g. "hello.wasm" or "/usr/bin/pause"; parents are created. */
  path: string;
  /** File contents; omit with `linkTarget` for a symlink. */
  data?: Uint8Array | string;
  /** Permission bits; default 0o644 (0o777 for symlinks). */
  mode?: number;
  /** Makes the entry a symbolic link to this target. */
  linkTarget?: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageSpec {
  /** Full image name, e.g. "registry.k8s.io/pause:3.10"; containerd and docker import it under this name. */
  name: string;
  files: readonly ImageFile[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
  /** Default linux/amd64. */
  platform?: Platform;
  /** RFC 3339; default the Unix epoch, so rebuilds are byte-identical. */
  created?: string;
}

export interface ImageArchive {
  /** The OCI layout as a tar: oci-layout, index.json, blobs/sha256/*. */
  tar: Buffer;
  /** sha256:... of the image manifest (what a runtime reports as the image's digest). */
  manifestDigest: string;
  /** sha256:... of the config (the image ID in docker and crictl). */
  configDigest: string;
}

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const EPOCH = new Date(0);

/** Builds the whole archive in memory. Pure: the same spec gives the same bytes. */
export function buildImageArchive(spec: ImageSpec): ImageArchive {
  const { tag } = parseImageName(spec.name);
  const image = imageBlobs(spec);
  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [{ mediaType: MEDIA_TYPES.manifest, digest: sha256(image.manifest), size: image.manifest.length, platform: image.platform, annotations: nameAnnotations(spec.name, tag) }],
  });
  return { tar: layoutTar(image.blobs, index), manifestDigest: sha256(image.manifest), configDigest: sha256(image.config) };
}

export interface ImageIndexArchive {
  tar: Buffer;
  /** sha256:... of the image index (what a runtime reports as the image's digest, whatever its platform). */
  indexDigest: string;
  /** Per platform, in the order given: its manifest's and config's digests and its layer's size. */
  images: Array<{ platform: Platform; manifestDigest: string; configDigest: string; layerSize: number }>;
}

/**
 * One image for several platforms: the layout's index.json names (for
 * `ctr import` and `kind load`) an image index whose manifests are the
 * per-platform images, as `docker buildx --output type=oci` lays it out. A
 * node pulls or unpacks only its own platform's image. Pure.
 */
export function buildImageIndexArchive(name: string, specs: readonly ImageSpec[]): ImageIndexArchive {
  const { tag } = parseImageName(name);
  const seen = new Set<string>();
  const images = specs.map((spec) => {
    const image = imageBlobs(spec);
    const key = platformKey(image.platform);
    if (seen.has(key)) throw new KubewasmError({ what: `the image index ${name} lists platform ${key} twice`, fix: 'give one image per platform' });
    seen.add(key);
    return image;
  });
  if (images.length === 0) throw new KubewasmError({ what: `the image index ${name} has no image`, fix: 'give at least one platform' });
  const inner = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: images.map((i) => ({ mediaType: MEDIA_TYPES.manifest, digest: sha256(i.manifest), size: i.manifest.length, platform: i.platform })),
  });
  const index = json({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [{ mediaType: MEDIA_TYPES.index, digest: sha256(inner), size: inner.length, annotations: nameAnnotations(name, tag) }] });
  return {
    tar: layoutTar([...images.flatMap((i) => i.blobs), inner], index),
    indexDigest: sha256(inner),
    images: images.map((i) => ({ platform: i.platform, manifestDigest: sha256(i.manifest), configDigest: sha256(i.config), layerSize: i.layer.length })),
  };
}

/** Writes a multi-platform archive to `file` (temp file, then rename). */
export async function writeImageIndexArchive(file: string, name: string, specs: readonly ImageSpec[]): Promise<ImageIndexArchive> {
  const archive = buildImageIndexArchive(name, specs);
  await writeAtomically(file, archive.tar, name);
  return archive;
}

/** Pure: "linux/arm64", "linux/arm/v7". */
export function platformKey(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function nameAnnotations(name: string, tag: string): Record<string, string> {
  // containerd's importer names the image from the first; OCI tools read the tag.
  return { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag };
}

/** The config, layer and manifest of one platform's image. */
function imageBlobs(spec: ImageSpec): { platform: Platform; config: Buffer; layer: Buffer; manifest: Buffer; blobs: Buffer[] } {
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layerTar = tarArchive(layerEntries(spec.files));
  const layer = gzipSync(layerTar, { level: 9 });
  const created = spec.created ?? EPOCH.toISOString();

  const config = json({
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      ...(spec.env ? { Env: spec.env } : {}),
      ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
      ...(spec.labels ? { Labels: spec.labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
    history: [{ created, created_by: 'kubewasm lib/oci/image-archive.ts' }],
  });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MEDIA_TYPES.layerGzip, digest: sha256(layer), size: layer.length }],
  });
  return { platform, config, layer, manifest, blobs: [config, layer, manifest] };
}

/** The OCI image layout as a tar: blobs (each once), oci-layout, index.json. */
function layoutTar(blobs: Buffer[], index: Buffer): Buffer {
  const entries: TarEntry[] = [
    { path: 'blobs/', type: 'Directory', mode: 0o755 },
    { path: 'blobs/sha256/', type: 'Directory', mode: 0o755 },
    ...dedupe(blobs).map((b): TarEntry => ({ path: `blobs/sha256/${sha256(b).slice('sha256:'.length)}`, type: 'File', mode: 0o644, data: b })),
    { path: 'oci-layout', type: 'File', mode: 0o644, data: json({ imageLayoutVersion: '1.0.0' }) },
    { path: 'index.json', type: 'File', mode: 0o644, data: index },
  ];
  return tarArchive(entries);
}

/** Writes the archive to `file` (via a temp file and rename, so a crash never leaves half an archive). */
export async function writeImageArchive(file: string, spec: ImageSpec): Promise<ImageArchive> {
  const archive = buildImageArchive(spec);
  await writeAtomically(file, archive.tar, spec.name);
  return archive;
}

async function writeAtomically(file: string, tar: Buffer, name: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, tar);
    await rename(tmp, file);
  } catch (cause) {
    throw new KubewasmError({ what: `could not write the image archive for ${name}`, where: file, fix: 'check that the directory exists and is writable', cause });
  }
}

/** Splits "host/repo:tag" (a digest-only name has no tag: refused, importers need a tag). */
export function parseImageName(name: string): { repository: string; tag: string } {
  const m = /^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*):([\w][\w.-]{0,127})$/.exec(name);
  if (!m?.[1] || !m[2]) {
    throw new KubewasmError({ what: `'${name}' is not an image name with a tag`, fix: 'use a name like registry.example/repo:tag (lowercase repository, explicit tag)' });
  }
  return { repository: m[1], tag: m[2] };
}

// ---- the layer: files plus their parent directories, sorted ----

type TarEntry = { path: string; type: 'File' | 'Directory' | 'SymbolicLink'; mode: number; data?: Buffer; linkpath?: string };

function layerEntries(files: readonly ImageFile[]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const f of files) {
    const path = cleanPath(f.path);
    if (byPath.has(path)) throw new KubewasmError({ what: `the image lists '${f.path}' twice`, fix: 'give each file once' });
    if ((f.data === undefined) === (f.linkTarget === undefined)) {
      throw new KubewasmError({ what: `image file '${f.path}' needs exactly one of data and linkTarget` });
    }
    byPath.set(
      path,
      f.linkTarget !== undefined
        ? { path, type: 'SymbolicLink', mode: f.mode ?? 0o777, linkpath: f.linkTarget }
        : { path, type: 'File', mode: f.mode ?? 0o644, data: Buffer.from(f.data ?? '') },
    );
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      const clash = byPath.get(dir.slice(0, -1));
      if (clash) throw new KubewasmError({ what: `image file '${clash.path}' is also a parent directory of '${path}'` });
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'Directory', mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** "/usr/bin/x" and "usr/bin/x" are the same; "..", "." and empty segments are refused. */
function cleanPath(p: string): string {
  const parts = p.replace(/^\/+/, '').split('/');
  if (parts.some((s) => s === '' || s === '.' || s === '..')) {
    throw new KubewasmError({ what: `image file path '${p}' is not a plain path`, fix: 'use a path like /usr/bin/tool, without ., .. or //' });
  }
  return parts.join('/');
}

// ---- tar writing with the tar package's header encoder ----

function tarArchive(entries: readonly TarEntry[]): Buffer {
  const chunks: Buffer[] = [];
  for (const e of entries) {
    const size = e.data?.length ?? 0;
    const data = { path: e.path, type: e.type, mode: e.mode, size, uid: 0, gid: 0, uname: '', gname: '', mtime: EPOCH, ...(e.linkpath ? { linkpath: e.linkpath } : {}) };
    const header = new Header(data);
    const block = Buffer.alloc(512);
    // encode() returns true when the fields (long paths) need a PAX header before it.
    if (header.encode(block, 0)) chunks.push(new Pax({ ...data, atime: EPOCH, ctime: EPOCH }).encode());
    chunks.push(block);
    if (e.data && size > 0) {
      chunks.push(e.data);
      if (size % 512) chunks.push(Buffer.alloc(512 - (size % 512)));
    }
  }
  chunks.push(Buffer.alloc(1024)); // end of archive: two zero blocks
  return Buffer.concat(chunks);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function dedupe(blobs: Buffer[]): Buffer[] {
  const seen = new Set<string>();
  return blobs.filter((b) => !seen.has(sha256(b)) && seen.add(sha256(b)) !== undefined);
}
