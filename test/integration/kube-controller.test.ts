// The node installer's controller against a real kube-apiserver (RBAC and the
// own-node admission policy in force, the controller using a service account
// token bound to a pod on its Node, as in the DaemonSet) and a real containerd
// standing in for the node: no kubelet, but every byte the controller writes
// to the node and every label it writes to the Node is real.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube, loadKubeConfig } from '../../lib/kube/client.js';
import { NodeController } from '../../lib/kube/controller.js';
import { installObjects } from '../../lib/kube/manifests.js';
import { ANNOTATIONS, desiredDigest, MANAGED_LABEL, OPT_IN_LABEL, readyLabel } from '../../lib/kube/names.js';
import type { ConvergeOptions } from '../../lib/node/converge.js';
import { LocalHost } from '../../lib/host/local.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { createNode, installerTokenOnNode, startApiserver, waitForOwnNodePolicy, type TestApiserver } from '../support/apiserver.js';
import { CONTAINERD_BUILDS, CRICTL, testContainerd, writeStandInShim, type TestContainerd } from '../../scripts/lab/support/containerd.js';

process.env['PATH'] = `${path.dirname(CRICTL)}:${process.env['PATH']}`;
const fixture = new URL('../fixtures/containerd/containerd-2.2.9-default.toml', import.meta.url).pathname;

describe('node installer controller (real kube-apiserver, real containerd 2.2)', () => {
  let api: TestApiserver;
  let admin: Kube;
  let containerd: TestContainerd;
  let controller: NodeController;
  let original: Buffer;
  let options: ConvergeOptions;
  const shimDir = mkdtempSync(path.join(tmpdir(), 'kubewasm-shims-'));
  const logs: string[] = [];

  const node = async (name = 'node-a') => (await admin.readNode(name))!;
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}; controller log:\n${logs.slice(-20).join('\n')}`);
  };

  beforeAll(async () => {
    api = await startApiserver();
    admin = new Kube(loadKubeConfig({ kubeconfig: api.kubeconfig }));
    createNode(api, 'node-a');
    createNode(api, 'node-b');
    for (const object of installObjects({ image: 'kubewasm.io/node-installer:test', shims: [SHIMS.wasmtime] })) await admin.apply(object);
    const token = await installerTokenOnNode(api, 'node-a');
    await waitForOwnNodePolicy(api, token, 'node-b');

    containerd = testContainerd(CONTAINERD_BUILDS['2.2']);
    copyFileSync(fixture, containerd.configPath);
    original = readFileSync(containerd.configPath);
    containerd.start();
    writeStandInShim(shimDir, SHIMS.wasmtime.binaryName);
    options = {
      containerd: { configPath: containerd.configPath, address: containerd.socket, binary: containerd.binary, shimDir: containerd.shimDir, restart: { kind: 'command', argv: ['sh', containerd.restartScript] } },
      stateDir: path.join(containerd.dir, 'state-kubewasm'),
      criTimeoutMs: 30_000,
    };
    const shims = await shimsFromDir(shimDir, [SHIMS.wasmtime]);
    controller = new NodeController({
      kube: new Kube(loadKubeConfig({ kubeconfig: api.tokenKubeconfig(token, 'installer-node-a') })),
      nodeName: 'node-a',
      host: new LocalHost({ name: 'node-a' }),
      desired: { shims },
      desiredDigest: desiredDigest({ image: 'kubewasm.io/node-installer:test', shims: ['wasmtime'] }),
      nodeOptions: options,
      resyncMs: 2_000,
      log: (line) => logs.push(line),
    });
    controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
    containerd?.cleanup();
    await api?.stop();
    rmSync(shimDir, { recursive: true, force: true });
  });

  it('does nothing to a node that is not opted in, and says it is ready', async () => {
    await until('the first reconcile', async () => controller.status.ready);
    expect(readFileSync(containerd.configPath)).toEqual(original);
    const labels = (await node()).metadata?.labels ?? {};
    expect(Object.keys(labels).filter((k) => k.includes('kubewasm'))).toEqual([]);
  });

  it('converges when the opt-in label appears: shim on the node, runtime in containerd, ready label and annotations on the Node', async () => {
    await admin.patchNode('node-a', { metadata: { labels: { [OPT_IN_LABEL]: 'true' } } });
    await until('the wasmtime ready label', async () => (await node()).metadata?.labels?.[readyLabel('wasmtime')] === 'ready');
    const n = await node();
    expect(n.metadata?.labels?.[MANAGED_LABEL]).toBe('true');
    expect(n.metadata?.annotations?.[ANNOTATIONS.state]).toBe('Ready');
    expect(JSON.parse(n.metadata?.annotations?.[ANNOTATIONS.shims] ?? '[]')).toEqual([expect.objectContaining({ name: 'wasmtime', runtime: 'wasmtime' })]);
    expect(n.metadata?.annotations?.[ANNOTATIONS.containerd]).toMatch(/^v2\.2\.9 config v3 /);
    expect(containerd.criInfo().config.containerd.runtimes).toHaveProperty('wasmtime');
    expect(readFileSync(path.join(containerd.shimDir, SHIMS.wasmtime.binaryName)).length).toBeGreaterThan(0);
    // Node B is untouched: the controller only ever wrote to its own Node.
    expect(Object.keys((await node('node-b')).metadata?.labels ?? {}).filter((k) => k.includes('kubewasm'))).toEqual([]);
  });

  it('trusts the node, not its labels: a node that lost its files (re-imaged) is converged again', async () => {
    rmSync(path.join(containerd.shimDir, SHIMS.wasmtime.binaryName));
    rmSync(options.stateDir!, { recursive: true, force: true });
    writeFileSync(containerd.configPath, original);
    containerd.start();
    await until('the shim back on the node', async () => {
      try {
        readFileSync(path.join(containerd.shimDir, SHIMS.wasmtime.binaryName));
        return containerd.criInfo().config.containerd.runtimes['wasmtime'] !== undefined && (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Ready';
      } catch {
        return false;
      }
    });
  });

  it('resets when the label is removed: the config is byte-for-byte the original, no kubewasm label or annotation is left', async () => {
    await admin.patchNode('node-a', { metadata: { labels: { [OPT_IN_LABEL]: null } } });
    await until('the managed label to go', async () => (await node()).metadata?.labels?.[MANAGED_LABEL] === undefined);
    expect(readFileSync(containerd.configPath)).toEqual(original);
    expect(() => readFileSync(path.join(containerd.shimDir, SHIMS.wasmtime.binaryName))).toThrow();
    expect(containerd.criInfo().config.containerd.runtimes).not.toHaveProperty('wasmtime');
    const n = await node();
    expect(Object.keys(n.metadata?.labels ?? {}).filter((k) => k.includes('kubewasm'))).toEqual([]);
    expect(Object.keys(n.metadata?.annotations ?? {}).filter((k) => k.includes('kubewasm'))).toEqual([]);
  });

  it('records a failure with its time, sets no ready label, rolls back, and retries', async () => {
    const script = readFileSync(containerd.restartScript, 'utf8');
    // containerd refuses to start while this marker exists: the restart after the config write fails.
    writeFileSync(containerd.restartScript, `[ -e ${containerd.dir}/broken ] && { echo "containerd: broken on purpose" >&2; exit 1; }\n${script}`);
    writeFileSync(path.join(containerd.dir, 'broken'), '');
    try {
      await admin.patchNode('node-a', { metadata: { labels: { [OPT_IN_LABEL]: 'true' } } });
      await until('the Failed state', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Failed');
      const n = await node();
      expect(n.metadata?.annotations?.[ANNOTATIONS.lastError]).toContain('broken on purpose');
      expect(Date.parse(n.metadata?.annotations?.[ANNOTATIONS.lastErrorTime] ?? '')).toBeGreaterThan(Date.now() - 120_000);
      expect(n.metadata?.labels?.[readyLabel('wasmtime')]).toBeUndefined();
      expect(readFileSync(containerd.configPath)).toEqual(original);
      expect(controller.status.ready).toBe(false);
    } finally {
      rmSync(path.join(containerd.dir, 'broken'));
      writeFileSync(containerd.restartScript, script);
    }
    containerd.start();
    await until('the retry to succeed', async () => (await node()).metadata?.labels?.[readyLabel('wasmtime')] === 'ready', 90_000);
    expect((await node()).metadata?.annotations?.[ANNOTATIONS.lastError]).toBeUndefined();
    await admin.patchNode('node-a', { metadata: { labels: { [OPT_IN_LABEL]: null } } });
    await until('the reset', async () => (await node()).metadata?.labels?.[MANAGED_LABEL] === undefined);
    expect(readFileSync(containerd.configPath)).toEqual(original);
  });
});
