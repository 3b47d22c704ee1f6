// The docker transport's pure parts: which containers are nodes, the tar it uploads, where the engine is.
import { describe, expect, it } from 'vitest';
import { Parser } from 'tar';
import { dockerEndpoint } from '../../lib/host/docker-api.js';
import { selectClusterNodes, tarOfOneFile } from '../../lib/host/docker.js';

const c = (name: string, labels: Record<string, string>) => ({ Id: `id-${name}`, Names: [`/${name}`], Labels: labels, State: 'running' });

describe('docker transport', () => {
  const containers = [
    c('kind-worker', { 'io.x-k8s.kind.cluster': 'kind', 'io.x-k8s.kind.role': 'worker' }),
    c('kind-control-plane', { 'io.x-k8s.kind.cluster': 'kind', 'io.x-k8s.kind.role': 'control-plane' }),
    c('kind-external-load-balancer', { 'io.x-k8s.kind.cluster': 'kind', 'io.x-k8s.kind.role': 'external-load-balancer' }),
    c('k3d-dev-server-0', { 'k3d.cluster': 'dev', 'k3d.role': 'server' }),
    c('k3d-dev-agent-0', { 'k3d.cluster': 'dev', 'k3d.role': 'agent' }),
    c('k3d-dev-serverlb', { 'k3d.cluster': 'dev', 'k3d.role': 'loadbalancer' }),
    c('k3d-dev-registry', { 'k3d.cluster': 'dev', 'k3d.role': 'registry' }),
    c('unrelated', {}),
  ];

  it('selects the Kubernetes nodes of kind and k3d clusters by label, not their load balancers or registries', () => {
    expect(selectClusterNodes(containers, 'kind').map((n) => [n.name, n.tool])).toEqual([['kind-control-plane', 'kind'], ['kind-worker', 'kind']]);
    expect(selectClusterNodes(containers, 'dev').map((n) => [n.name, n.tool, n.id])).toEqual([['k3d-dev-agent-0', 'k3d', 'id-k3d-dev-agent-0'], ['k3d-dev-server-0', 'k3d', 'id-k3d-dev-server-0']]);
    expect(selectClusterNodes(containers).map((n) => n.cluster)).toEqual(['dev', 'dev', 'kind', 'kind']);
  });

  it('uploads a tar of one root-owned file with its mode, which tar reads back byte for byte', async () => {
    const data = Buffer.from('#!/bin/sh\nexit 0\n'.repeat(100));
    const archive = tarOfOneFile('.shim.kubewasm-1', data, 0o755);
    expect(archive.length % 512).toBe(0);
    const entries: Array<{ path: string; mode: number; uid: number; body: Buffer }> = [];
    await new Promise<void>((resolve, reject) => {
      const parser = new Parser({
        onReadEntry: (entry) => {
          const chunks: Buffer[] = [];
          entry.on('data', (d: Buffer) => chunks.push(d));
          entry.on('end', () => entries.push({ path: entry.path, mode: entry.mode ?? 0, uid: entry.uid ?? -1, body: Buffer.concat(chunks) }));
        },
      });
      parser.on('end', resolve);
      parser.on('error', reject);
      parser.end(archive);
    });
    expect(entries).toEqual([{ path: '.shim.kubewasm-1', mode: 0o755, uid: 0, body: data }]);
  });

  it('honours DOCKER_HOST (unix:// and tcp://) and refuses what it cannot speak', () => {
    expect(dockerEndpoint(undefined)).toEqual({ socketPath: '/var/run/docker.sock', url: 'unix:///var/run/docker.sock' });
    expect(dockerEndpoint('unix:///run/user/1000/docker.sock').socketPath).toBe('/run/user/1000/docker.sock');
    expect(dockerEndpoint('tcp://127.0.0.1:2375')).toMatchObject({ host: '127.0.0.1', port: 2375 });
    expect(() => dockerEndpoint('ssh://me@host')).toThrow(/not supported/);
  });
});
