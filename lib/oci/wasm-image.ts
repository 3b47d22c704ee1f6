// Wasm OCI images as users have them: platform wasi/wasm (what `docker buildx
// build --platform wasi/wasm` and runwasi's oci-tar-builder write), built
// without a registry or a compiler. Two layer forms, both run by runwasi's
// shims (crates/containerd-shim-wasm):
// - 'wasm': the module itself is the layer, media type
//   application/vnd.bytecodealliance.wasm.component.layer.v0+wasm (the shims'
//   default supported_layers_types); rootfs has no diff_ids, so containerd
//   unpacks nothing and the shim reads the module from the content store.
//   containerd 1.6's CRI pull refuses it ("failed to unpack image on
//   snapshotter overlayfs: mismatched image rootfs and manifest layers").
// - 'tar': a gzip tar layer holding the module at /<file> as the entrypoint
//   (Dockerfile `FROM scratch` + COPY); the node must unpack it into a
//   snapshot, which containerd >= 2.1's Transfer Service skips for a
//   non-host platform when its check_platform_supported is true
//   (lib/containerd/image-pull.ts).
// Deterministic: the same spec always gives the same bytes and digests.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { KubewasmError } from '../errors.js';

export const WASM_MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  /** runwasi's oci-tar-builder WASM_LAYER_MEDIA_TYPE; first in the shims' supported_layers_types. */
  wasmLayer: 'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm',
  tarLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** Docker's and the OCI Wasm guidance's platform for Wasm images. runwasi's demo uses os "wasip1"; the shims check only architecture wasm. */
export const WASM_PLATFORM = { os: 'wasi', architecture: 'wasm' } as const;

export type WasmLayerForm = 'wasm' | 'tar';

export interface WasmImageSpec {
  /** Full image name with a tag, e.g. kubewasm.io/smoke:hello-wasi. */
  name: string;
  /** The module's bytes. */
  module: Uint8Array;
  /** The module's file name; the entrypoint is /<file>. */
  file: string;
  layers: WasmLayerForm;
  /**
   * What the name points at in the layout (and so in a registry after a
   * push): the image index (default, as buildx and oci-tar-builder write it),
   * or the wasi/wasm manifest itself. containerd's CRI pulls keep only the
   * host's platform from an index, so CRI pulls need `manifest`.
   */
  top?: 'index' | 'manifest';
}

export interface Blob {
  mediaType: string;
  digest: string;
  data: Buffer;
}

export interface WasmImage {
  name: string;
  /** The image index (what the tag points at), its manifest, config and layer. */
  index: Blob;
  manifest: Blob;
  config: Blob;
  layer: Blob;
  /** The blob the name points at: `index` or `manifest`, as spec.top says. */
  top: Blob;
  /** Every blob by digest, index included: what a registry serves. */
  blobs: Map<string, Blob>;
  /** The OCI image layout as a tar (oci-layout, index.json, blobs/sha256/*), for `ctr images import --all-platforms`. */
  tar: Buffer;
}

const EPOCH = new Date(0);

export function buildWasmImage(spec: WasmImageSpec): WasmImage {
  const tag = tagOf(spec.name);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.wasm$/.test(spec.file)) {
    throw new KubewasmError({ what: `'${spec.file}' is not a plain .wasm file name`, fix: 'name the module like hello.wasm (no directories)' });
  }
  const module = Buffer.from(spec.module);
  const layerData = spec.layers === 'wasm' ? module : gzipSync(tarOf([{ path: spec.file, mode: 0o755, data: module }]), { level: 9 });
  const layer = blob(spec.layers === 'wasm' ? WASM_MEDIA_TYPES.wasmLayer : WASM_MEDIA_TYPES.tarLayer, layerData);
  const diffIds = spec.layers === 'wasm' ? [] : [sha256(tarOf([{ path: spec.file, mode: 0o755, data: module }]))];
  const config = blob(
    WASM_MEDIA_TYPES.config,
    json({
      created: EPOCH.toISOString(),
      architecture: WASM_PLATFORM.architecture,
      os: WASM_PLATFORM.os,
      config: { Entrypoint: [`/${spec.file}`] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const manifest = blob(
    WASM_MEDIA_TYPES.manifest,
    json({
      schemaVersion: 2,
      mediaType: WASM_MEDIA_TYPES.manifest,
      config: descriptor(config),
      layers: [descriptor(layer)],
    }),
  );
  const index = blob(
    WASM_MEDIA_TYPES.index,
    json({
      schemaVersion: 2,
      mediaType: WASM_MEDIA_TYPES.index,
      manifests: [{ ...descriptor(manifest), platform: { ...WASM_PLATFORM } }],
    }),
  );
  const top = spec.top === 'manifest' ? manifest : index;
  const blobs = new Map([config, layer, manifest, ...(top === index ? [index] : [])].map((b) => [b.digest, b] as const));
  const layoutIndex = json({
    schemaVersion: 2,
    mediaType: WASM_MEDIA_TYPES.index,
    manifests: [{ ...descriptor(top), annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag } }],
  });
  const tar = tarOf([
    { path: 'blobs/', mode: 0o755 },
    { path: 'blobs/sha256/', mode: 0o755 },
    ...[...blobs.values()].map((b) => ({ path: `blobs/sha256/${b.digest.slice('sha256:'.length)}`, mode: 0o644, data: b.data })),
    { path: 'oci-layout', mode: 0o644, data: json({ imageLayoutVersion: '1.0.0' }) },
    { path: 'index.json', mode: 0o644, data: layoutIndex },
  ]);
  return { name: spec.name, index, manifest, config, layer, top, blobs, tar };
}

function tagOf(name: string): string {
  const m = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:([\w][\w.-]{0,127})$/.exec(name);
  if (!m?.[1]) throw new KubewasmError({ what: `'${name}' is not an image name with a tag`, fix: 'use a name like registry.example/repo:tag (lowercase repository, explicit tag)' });
  return m[1];
}

function descriptor(b: Blob): { mediaType: string; digest: string; size: number } {
  return { mediaType: b.mediaType, digest: b.digest, size: b.data.length };
}

function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256(data), data };
}

type Entry = { path: string; mode: number; data?: Buffer };

/** A plain ustar archive: files and directories (a path ending in /), owner 0:0, epoch mtimes. Paths here are short. */
function tarOf(entries: readonly Entry[]): Buffer {
  const chunks: Buffer[] = [];
  for (const e of entries) {
    const size = e.data?.length ?? 0;
    const block = Buffer.alloc(512);
    new Header({ path: e.path, type: e.data ? 'File' : 'Directory', mode: e.mode, size, uid: 0, gid: 0, uname: '', gname: '', mtime: EPOCH }).encode(block, 0);
    chunks.push(block);
    if (e.data && size > 0) {
      chunks.push(e.data);
      if (size % 512) chunks.push(Buffer.alloc(512 - (size % 512)));
    }
  }
  chunks.push(Buffer.alloc(1024));
  return Buffer.concat(chunks);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}
