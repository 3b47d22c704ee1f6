// manifests/ as a user applies it (`kubectl apply -f manifests/kubewasm.yaml`),
// checked by a real kube-apiserver v1.34 rather than by the code that wrote
// it: a server-side dry run with strict field validation (an unknown or
// misspelt field, a wrong type, an invalid ValidatingAdmissionPolicy
// expression or a missing required field is refused), then a real apply
// whose objects the server keeps as written.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiserver, type TestApiserver } from '../support/apiserver.js';

const manifests = new URL('../../manifests/', import.meta.url).pathname;
const files = readdirSync(manifests).filter((f) => f.endsWith('.yaml')).sort();

/** kubectl's exit code and output, never throwing. */
function kubectl(api: TestApiserver, args: string[], input?: string): { code: number; out: string } {
  try {
    return { code: 0, out: api.kubectl(args, input) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** "Kind/name" of every object in a multi-document YAML text (the manifests are written by kubewasm: one kind and one name per document). */
function objectsOf(text: string): string[] {
  return text
    .split(/^---$/m)
    .map((doc) => [doc.match(/^kind: (\S+)$/m)?.[1], doc.match(/^ {2}name: (\S+)$/m)?.[1]])
    .filter(([kind, name]) => kind && name)
    .map(([kind, name]) => `${kind}/${name}`);
}

describe('manifests/ against a real kube-apiserver', () => {
  let api: TestApiserver;

  beforeAll(async () => {
    api = await startApiserver();
    // The namespaced objects need their namespace to exist for a dry run (a dry-run Namespace is not kept).
    api.kubectl(['create', 'namespace', 'kubewasm-system']);
  });
  afterAll(async () => api?.stop());

  it('there are manifests to check', () => {
    expect(files).toEqual(expect.arrayContaining(['kubewasm.yaml', 'kubewasm-all-shims.yaml']));
  });

  it.each(files)('%s: a server-side dry run with strict validation accepts every object', (file) => {
    const text = readFileSync(path.join(manifests, file), 'utf8');
    const expected = objectsOf(text);
    expect(expected.length).toBeGreaterThanOrEqual(8);
    const run = kubectl(api, ['apply', '--dry-run=server', '--validate=strict', '-o', 'name', '-f', path.join(manifests, file)]);
    expect(run.out).not.toMatch(/error|warning|unknown field/i);
    expect(run.code, run.out).toBe(0);
    // `-o name` prints resource.group/name: every object of the file, none left out.
    const accepted = run.out.trim().split('\n').map((line) => line.replace(/^([a-z]+)[a-z0-9.]*\//, '$1/'));
    expect(accepted.sort()).toEqual(expected.map((o) => o.replace(/^[^/]+/, (kind) => kind.toLowerCase())).sort());
  });

  it('the check can fail: a misspelt field and a broken policy expression are refused', () => {
    const text = readFileSync(path.join(manifests, 'kubewasm.yaml'), 'utf8');
    const misspelt = kubectl(api, ['apply', '--dry-run=server', '--validate=strict', '-f', '-'], text.replace('hostPID: true', 'hostPid: true'));
    expect(misspelt.code).not.toBe(0);
    expect(misspelt.out).toMatch(/unknown field "spec.template.spec.hostPid"/);
    const broken = kubectl(api, ['apply', '--dry-run=server', '--validate=strict', '-f', '-'], text.replace(/expression: (["'])?request\./, 'expression: $1request..'));
    expect(broken.code).not.toBe(0);
    expect(broken.out).toMatch(/ValidatingAdmissionPolicy.*(compil|Syntax error|invalid)/is);
  });

  it('kubewasm.yaml applies for real, and the server keeps what it says', () => {
    const file = path.join(manifests, 'kubewasm.yaml');
    const run = kubectl(api, ['apply', '--validate=strict', '-f', file]);
    expect(run.code, run.out).toBe(0);
    const ds = JSON.parse(api.kubectl(['-n', 'kubewasm-system', 'get', 'daemonset', 'kubewasm-node-installer', '-o', 'json']));
    expect(ds.spec.template.spec.hostPID).toBe(true);
    expect(ds.spec.template.spec.serviceAccountName).toBe('kubewasm-node-installer');
    const rc = JSON.parse(api.kubectl(['get', 'runtimeclass', 'wasmtime', '-o', 'json']));
    expect(rc).toMatchObject({ handler: 'wasmtime', scheduling: { nodeSelector: { 'runtime.kubewasm.io/wasmtime': 'ready' } } });
    const policy = JSON.parse(api.kubectl(['get', 'validatingadmissionpolicy', '-o', 'json'])).items;
    expect(policy).toHaveLength(1);
    // A second apply changes nothing: the file is what the server holds.
    expect(kubectl(api, ['diff', '-f', file]).code).toBe(0);
  });
});
