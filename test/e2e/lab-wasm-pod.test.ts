// The proof of the whole idea (issue 6): on each lab node (containerd 1.6,
// 2.2 and 2.4), kubewasm installs the wasmtime shim through the docker
// transport; then a real kubelet runs a real Wasm pod through it, and its log,
// read back through the API, holds the module's line. The same pod with runc
// as handler fails, so the test cannot pass by accident. Then kubewasm
// removes it all and the node's config is byte for byte what it was.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergeNode, resetNode } from '../../lib/node/converge.js';
import { DockerApi } from '../../lib/host/docker-api.js';
import { DockerHost } from '../../lib/host/docker.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { labEnv, labKubeConfig, waitFor, type LabEnv } from '../support/lab.js';

const WASM_CLASS = 'e2e-lab-wasmtime';
const RUNC_CLASS = 'e2e-lab-runc';
const EXPECTED_LINE = 'hello from kubewasm wasm';

let env: LabEnv;
let core: k8s.CoreV1Api;
let nodeApi: k8s.NodeV1Api;
const docker = new DockerApi();

async function labNodes(): Promise<Array<{ name: string; id: string; containerd: string }>> {
  const containers = await docker.listContainers(['io.kubewasm.lab.node']);
  return containers
    .map((c) => ({ name: c.Labels['io.kubewasm.lab.node']!, id: c.Id, containerd: c.Labels['io.kubewasm.lab.containerd'] ?? '?' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function podSpec(name: string, node: string, runtimeClassName: string): k8s.V1Pod {
  return {
    metadata: { name, labels: { 'app.kubernetes.io/part-of': 'kubewasm-e2e' } },
    spec: {
      nodeName: node,
      runtimeClassName,
      restartPolicy: 'Never',
      containers: [{ name: 'hello', image: env.smokeImage, imagePullPolicy: 'Never' }],
    },
  };
}

async function podPhase(name: string): Promise<k8s.V1Pod> {
  return core.readNamespacedPod({ name, namespace: 'default' });
}

async function waitForPhase(name: string, phases: string[], timeoutMs = 120_000): Promise<k8s.V1Pod> {
  return waitFor(
    `pod ${name} to reach ${phases.join(' or ')}`,
    async () => {
      const pod = await podPhase(name);
      return phases.includes(pod.status?.phase ?? '') ? pod : undefined;
    },
    timeoutMs,
    async () => JSON.stringify((await podPhase(name)).status?.containerStatuses?.[0]?.state ?? {}),
  );
}

async function deletePod(name: string): Promise<void> {
  await core.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 }).catch(() => undefined);
}

beforeAll(async () => {
  env = labEnv();
  const kc = labKubeConfig(env);
  core = kc.makeApiClient(k8s.CoreV1Api);
  nodeApi = kc.makeApiClient(k8s.NodeV1Api);
  for (const [name, handler] of [[WASM_CLASS, 'wasmtime'], [RUNC_CLASS, 'runc']] as const) {
    await nodeApi.deleteRuntimeClass({ name }).catch(() => undefined);
    await nodeApi.createRuntimeClass({ body: { metadata: { name }, handler } });
  }
});

afterAll(async () => {
  for (const name of [WASM_CLASS, RUNC_CLASS]) await nodeApi?.deleteRuntimeClass({ name }).catch(() => undefined);
});

describe('a real Wasm pod through a shim kubewasm installed', async () => {
  const nodes = await labNodes();
  it('the lab has a node for each containerd', () => {
    expect(nodes.map((n) => n.containerd)).toEqual(['1.6', '2.2', '2.4']);
  });

  describe.each(nodes)('$name (containerd $containerd)', (node) => {
    const host = new DockerHost(docker, { id: node.id, name: node.name });
    let originalConfig: Buffer | undefined;

    it('kubewasm installs the wasmtime shim and registers it with the node\'s containerd', async () => {
      originalConfig = await host.readFile('/etc/containerd/config.toml');
      const bytes = readFileSync(env.shimBinary);
      const shim = { shim: SHIMS.wasmtime, localPath: env.shimBinary, sha256: createHash('sha256').update(bytes).digest('hex') };
      const result = await convergeNode(host, { shims: [shim] }, { criTimeoutMs: 60_000 });
      expect(result.applied).toBe(true);
      expect(result.plan.config.registered).toEqual(['wasmtime']);
    });

    it('a Wasm pod runs through it and its log holds the module\'s line', async () => {
      const name = `wasm-${node.name}`;
      await deletePod(name);
      await core.createNamespacedPod({ namespace: 'default', body: podSpec(name, node.name, WASM_CLASS) });
      try {
        const pod = await waitForPhase(name, ['Succeeded', 'Failed']);
        expect(pod.status?.phase).toBe('Succeeded');
        const log = await core.readNamespacedPodLog({ name, namespace: 'default' });
        expect(log).toBe(`${EXPECTED_LINE}\n`);
      } finally {
        await deletePod(name);
      }
    });

    it('the same pod with runc as handler fails: the image is Wasm, not Linux', async () => {
      const name = `runc-${node.name}`;
      await deletePod(name);
      await core.createNamespacedPod({ namespace: 'default', body: podSpec(name, node.name, RUNC_CLASS) });
      try {
        const pod = await waitFor(
          `pod ${name} to fail`,
          async () => {
            const p = await podPhase(name);
            const state = p.status?.containerStatuses?.[0]?.state;
            return p.status?.phase === 'Failed' || state?.terminated || state?.waiting?.reason === 'RunContainerError' || state?.waiting?.reason === 'CreateContainerError' ? p : undefined;
          },
          120_000,
        );
        expect(pod.status?.phase).not.toBe('Succeeded');
        const state = pod.status?.containerStatuses?.[0]?.state;
        // What a user sees: runc starts the container (its events say Created, Started: runc reports no
        // exec format error on this lab), the Wasm module cannot run as a Linux program, the container
        // exits non-zero and the module's line is never printed.
        expect(state?.terminated?.exitCode, JSON.stringify(state)).toBeGreaterThan(0);
        expect(state?.terminated?.reason).toMatch(/^(Error|StartError)$/);
        const log = await core.readNamespacedPodLog({ name, namespace: 'default' }).catch(() => '');
        expect(log).not.toContain(EXPECTED_LINE);
      } finally {
        await deletePod(name);
      }
    });

    it('kubewasm removes it again: the config is byte for byte the original', async () => {
      const result = await resetNode(host, { criTimeoutMs: 60_000 });
      expect(result.applied).toBe(true);
      const after = await host.readFile('/etc/containerd/config.toml');
      expect(after?.equals(originalConfig!)).toBe(true);
      expect(await host.stat('/usr/local/bin/containerd-shim-wasmtime-v1')).toBeUndefined();
    });
  });
});
