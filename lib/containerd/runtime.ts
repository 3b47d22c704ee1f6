// A containerd runtime kubewasm registers: a name (= the RuntimeClass handler)
// and how containerd finds the shim.

export interface RuntimeSpec {
  /** The runtime's name in containerd's config and the RuntimeClass handler, e.g. "wasmtime". */
  name: string;
  /** e.g. "io.containerd.wasmtime.v1": containerd runs `containerd-shim-wasmtime-v1` from its PATH. */
  runtimeType: string;
  /**
   * Absolute path of the shim binary, for an install directory that is not on
   * containerd's PATH (containerd's `runtime_path`).
   */
  runtimePath?: string;
}

/**
 * The keys kubewasm writes in a runtime's table, in order. A shim off
 * containerd's PATH is named by `runtime_path` on 2.x; containerd 1.6 ignores
 * runtime_path when it starts a shim ("binary not installed", seen on the
 * lab's 1.6 node) but takes an absolute path as the runtime type itself.
 */
export function runtimeValues(spec: RuntimeSpec, containerdMajor: number): Record<string, string> {
  if (!spec.runtimePath) return { runtime_type: spec.runtimeType };
  if (containerdMajor < 2) return { runtime_type: spec.runtimePath };
  return { runtime_type: spec.runtimeType, runtime_path: spec.runtimePath };
}
