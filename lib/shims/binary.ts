// The product of the release flow: a verified shim binary on the machine
// running kubewasm, ready to be uploaded to nodes.
import type { ShimInfo } from './catalog.js';

export interface ShimBinary {
  shim: ShimInfo;
  /** Path of the binary on the machine running kubewasm. */
  localPath: string;
  sha256: string;
  version?: string;
}
