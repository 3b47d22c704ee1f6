// The directory origin (--shim-dir DIR): ready shim binaries the user vouches
// for. The digest is the file's own, read when resolving; the version is not
// known here (the node engine reads it with `<shim> -v`).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { KubewasmError } from '../errors.js';
import { sha256OfFile } from './cache.js';
import { downloadVerified, type DownloadOptions } from './download.js';
import type { Located, OriginRequest, ShimOriginSource } from './origin.js';

/** The version of a binary from a directory, until the node reports it. */
export const UNKNOWN_VERSION = 'unknown';

export class DirectoryOrigin implements ShimOriginSource {
  readonly kind = 'directory' as const;
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  async resolve({ shim, version, explicit }: OriginRequest): Promise<Located> {
    const file = path.join(this.dir, shim.binaryName);
    const facts = await stat(file).catch(() => undefined);
    if (!facts?.isFile()) throw new KubewasmError({ what: `no ${shim.name} shim binary '${shim.binaryName}' in the shim directory`, where: this.dir, fix: `put ${shim.binaryName} there, or leave --shim-dir out to download it` });
    const sha256 = await sha256OfFile(file);
    return {
      version: explicit && version !== 'latest' ? version : UNKNOWN_VERSION,
      repository: 'local',
      tag: 'local',
      asset: shim.binaryName,
      size: facts.size,
      candidates: [{ sha256, source: `the file in ${this.dir} (you vouch for it)` }],
      where: file,
      fetch: { kind: 'directory', file },
      packaging: 'binary',
    };
  }

  /** Copies the file into the cache, re-hashing it: a file changed since resolve is refused. */
  async open(located: Pick<Located, 'fetch'>, download: DownloadOptions): Promise<number> {
    if (located.fetch.kind !== 'directory') throw new Error(`the directory origin cannot open a ${located.fetch.kind} artifact`);
    const file = located.fetch.file;
    const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
    return (await downloadVerified({ status: 200, headers: {}, body, url: `file://${file}` }, download)).bytes;
  }
}
