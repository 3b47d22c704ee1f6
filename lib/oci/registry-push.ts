// `kubewasm image push`: OCI layout archives into a registry. Everything is
// read and checked before the first request; blobs the registry has are not
// sent again; every blob and every inner manifest is in place before any tag
// is written, and tags come last, all together: a failure anywhere leaves no
// tag pointing at something missing (a retry sends only what is missing).
import { loadCredentials, type RegistryCredentials } from './docker-config.js';
import { RegistryClient } from './registry-client.js';
import { readLayout, type LayoutImage } from './registry-layout.js';
import { pushedReference, splitReference, type RegistryTarget } from './registry-ref.js';

export interface PushOptions {
  target: RegistryTarget;
  /** OCI layout archives (kubewasm image build's output). */
  archives: string[];
  /** A docker config.json to read credentials from (default ~/.docker/config.json). */
  registryConfig?: string | undefined;
  /** Credentials given directly (tests, or a caller that has them). */
  credentials?: RegistryCredentials | undefined;
  caFile?: string | undefined;
  onEvent?: (e: PushEvent) => void;
}

export type PushEvent =
  | { type: 'blob'; reference: string; digest: string; size: number; uploaded: boolean }
  | { type: 'tagged'; source: string; reference: string; digest: string };

export interface PushedImage {
  /** The name in the archive, e.g. kubewasm.io/node-installer:0.1.0-… */
  source: string;
  /** Where it now is, e.g. registry.example/team/kubewasm/node-installer:0.1.0-… */
  reference: string;
  /** sha256 of its manifest (or index). */
  digest: string;
}

export interface PushResult {
  images: PushedImage[];
  blobsUploaded: number;
  blobsSkipped: number;
  /** Request body bytes sent (blobs and manifests). */
  bytesSent: number;
  /** Bytes of all blobs and manifests of the images (what a cold push sends). */
  bytesTotal: number;
  seconds: number;
}

export async function pushArchives(o: PushOptions): Promise<PushResult> {
  const t0 = Date.now();
  const layouts = await Promise.all(o.archives.map(readLayout));
  const plan = layouts.flatMap((layout) => layout.images.map((image) => ({ layout, image, reference: pushedReference(o.target, image.name, image.top.digest) })));
  const credentials = o.credentials ?? (await loadCredentials(o.target.registry, o.registryConfig));
  const client = await RegistryClient.create({ registry: o.target.registry, credentials, caFile: o.caFile });
  let uploaded = 0;
  let skipped = 0;
  let bytesTotal = 0;
  try {
    for (const { layout, image, reference } of plan) {
      const { repository } = splitReference(reference);
      for (const d of image.blobs) {
        bytesTotal += d.size;
        const have = await client.hasBlob(repository, d.digest);
        if (!have) await client.putBlob(repository, d.digest, layout.blob(d.digest));
        have ? skipped++ : uploaded++;
        o.onEvent?.({ type: 'blob', reference, digest: d.digest, size: d.size, uploaded: !have });
      }
      for (const m of image.manifests) {
        bytesTotal += m.size;
        await client.putManifest(repository, m.digest, m.mediaType, layout.blob(m.digest));
      }
    }
    // The tags, last.
    const images: PushedImage[] = [];
    for (const { layout, image, reference } of plan) {
      const { repository, tag } = splitReference(reference);
      bytesTotal += image.top.size;
      await client.putManifest(repository, tag, image.top.mediaType, layout.blob(image.top.digest));
      images.push({ source: image.name, reference, digest: image.top.digest });
      o.onEvent?.({ type: 'tagged', source: image.name, reference, digest: image.top.digest });
    }
    return { images, blobsUploaded: uploaded, blobsSkipped: skipped, bytesSent: client.bytesSent, bytesTotal, seconds: (Date.now() - t0) / 1000 };
  } finally {
    client.close();
  }
}

/** The images an archive holds (names and digests), without pushing. */
export async function archiveImages(file: string): Promise<LayoutImage[]> {
  return (await readLayout(file)).images;
}
