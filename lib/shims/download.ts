// Download into the cache, hashing while streaming: the bytes reach their
// final name only when their sha256 is the expected one, so nothing is ever
// extracted (or kept) unverified. Redirects are followed by hand so a token
// meant for the API host never travels to the host holding the bytes.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { KubewasmError } from '../errors.js';
import type { ShimCache } from './cache.js';

export interface Hop {
  status: number;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array> | null;
  /** The URL this response answers (to resolve a relative Location). */
  url: string;
}

export interface DownloadOptions {
  /** The archive's name, for messages. */
  label: string;
  expectedSha256: string;
  /** Where the expected digest comes from, for the mismatch message. */
  digestSource: string;
  /** The size the release lists, when known: a shorter body is reported as truncated. */
  expectedSize?: number | undefined;
  cache: ShimCache;
  onProgress?: ((received: number, total: number | undefined) => void) | undefined;
}

export interface Downloaded {
  path: string;
  bytes: number;
}

const MAX_REDIRECTS = 5;

/** A plain GET that does not follow redirects (the mirror, the redirect targets). */
export async function getNoRedirect(url: string, headers: Record<string, string> = {}): Promise<Hop> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'manual', headers });
  } catch (err) {
    throw new KubewasmError({ what: `could not connect to download: ${causeOf(err)}`, where: url, fix: 'check the network path to this host (a proxy or firewall may block it), or use --bundle FILE' });
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body: response.body, url };
}

/** Follows up to five redirects from `first`, without credentials, to a 200 response with a body. */
export async function followRedirects(first: Hop, label: string): Promise<Hop> {
  let hop = first;
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    if (hop.status >= 300 && hop.status < 400) {
      const location = hop.headers['location'];
      await hop.body?.cancel().catch(() => {});
      if (!location) throw new KubewasmError({ what: `the server redirected the download of ${label} without saying where (HTTP ${hop.status}, no Location)`, where: hop.url });
      hop = await getNoRedirect(new URL(location, hop.url).toString());
      continue;
    }
    if (hop.status === 200 && hop.body) return hop;
    await hop.body?.cancel().catch(() => {});
    throw new KubewasmError({
      what: hop.status === 404 ? `${label} is not at the download address (HTTP 404)` : `the download of ${label} failed with HTTP ${hop.status}`,
      where: hop.url,
      fix: hop.status === 404 ? 'check the version and, with --mirror, that the mirror holds this file at this path' : 'run again later',
    });
  }
  throw new KubewasmError({ what: `the download of ${label} redirected more than ${MAX_REDIRECTS} times`, where: hop.url });
}

/**
 * Streams the response into a temporary file in the cache, hashing it; renames
 * it to sha256/<hex> only when the digest matches. On any failure the
 * temporary file is removed and the error says what happened.
 */
export async function downloadVerified(first: Hop, options: DownloadOptions): Promise<Downloaded> {
  const hop = await followRedirects(first, options.label);
  const final = options.cache.blobPath(options.expectedSha256);
  const temp = options.cache.tempBeside(final);
  const lengthHeader = Number(hop.headers['content-length']);
  const total = Number.isFinite(lengthHeader) && lengthHeader > 0 ? lengthHeader : options.expectedSize;
  const hash = createHash('sha256');
  let received = 0;
  try {
    await pipeline(
      Readable.fromWeb(hop.body as unknown as WebReadableStream<Uint8Array>),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          received += chunk.length;
          options.onProgress?.(received, total);
          yield chunk;
        }
      },
      createWriteStream(temp, { flags: 'wx', mode: 0o644, highWaterMark: 1 << 20 }), // fewer, larger writes
    );
    const expected = options.expectedSize ?? (Number.isFinite(lengthHeader) ? lengthHeader : undefined);
    if (expected !== undefined && received !== expected) {
      throw new KubewasmError({
        what: `the download of ${options.label} is ${received < expected ? 'truncated' : 'longer than announced'}: ${received} bytes received, ${expected} expected`,
        where: hop.url,
        fix: 'run again; nothing from this download was kept',
      });
    }
    const actual = hash.digest('hex');
    if (actual !== options.expectedSha256) {
      throw new KubewasmError({
        what: `sha256 mismatch for ${options.label}: expected ${options.expectedSha256} (${options.digestSource}), got ${actual}`,
        where: hop.url,
        fix: 'the bytes are not the ones the release published (a corrupted transfer, a wrong mirror, or tampering); nothing was kept or extracted. Run again; if it repeats, report it and do not pin the new digest blindly',
      });
    }
    await syncFile(temp);
    return { path: await options.cache.commit(temp, actual), bytes: received };
  } catch (err) {
    await rm(temp, { force: true });
    if (err instanceof KubewasmError) throw err;
    throw new KubewasmError({
      what: `the download of ${options.label} broke off after ${received}${total ? ` of ${total}` : ''} bytes: ${causeOf(err)}`,
      where: hop.url,
      fix: 'run again; nothing from this download was kept',
      cause: err,
    });
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The innermost useful message of a fetch/stream error ("fetch failed" says nothing). */
export function causeOf(err: unknown): string {
  let e: unknown = err;
  const parts: string[] = [];
  for (let depth = 0; e && depth < 4; depth++) {
    const x = e as { message?: string; code?: string; cause?: unknown };
    if (x.message && x.message !== 'fetch failed' && x.message !== 'terminated') parts.push(x.code && !x.message.includes(x.code) ? `${x.message} (${x.code})` : x.message);
    else if (x.message === 'terminated') parts.push('connection closed');
    e = x.cause;
  }
  return [...new Set(parts)].join(': ') || String(err);
}
