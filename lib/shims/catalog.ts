// The shims kubewasm knows: the containerd runtime each one registers and the
// binary containerd runs for it. Release details (repositories, tags, asset
// names) live in releases.ts beside this file.
import { UsageError } from '../errors.js';

export type ShimName = 'wasmtime' | 'wasmedge' | 'wasmer' | 'spin';

export interface ShimInfo {
  name: ShimName;
  /** The containerd runtime name, which is also the RuntimeClass handler. */
  runtimeName: string;
  /** containerd derives the binary name from it: io.containerd.wasmtime.v1 -> containerd-shim-wasmtime-v1. */
  runtimeType: string;
  /** The binary containerd runs. */
  binaryName: string;
}

export const SHIMS: Readonly<Record<ShimName, ShimInfo>> = {
  wasmtime: { name: 'wasmtime', runtimeName: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1', binaryName: 'containerd-shim-wasmtime-v1' },
  wasmedge: { name: 'wasmedge', runtimeName: 'wasmedge', runtimeType: 'io.containerd.wasmedge.v1', binaryName: 'containerd-shim-wasmedge-v1' },
  wasmer: { name: 'wasmer', runtimeName: 'wasmer', runtimeType: 'io.containerd.wasmer.v1', binaryName: 'containerd-shim-wasmer-v1' },
  spin: { name: 'spin', runtimeName: 'spin', runtimeType: 'io.containerd.spin.v2', binaryName: 'containerd-shim-spin-v2' },
};

export function shimInfo(name: string): ShimInfo {
  const info = (SHIMS as Record<string, ShimInfo | undefined>)[name];
  if (!info) throw new UsageError(`unknown shim '${name}'`, `choose from: ${Object.keys(SHIMS).join(', ')}`);
  return info;
}

/** Parses "wasmtime,spin" into known shim names, refusing unknown ones. */
export function parseShimList(list: string): ShimInfo[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('no shims given', `name at least one of: ${Object.keys(SHIMS).join(', ')}`);
  return [...new Set(names)].map(shimInfo);
}
