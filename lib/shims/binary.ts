// The product of the release flow: a verified shim binary on the machine
// running kubewasm, ready to be uploaded to nodes.
import type { ShimInfo } from './catalog.js';

export interface ShimBinary {
  shim: ShimInfo;
  /** Path of the binary on the machine running kubewasm. */
  localPath: string;
  sha256: string;
  version?: string;
  /**
   * The verified release archive the binary came from, when it is a gzip tar:
   * a transport may send it instead (a third of the bytes) and unpack the
   * member on the node, after checking the archive's sha256 there.
   */
  archive?: ShimArchive;
}

export interface ShimArchive {
  path: string;
  sha256: string;
  /** The binary's entry name in the tar, exactly as stored (e.g. "./containerd-shim-wasmtime-v1"). */
  member: string;
}
