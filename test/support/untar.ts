// Reads a tar in memory with the tar package's parser (independent of the
// writers' code in lib/oci), for tests that check what an importer would see.
import { Parser, type ReadEntry } from 'tar';

export interface TarEntry { path: string; type: string; mode: number; uid: number; mtime: number; linkpath?: string; data: Buffer }

export function untar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  const parser = new Parser({
    onReadEntry: (e: ReadEntry) => {
      const chunks: Buffer[] = [];
      e.on('data', (c: Buffer) => chunks.push(c));
      e.on('end', () =>
        entries.push({ path: e.path, type: e.type, mode: e.mode ?? -1, uid: e.uid ?? -1, mtime: e.mtime?.getTime() ?? -1, ...(e.linkpath ? { linkpath: e.linkpath } : {}), data: Buffer.concat(chunks) }),
      );
    },
  });
  parser.end(tar);
  return entries;
}
