// What a user reads when the API cannot be reached, refuses, or the kubeconfig is wrong.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../lib/kube/client.js';
import { explainKubeError, kubeErrorFacts } from '../../lib/kube/api-errors.js';

// What @kubernetes/client-node 1.x throws: ApiException { code, body (the Status as text) } or node-fetch's FetchError.
const apiException = (code: number, status: object) => Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify(status), headers: {} });
const fetchError = (code: string) => Object.assign(new Error(`request to https://10.0.0.1:6443/api/v1/nodes failed, reason: connect ${code}`), { type: 'system', code, errno: code });

describe('explainKubeError', () => {
  it('forbidden by RBAC: the API message and what to ask for', () => {
    const err = explainKubeError(apiException(403, { kind: 'Status', reason: 'Forbidden', message: 'nodes is forbidden: User "dev" cannot list resource "nodes"' }), 'list nodes', { server: 'https://k:6443', context: 'dev' });
    expect(err.message).toBe(`https://k:6443`.replace(/^/, 'API server ') + ': cannot list nodes: forbidden: nodes is forbidden: User "dev" cannot list resource "nodes"\n  fix: ask a cluster admin for that permission, or use a context with it (context \'dev\') (kubectl auth can-i …)');
  });

  it('refused by an admission policy', () => {
    const err = explainKubeError(apiException(403, { message: "nodes \"b\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'p' denied request: no" }), 'patch node b');
    expect(err.fix).toBe('an admission policy refused it; see the message above');
  });

  it('unreachable, untrusted, unauthorized, missing API', () => {
    expect(explainKubeError(fetchError('ECONNREFUSED'), 'list nodes').what).toBe('cannot list nodes: the Kubernetes API is unreachable (ECONNREFUSED)');
    expect(explainKubeError(fetchError('SELF_SIGNED_CERT_IN_CHAIN'), 'list nodes').what).toMatch(/TLS certificate is not trusted/);
    expect(explainKubeError(Object.assign(new Error('Unauthorized'), { code: 401, body: undefined }), 'list nodes').what).toMatch(/did not accept the credentials/);
    expect(explainKubeError(apiException(404, { message: 'the server could not find the requested resource' }), 'apply ValidatingAdmissionPolicy x').fix).toMatch(/Kubernetes >= 1.32/);
    expect(explainKubeError(new Error('Required spec property kind is not set'), 'delete x').what).toBe('cannot delete x: Required spec property kind is not set');
  });

  it('facts from a body that is not JSON', () => {
    expect(kubeErrorFacts(Object.assign(new Error('x'), { code: 500, body: 'etcdserver: leader changed' }))).toEqual({ status: 500, message: 'etcdserver: leader changed', reason: undefined });
  });
});

describe('loadKubeConfig', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-kc-'));
  const file = path.join(dir, 'config');
  writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: { server: 'https://a.example:6443' }
- name: b
  cluster: { server: 'https://b.example:6443' }
users:
- name: u
  user: { token: t }
contexts:
- name: ctx-a
  context: { cluster: a, user: u }
- name: ctx-b
  context: { cluster: b, user: u }
current-context: ctx-a
`);

  it('an explicit file, its current context, or the context asked for', () => {
    expect(loadKubeConfig({ kubeconfig: file }).getCurrentCluster()?.server).toBe('https://a.example:6443');
    expect(loadKubeConfig({ kubeconfig: file, context: 'ctx-b' }).getCurrentCluster()?.server).toBe('https://b.example:6443');
  });

  it('$KUBECONFIG when no file is given: its files merged, the first one to set a name or the context wins', () => {
    const second = path.join(dir, 'second');
    writeFileSync(second, `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: { server: 'https://elsewhere.example:6443' }
- name: c
  cluster: { server: 'https://c.example:6443' }
users: []
contexts:
- name: ctx-c
  context: { cluster: c, user: u }
current-context: ctx-c
`);
    expect(loadKubeConfig({ context: 'ctx-b' }, { KUBECONFIG: file }).getCurrentContext()).toBe('ctx-b');
    const merged = loadKubeConfig({}, { KUBECONFIG: `${file}:${second}` });
    expect(merged.getCurrentContext()).toBe('ctx-a');
    expect(merged.getCurrentCluster()?.server).toBe('https://a.example:6443');
    expect(loadKubeConfig({ context: 'ctx-c' }, { KUBECONFIG: `${file}:${second}` }).getCurrentCluster()?.server).toBe('https://c.example:6443');
  });

  it('bad usage: a missing file, an unknown context', () => {
    expect(() => loadKubeConfig({ kubeconfig: path.join(dir, 'nope') })).toThrow(/does not exist/);
    try {
      loadKubeConfig({ kubeconfig: file, context: 'ctx-z' });
      expect.unreachable();
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
      expect((err as Error).message).toContain('choose one of: ctx-a, ctx-b');
    }
  });
});
