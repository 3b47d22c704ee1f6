// An OCI image-layout archive (what lib/oci/image-archive.ts writes, and
// `docker buildx --output type=oci`) read for pushing: its named images
// (index.json entries with a name annotation) and every blob they reach, in
// the order a registry wants them: blobs first, then the manifests that
// reference them, the named index or manifest last.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Parser, type ReadEntry } from 'tar';
import { KubewasmError } from '../errors.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface LayoutImage {
  /** The name the archive gives it (io.containerd.image.name, else the ref.name tag). */
  name: string;
  /** Its top descriptor (a manifest or an index): pushed last, under the tag. */
  top: Descriptor;
  /** Plain blobs (configs, layers), each once. */
  blobs: Descriptor[];
  /** Manifests below the top (an index's per-platform images), children first. */
  manifests: Descriptor[];
}

export interface Layout {
  images: LayoutImage[];
  blob(digest: string): Buffer;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

export async function readLayout(file: string): Promise<Layout> {
  const data = await readFile(file).catch((cause: unknown) => {
    throw new KubewasmError({ what: 'cannot read the image archive', where: file, fix: 'run kubewasm image build first (it writes the archives)', cause });
  });
  return parseLayout(await untar(data), file);
}

/** Pure: a layout from its files (path → bytes). */
export function parseLayout(files: Map<string, Buffer>, where: string): Layout {
  const bad = (what: string) => new KubewasmError({ what: `not an OCI image layout: ${what}`, where, fix: 'give an archive written by kubewasm image build (or any OCI layout tar)' });
  const indexJson = files.get('index.json');
  if (!indexJson) throw bad('no index.json');
  const blob = (digest: string): Buffer => {
    const bytes = files.get(`blobs/${digest.replace(':', '/')}`);
    if (!bytes) throw bad(`blob ${digest} is missing`);
    if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== digest) throw bad(`blob ${digest} does not match its digest`);
    return bytes;
  };
  const index = JSON.parse(indexJson.toString('utf8')) as { manifests?: Descriptor[] };
  const images = (index.manifests ?? []).map((top): LayoutImage => {
    const name = top.annotations?.['io.containerd.image.name'] ?? top.annotations?.['org.opencontainers.image.ref.name'];
    if (!name) throw bad(`index.json names no image for ${top.digest}`);
    const blobs = new Map<string, Descriptor>();
    const manifests: Descriptor[] = [];
    const walk = (d: Descriptor, isTop: boolean): void => {
      const body = JSON.parse(blob(d.digest).toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
      if (INDEX_TYPES.has(d.mediaType)) for (const child of body.manifests ?? []) walk(child, false);
      else if (MANIFEST_TYPES.has(d.mediaType)) for (const b of [body.config!, ...(body.layers ?? [])]) blobs.set(b.digest, b);
      else throw bad(`unknown manifest media type ${d.mediaType}`);
      if (!isTop) manifests.push(d);
    };
    walk(top, true);
    for (const b of blobs.values()) blob(b.digest);
    return { name, top, blobs: [...blobs.values()], manifests };
  });
  return { images, blob };
}

/** The regular files of a tar, by path. */
async function untar(data: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        if (entry.type !== 'File') return entry.resume();
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => files.set(entry.path.replace(/^\.\//, ''), Buffer.concat(chunks)));
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve());
    parser.end(data);
  });
  return files;
}
