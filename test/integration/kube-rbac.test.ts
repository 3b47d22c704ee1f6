// "The node installer patches only its own Node", shown against a real
// kube-apiserver: RBAC gives its service account get/list/watch/patch on Nodes
// and nothing else; the own-node ValidatingAdmissionPolicy refuses any change
// to a Node other than the one in the token's node claim, any change of a
// label or annotation outside kubewasm's, the opt-in label, and the spec.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube, loadKubeConfig } from '../../lib/kube/client.js';
import { installObjects } from '../../lib/kube/manifests.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { createNode, installerTokenOnNode, startApiserver, waitForOwnNodePolicy, type TestApiserver } from '../support/apiserver.js';

describe('the node installer may change only its own Node (RBAC + ValidatingAdmissionPolicy, real kube-apiserver)', () => {
  let api: TestApiserver;
  let installer: Kube;
  const attempt = async (f: () => Promise<unknown>): Promise<string> => {
    try {
      await f();
      return 'allowed';
    } catch (err) {
      return (err as Error).message;
    }
  };

  beforeAll(async () => {
    api = await startApiserver();
    const admin = new Kube(loadKubeConfig({ kubeconfig: api.kubeconfig }));
    createNode(api, 'node-a');
    createNode(api, 'node-b');
    for (const object of installObjects({ image: 'kubewasm.io/node-installer:test', shims: [SHIMS.wasmtime, SHIMS.spin] })) await admin.apply(object);
    const token = await installerTokenOnNode(api, 'node-a');
    await waitForOwnNodePolicy(api, token, 'node-b');
    installer = new Kube(loadKubeConfig({ kubeconfig: api.tokenKubeconfig(token, 'installer') }));
  });
  afterAll(async () => api?.stop());

  it("its token carries the node claim the policy checks", async () => {
    const token = await installerTokenOnNode(api, 'node-a');
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { 'kubernetes.io': { node: { name: string } } };
    expect(claims['kubernetes.io'].node.name).toBe('node-a');
  });

  it('may set and remove kubewasm labels and annotations on its own Node', async () => {
    expect(await attempt(() => installer.patchNode('node-a', { metadata: { labels: { 'runtime.kubewasm.io/wasmtime': 'ready', 'kubewasm.io/managed': 'true' }, annotations: { 'kubewasm.io/state': 'Ready' } } }))).toBe('allowed');
    expect(await attempt(() => installer.patchNode('node-a', { metadata: { labels: { 'runtime.kubewasm.io/wasmtime': null }, annotations: { 'kubewasm.io/state': null } } }))).toBe('allowed');
  });

  it('may not change another Node', async () => {
    const denied = await attempt(() => installer.patchNode('node-b', { metadata: { labels: { 'runtime.kubewasm.io/wasmtime': 'ready' } } }));
    expect(denied).toContain('forbidden');
    expect(denied).toContain('may change only the Node its pod runs on (node-a), not node-b');
  });

  it('may not set the opt-in label, other labels or annotations, or the spec of its own Node', async () => {
    expect(await attempt(() => installer.patchNode('node-a', { metadata: { labels: { 'kubewasm.io/enabled': 'true' } } }))).toContain('never kubewasm.io/enabled');
    expect(await attempt(() => installer.patchNode('node-a', { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '' } } }))).toContain('only kubewasm.io/ and runtime.kubewasm.io/ labels');
    expect(await attempt(() => installer.patchNode('node-a', { metadata: { labels: { 'kubernetes.io/hostname': null } } }))).toContain('only kubewasm.io/ and runtime.kubewasm.io/ labels');
    expect(await attempt(() => installer.patchNode('node-a', { metadata: { annotations: { 'example.com/note': 'x' } } }))).toContain('only kubewasm.io/ annotations');
    expect(await attempt(() => installer.patchNode('node-a', { spec: { unschedulable: true } }))).toContain("may not change a Node's spec");
  });

  it('a token of its service account that is not bound to a pod on a node may change no Node', async () => {
    const unbound = api.kubectl(['-n', 'kubewasm-system', 'create', 'token', 'kubewasm-node-installer', '--duration', '1h']).trim();
    const kube = new Kube(loadKubeConfig({ kubeconfig: api.tokenKubeconfig(unbound, 'unbound') }));
    expect(await attempt(() => kube.patchNode('node-a', { metadata: { labels: { 'runtime.kubewasm.io/wasmtime': 'ready' } } }))).toContain('no node in its token');
  });

  it('RBAC: it reads Nodes, and may not delete them or touch anything else', async () => {
    expect(await attempt(() => installer.listNodes())).toBe('allowed');
    expect(await attempt(() => installer.call('delete node', () => installer.core.deleteNode({ name: 'node-b' })))).toMatch(/cannot delete resource "nodes"/);
    expect(await attempt(() => installer.listPods())).toMatch(/cannot list resource "pods"/);
    expect(await attempt(() => installer.call('list secrets', () => installer.core.listNamespacedSecret({ namespace: 'kubewasm-system' })))).toMatch(/cannot list resource "secrets"/);
    expect(await attempt(() => installer.call('patch node status', () => installer.core.patchNodeStatus({ name: 'node-a', body: [] })))).toMatch(/forbidden/);
  });
});
