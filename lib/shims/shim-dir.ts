// Shim binaries already on this machine's disk (--shim-dir DIR): the user
// vouches for them; kubewasm records their digests and checks them on the node.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { KubewasmError } from '../errors.js';
import type { ShimBinary } from './binary.js';
import type { ShimInfo } from './catalog.js';

export async function shimsFromDir(dir: string, shims: ShimInfo[]): Promise<ShimBinary[]> {
  return Promise.all(
    shims.map(async (shim) => {
      const localPath = path.resolve(dir, shim.binaryName);
      let bytes: Buffer;
      try {
        bytes = await readFile(localPath);
      } catch {
        throw new KubewasmError({ what: `no ${shim.name} shim binary '${shim.binaryName}' in the shim directory`, where: path.resolve(dir), fix: `put ${shim.binaryName} there, or leave --shim-dir out to download it` });
      }
      return { shim, localPath, sha256: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
}
