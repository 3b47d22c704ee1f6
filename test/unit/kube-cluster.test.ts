// The commands `kubewasm cluster create | delete` run for each provider (pure plans).
import { describe, expect, it } from 'vitest';
import { clusterContext, createPlan, deletePlan, logPlan, parseProvider, type ClusterSpec } from '../../lib/kube/cluster-plan.js';

const kind: ClusterSpec = { provider: 'kind', name: 'ci', config: '/w/kind-config.yaml', image: 'kubewasm-lab/kind-node:v1.34.4-abc', kubeconfig: '/tmp/kc', waitMs: 300_000 };

describe('cluster plans', () => {
  it('kind: create with its config and image, retained on failure so logs can be exported, into the given kubeconfig', () => {
    expect(createPlan(kind).map((s) => s.argv)).toEqual([
      ['kind', 'create', 'cluster', '--name', 'ci', '--kubeconfig', '/tmp/kc', '--retain', '--wait', '300s', '--config', '/w/kind-config.yaml', '--image', 'kubewasm-lab/kind-node:v1.34.4-abc'],
    ]);
    expect(clusterContext(kind)).toBe('kind-ci');
    expect(deletePlan(kind).map((s) => s.argv)).toEqual([['kind', 'delete', 'cluster', '--name', 'ci', '--kubeconfig', '/tmp/kc']]);
  });

  it("kind: logs are kind's export plus each node's containerd journal", () => {
    const steps = logPlan(kind, '/logs', ['ci-control-plane', 'ci-worker']);
    expect(steps.map((s) => s.argv)).toEqual([
      ['kind', 'export', 'logs', '/logs/kind', '--name', 'ci'],
      ['docker', 'exec', 'ci-control-plane', 'journalctl', '-u', 'containerd', '--no-pager', '-o', 'short-precise'],
      ['docker', 'exec', 'ci-worker', 'journalctl', '-u', 'containerd', '--no-pager', '-o', 'short-precise'],
    ]);
    expect(steps[2]?.stdoutFile).toBe('/logs/nodes/ci-worker/containerd.journal');
  });

  it("k3d: create without touching the default kubeconfig, then write the cluster's own", () => {
    const k3d: ClusterSpec = { provider: 'k3d', name: 'kubewasm', kubeconfig: '/tmp/kc', waitMs: 90_000 };
    expect(createPlan(k3d).map((s) => s.argv)).toEqual([
      ['k3d', 'cluster', 'create', 'kubewasm', '--wait', '--timeout', '90s', '--kubeconfig-update-default=false', '--kubeconfig-switch-context=false'],
      ['k3d', 'kubeconfig', 'write', 'kubewasm', '--output', '/tmp/kc'],
    ]);
    expect(clusterContext(k3d)).toBe('k3d-kubewasm');
    expect(logPlan(k3d, '/logs', ['k3d-kubewasm-server-0']).map((s) => s.argv)).toEqual([['docker', 'logs', 'k3d-kubewasm-server-0']]);
  });

  it('an unknown provider is bad usage; the lab needs a clone', () => {
    expect(() => parseProvider('minikube')).toThrow(/unknown --provider 'minikube'/);
    expect(parseProvider(undefined)).toBe('kind');
    expect(() => createPlan({ provider: 'lab', name: 'x', kubeconfig: '/k', waitMs: 1000 })).toThrow(/needs a kubewasm clone/);
  });
});
