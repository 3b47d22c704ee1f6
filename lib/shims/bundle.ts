// Air-gap bundles: one plain tar holding the lock file and the verified
// release archives, laid out like the cache (sha256/<hex>). Reading one back
// goes through the same filter and the same sha256 check as a download.
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import { KubewasmError } from '../errors.js';
import { classifyEntry, walkArchive } from './archive.js';
import { writeHashed, type ShimCache } from './cache.js';
import { BUNDLE_LOCK_NAME, parseLock, serializeLock, type LockEntry, type LockFile } from './lockfile.js';

/** Writes `out` (temporary name, then rename): the lock file first, then each archive once. */
export async function writeBundle(out: string, entries: LockEntry[], cache: ShimCache, createdBy?: string): Promise<void> {
  const target = path.resolve(out);
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const staging = `${target}.tmp-${suffix}.d`;
  const tempOut = `${target}.tmp-${suffix}`;
  await mkdir(path.join(staging, 'sha256'), { recursive: true });
  try {
    await writeFile(path.join(staging, BUNDLE_LOCK_NAME), serializeLock(entries, createdBy));
    const digests = [...new Set(entries.map((e) => e.sha256))];
    for (const sha256 of digests) {
      const to = path.join(staging, 'sha256', sha256);
      await link(cache.blobPath(sha256), to).catch(() => copyFile(cache.blobPath(sha256), to));
    }
    await tarCreate({ cwd: staging, file: tempOut, portable: true }, [BUNDLE_LOCK_NAME, ...digests.map((d) => `sha256/${d}`)]);
    await rename(tempOut, target);
  } catch (err) {
    await rm(tempOut, { force: true });
    throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The lock file inside a bundle. */
export async function readBundleLock(file: string): Promise<LockFile> {
  const chunks: Buffer[] = [];
  let found = false;
  await walkArchive(file, {
    decide: (entry) => {
      const decision = classifyEntry(entry, [BUNDLE_LOCK_NAME]);
      if (decision.action === 'write' && found) return { action: 'refuse', reason: `${BUNDLE_LOCK_NAME} appears twice` };
      if (decision.action === 'write' && entry.size > 1024 * 1024) return { action: 'refuse', reason: `${BUNDLE_LOCK_NAME} is too large` };
      return decision;
    },
    onFile: async (body) => {
      found = true;
      for await (const chunk of body) chunks.push(chunk as Buffer);
    },
  });
  if (!found) throw new KubewasmError({ what: `not a kubewasm bundle: no ${BUNDLE_LOCK_NAME} inside`, where: file, fix: 'give a file written by kubewasm bundle' });
  return parseLock(Buffer.concat(chunks).toString('utf8'), `${file}:${BUNDLE_LOCK_NAME}`);
}

/**
 * Copies the wanted archives from the bundle into the cache, hashing each on
 * the way; an archive whose bytes do not have the digest it is filed under is
 * refused (the temporary file is removed).
 */
export async function importFromBundle(file: string, sha256s: string[], cache: ShimCache): Promise<void> {
  const wanted = new Set(sha256s);
  const names = [...wanted].map((d) => `sha256/${d}`);
  const imported = new Set<string>();
  const temps = new Set<string>();
  try {
    await walkArchive(file, {
      decide: (entry) => classifyEntry(entry, names),
      onFile: async (body, name) => {
        const sha256 = name.slice('sha256/'.length);
        if (imported.has(sha256)) throw new KubewasmError({ what: `the bundle holds ${name} twice`, where: file });
        const temp = cache.tempBeside(cache.blobPath(sha256));
        temps.add(temp);
        const hash = createHash('sha256');
        await writeHashed(body, temp, hash, 0o644);
        const actual = hash.digest('hex');
        if (actual !== sha256) {
          throw new KubewasmError({ what: `sha256 mismatch in the bundle: ${name} has sha256 ${actual}`, where: file, fix: 'the bundle is damaged or was altered; make it again where the archives can be verified' });
        }
        await cache.commit(temp, sha256);
        temps.delete(temp);
        imported.add(sha256);
      },
    });
  } finally {
    await Promise.all([...temps].map((t) => rm(t, { force: true })));
  }
  const missing = [...wanted].filter((d) => !imported.has(d));
  if (missing.length > 0) throw new KubewasmError({ what: `the bundle's lock lists archives it does not hold: ${missing.map((d) => `sha256/${d}`).join(', ')}`, where: file, fix: 'make the bundle again' });
}
