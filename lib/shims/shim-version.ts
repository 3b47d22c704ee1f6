// What a shim binary says about itself. runwasi's shims and the Spin shim
// (through containerd-shimkit's shim_main, containerd/runwasi
// crates/containerd-shimkit/src/sandbox/cli.rs; crates/containerd-shim-wasm/src/sandbox/cli.rs
// before v0.5) answer `-v` with:
//
//   containerd-shim-wasmtime-v1:
//     Runtime: wasmtime
//     Version: 0.6.1
//     Revision: 1a2b3c4d
//
// (the first line is the binary's file stem; Revision is "<none>" without git
// metadata). The node engine runs `<shim> -v` before restarting containerd.

export interface ShimVersionInfo {
  /** The first line without its colon: the binary's name as it ran. */
  binary?: string | undefined;
  /** "Runtime:" (the shim's engine name). */
  runtime?: string | undefined;
  /** "Version:", X.Y.Z as printed (no leading v). */
  version?: string | undefined;
  revision?: string | undefined;
}

/** Parses `<shim> -v` output; undefined when it names no version (not a shim, or a different format). */
export function parseShimVersionOutput(output: string): ShimVersionInfo | undefined {
  const lines = output.split(/\r?\n/);
  const field = (key: string) => {
    for (const line of lines) {
      const m = new RegExp(`^\\s*${key}:\\s*(.*?)\\s*$`, 'i').exec(line);
      if (m) return m[1] || undefined;
    }
    return undefined;
  };
  const version = field('Version')?.replace(/^v/, '');
  if (!version) return undefined;
  const first = lines.find((l) => l.trim() !== '');
  const binary = first && /^\S+:\s*$/.test(first.trim()) ? first.trim().slice(0, -1) : undefined;
  const revision = field('Revision');
  return { binary, runtime: field('Runtime'), version, revision: revision === '<none>' ? undefined : revision };
}
