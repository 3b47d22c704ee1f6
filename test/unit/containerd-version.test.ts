import { describe, expect, it } from 'vitest';
import { maxConfigVersion, parseContainerdVersion, runtimesTablePath } from '../../lib/containerd/version.js';

describe('containerd versions', () => {
  it.each([
    ['containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3', 1, 6, 20, 2],
    ['containerd github.com/containerd/containerd/v2 v2.2.9 ', 2, 2, 9, 3],
    ['containerd github.com/containerd/containerd/v2 v2.4.2 ', 2, 4, 2, 4],
    ['containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da', 1, 7, 27, 2],
    ['containerd v2.0.4', 2, 0, 4, 3],
  ])('%s', (output, major, minor, patch, readable) => {
    const v = parseContainerdVersion(output);
    expect([v.major, v.minor, v.patch]).toEqual([major, minor, patch]);
    expect(maxConfigVersion(v)).toBe(readable);
  });

  it('refuses output without a version', () => {
    expect(() => parseContainerdVersion('command not found')).toThrow(/cannot read a containerd version/);
  });

  it('puts runtimes under the CRI table of each config version', () => {
    expect(runtimesTablePath(2)[1]).toBe('io.containerd.grpc.v1.cri');
    expect(runtimesTablePath(3)[1]).toBe('io.containerd.cri.v1.runtime');
    expect(runtimesTablePath(4)[1]).toBe('io.containerd.cri.v1.runtime');
  });
});
