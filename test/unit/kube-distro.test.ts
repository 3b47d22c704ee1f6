// Telling distributions apart from Node objects (how install loads its image).
import { describe, expect, it } from 'vitest';
import { detectDistro, distroOfNode } from '../../lib/kube/distro.js';

describe('detectDistro', () => {
  it('kind: from the providerID kind://docker/<cluster>/<node>', () => {
    expect(distroOfNode({ metadata: { name: 'dev-control-plane' }, spec: { providerID: 'kind://docker/dev/dev-control-plane' } })).toEqual({ kind: 'kind', cluster: 'dev' });
    expect(distroOfNode({ spec: { providerID: 'kind://podman/kind/kind-worker' } })).toEqual({ kind: 'kind', cluster: 'kind' });
  });

  it('k3d and k3s: from the kubelet version, k3d by its node names', () => {
    expect(distroOfNode({ metadata: { name: 'k3d-wasm-server-0' }, status: { nodeInfo: { kubeletVersion: 'v1.33.4+k3s1' } } })).toEqual({ kind: 'k3d', cluster: 'wasm' });
    expect(distroOfNode({ metadata: { name: 'k3d-my-cluster-agent-1' }, status: { nodeInfo: { kubeletVersion: 'v1.33.4+k3s1' } } })).toEqual({ kind: 'k3d', cluster: 'my-cluster' });
    expect(distroOfNode({ metadata: { name: 'pi-1' }, status: { nodeInfo: { kubeletVersion: 'v1.33.4+k3s1' } } })).toEqual({ kind: 'k3s' });
  });

  it('rke2, microk8s, and everything else', () => {
    expect(distroOfNode({ status: { nodeInfo: { kubeletVersion: 'v1.32.5+rke2r1' } } })).toEqual({ kind: 'rke2' });
    expect(distroOfNode({ metadata: { labels: { 'microk8s.io/cluster': 'true' } } })).toEqual({ kind: 'microk8s' });
    expect(distroOfNode({ metadata: { name: 'node-1' }, status: { nodeInfo: { kubeletVersion: 'v1.34.4' } } })).toEqual({ kind: 'generic' });
  });

  it('a cluster is what all its nodes agree on', () => {
    const kind = { spec: { providerID: 'kind://docker/dev/dev-worker' } };
    expect(detectDistro([kind, kind])).toEqual({ kind: 'kind', cluster: 'dev' });
    expect(detectDistro([kind, { spec: { providerID: 'kind://docker/other/x' } }])).toEqual({ kind: 'generic' });
    expect(detectDistro([])).toEqual({ kind: 'generic' });
  });
});
