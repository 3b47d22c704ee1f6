// The bundle origin: an air-gap bundle written by `kubewasm bundle`, its lock
// naming each archive's version and sha256, the archives filed by digest.
import { KubewasmError } from '../errors.js';
import { importFromBundle, readBundleLock } from './bundle.js';
import type { DownloadOptions } from './download.js';
import { lockEntryFor, type LockFile } from './lockfile.js';
import type { Located, OriginRequest, ShimOriginSource } from './origin.js';

export class BundleOrigin implements ShimOriginSource {
  readonly kind = 'bundle' as const;
  private readonly file: string;
  private lock: Promise<LockFile> | undefined;

  constructor(file: string) {
    this.file = file;
  }

  async resolve({ shim, arch, version, explicit }: OriginRequest): Promise<Located> {
    this.lock ??= readBundleLock(this.file);
    const lock = await this.lock;
    const entry = lockEntryFor(lock, shim.name, arch);
    if (!entry) {
      const holds = lock.entries.map((e) => `${e.shim} ${e.version} ${e.arch}`).join(', ') || 'nothing';
      throw new KubewasmError({ what: `the bundle has no ${shim.name} shim for ${arch}`, where: this.file, fix: `make a bundle that includes it (kubewasm bundle --shims ${shim.name} --arch ${arch}); this one holds: ${holds}` });
    }
    if (explicit && version !== 'latest' && version !== entry.version) {
      throw new KubewasmError({ what: `the bundle holds ${shim.name} ${entry.version}, not the ${version} asked for`, where: this.file, fix: 'drop --shim-version, or make a bundle with that version' });
    }
    return {
      version: entry.version,
      repository: entry.repository,
      tag: entry.tag,
      asset: entry.asset,
      size: entry.size,
      candidates: [{ sha256: entry.sha256, source: `bundle lock ${this.file}` }],
      where: this.file,
      fetch: { kind: 'bundle', file: this.file },
      packaging: 'archive',
    };
  }

  async open(located: Pick<Located, 'fetch' | 'size'>, download: DownloadOptions): Promise<number> {
    if (located.fetch.kind !== 'bundle') throw new Error(`the bundle origin cannot open a ${located.fetch.kind} artifact`);
    await importFromBundle(located.fetch.file, [download.expectedSha256], download.cache);
    return located.size ?? 0;
  }
}
