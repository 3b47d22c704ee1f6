// containerd versions and the config file versions each one reads.
import { KubewasmError } from '../errors.js';

export interface ContainerdVersion {
  major: number;
  minor: number;
  patch: number;
  /** As the binary printed it, e.g. "1.6.20~ds1" or "v2.2.9". */
  raw: string;
}

/**
 * Parses `containerd --version` output. Real examples:
 *   "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"  (Debian)
 *   "containerd github.com/containerd/containerd/v2 v2.2.9 abcdef0"                  (upstream)
 *   "containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da"     (Docker's packages)
 */
export function parseContainerdVersion(output: string): ContainerdVersion {
  const words = output.trim().split(/\s+/);
  for (const word of words.slice(1)) {
    const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(word);
    if (match) return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), raw: word };
  }
  throw new KubewasmError({
    what: `cannot read a containerd version from '${output.trim().slice(0, 200)}'`,
    fix: 'check that `containerd --version` runs on the node and prints a version',
  });
}

export function formatVersion(v: Pick<ContainerdVersion, 'major' | 'minor' | 'patch'>): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

/**
 * The newest config `version` a containerd binary reads: 1.x reads 2 (and 1),
 * 2.0–2.2 read up to 3, 2.3+ up to 4. 2.x migrates older files when loading.
 */
export function maxConfigVersion(v: Pick<ContainerdVersion, 'major' | 'minor'>): number {
  if (v.major < 2) return 2;
  if (v.major === 2 && v.minor < 3) return 3;
  return 4;
}

/** The TOML table path under which CRI runtimes are registered in a config of this version. */
export function runtimesTablePath(configVersion: number): string[] {
  return configVersion <= 2
    ? ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes']
    : ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'];
}
