// Which Kubernetes distribution a cluster is, from its Node objects: it
// decides how `install` gets the installer image onto the nodes (kind and k3d
// have their own image loaders). What containerd looks like on a node (k3s,
// rke2, microk8s config templates) is read from the node's files by
// lib/containerd/facts.ts, on the node itself.

export type Distro =
  | { kind: 'kind'; cluster: string }
  | { kind: 'k3d'; cluster: string }
  | { kind: 'k3s' }
  | { kind: 'rke2' }
  | { kind: 'microk8s' }
  | { kind: 'generic' };

/** The Node fields that tell distributions apart (a V1Node has them all). */
export interface NodeIdentity {
  metadata?: { name?: string | undefined; labels?: Record<string, string> | undefined } | undefined;
  spec?: { providerID?: string | undefined } | undefined;
  status?: { nodeInfo?: { kubeletVersion?: string | undefined; containerRuntimeVersion?: string | undefined } | undefined } | undefined;
}

/** Pure. The first node that says something decides; a cluster mixing distributions is "generic". */
export function detectDistro(nodes: readonly NodeIdentity[]): Distro {
  const seen = nodes.map(distroOfNode);
  const first = seen[0] ?? { kind: 'generic' as const };
  const same = seen.every((d) => d.kind === first.kind && ('cluster' in d ? d.cluster : '') === ('cluster' in first ? first.cluster : ''));
  return same ? first : { kind: 'generic' };
}

export function distroOfNode(node: NodeIdentity): Distro {
  const name = node.metadata?.name ?? '';
  const labels = node.metadata?.labels ?? {};
  const providerID = node.spec?.providerID ?? '';
  const kubelet = node.status?.nodeInfo?.kubeletVersion ?? '';
  // kind sets providerID kind://docker/<cluster>/<node> (kind >= 0.20; podman too).
  const kind = /^kind:\/\/[^/]+\/([^/]+)\/[^/]+$/.exec(providerID);
  if (kind?.[1]) return { kind: 'kind', cluster: kind[1] };
  if (/\+k3s\d*$/.test(kubelet)) {
    // k3d names its node containers (and so the nodes) k3d-<cluster>-server-N / -agent-N.
    const k3d = /^k3d-(.+)-(?:server|agent)-\d+$/.exec(name);
    return k3d?.[1] ? { kind: 'k3d', cluster: k3d[1] } : { kind: 'k3s' };
  }
  if (/\+rke2r\d*$/.test(kubelet)) return { kind: 'rke2' };
  if (labels['microk8s.io/cluster'] === 'true') return { kind: 'microk8s' };
  return { kind: 'generic' };
}

export function describeDistro(d: Distro): string {
  return 'cluster' in d ? `${d.kind} cluster '${d.cluster}'` : d.kind === 'generic' ? 'Kubernetes' : d.kind;
}
