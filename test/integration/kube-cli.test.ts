// The cluster commands (install, label, unlabel, status, verify, uninstall,
// manifests) as a user runs them, against a real kube-apiserver with
// kube-controller-manager (no kubelet: the node installer's reports are
// written by the test where a controller would write them; the controller
// itself is tested in kube-controller.test.ts).
import { execFile, execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS, desiredDigest, MANAGED_LABEL, OPT_IN_LABEL, readyLabel } from '../../lib/kube/names.js';
import type { ClusterStatus } from '../../lib/kube/status.js';
import { createNode, startApiserver, type TestApiserver } from '../support/apiserver.js';

const cli = new URL('../../dist/cmd/kubewasm.js', import.meta.url).pathname;
const IMAGE = 'registry.example/kubewasm/node-installer:test';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI's real exit code (a signal or a spawn failure is none of 0, 1, 2, 130: never mistaken for one). */
const exitCode = (err: { code?: unknown; signal?: unknown } | null): number => (err ? (typeof err.code === 'number' ? err.code : -1) : 0);

describe('cluster commands against a real kube-apiserver', () => {
  let api: TestApiserver;
  const kubewasm = (args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(process.execPath, [cli, ...args, '--kubeconfig', api.kubeconfig], { env: { ...process.env, CI: '1' } }, (err, stdout, stderr) => {
        resolve({ code: exitCode(err), stdout, stderr });
      });
    });
  const json = (args: string[]) => JSON.parse(api.kubectl([...args, '-o', 'json'])) as { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } };
  const kubewasmLabels = (node: string) => Object.keys(json(['get', 'node', node]).metadata.labels ?? {}).filter((k) => k.includes('kubewasm'));
  /** What the node installer writes when it has converged the node. */
  const reportReady = (node: string, desired: string) =>
    api.kubectl(['patch', 'node', node, '--type', 'merge', '-p', JSON.stringify({
      metadata: {
        labels: { [MANAGED_LABEL]: 'true', [readyLabel('wasmtime')]: 'ready' },
        annotations: { [ANNOTATIONS.state]: 'Ready', [ANNOTATIONS.desired]: desired, [ANNOTATIONS.shims]: JSON.stringify([{ name: 'wasmtime', version: '0.6.0', sha256: 'ab'.repeat(32), runtime: 'wasmtime' }]), [ANNOTATIONS.containerd]: 'v2.2.9 config v3 /etc/containerd/config.toml' },
      },
    })]);
  const waitFor = async (check: () => boolean, what: string) => {
    for (let i = 0; i < 300; i++) {
      if (check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  beforeAll(async () => {
    api = await startApiserver({ controllerManager: true });
    createNode(api, 'node-a');
    createNode(api, 'node-b');
  });
  afterAll(async () => api?.stop());

  it('install --dry-run validates every object with the API server and changes nothing', async () => {
    const run = await kubewasm(['install', 'node-a', '--image', IMAGE, '--load', 'none', '--dry-run']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('DaemonSet kubewasm-system/kubewasm-node-installer (dry run: created; validated in namespace default: kubewasm-system does not exist yet)');
    expect(run.stdout).toContain('RuntimeClass wasmtime (dry run: created)');
    expect(run.stdout).toContain('would label node-a kubewasm.io/enabled=true');
    expect(() => api.kubectl(['get', 'namespace', 'kubewasm-system'])).toThrow();
    expect(kubewasmLabels('node-a')).toEqual([]);
  });

  it('install with no node chosen and none opted in is bad usage', async () => {
    const run = await kubewasm(['install', '--image', IMAGE, '--load', 'none']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no node is opted in yet');
  });

  it('install applies the objects, labels the node and waits until it reports ready; times out clearly otherwise', async () => {
    const timedOut = await kubewasm(['install', 'node-a', '--image', IMAGE, '--load', 'none', '--no-verify', '--timeout', '3s']);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stderr).toMatch(/timed out after 3s waiting for node-a \(waiting for the installer pod\)/);
    expect(json(['get', 'node', 'node-a']).metadata.labels?.[OPT_IN_LABEL]).toBe('true');

    const running = kubewasm(['install', 'node-a', '--image', IMAGE, '--load', 'none', '--no-verify', '--timeout', '60s']);
    const desired = desiredDigest({ image: IMAGE, shims: ['wasmtime'] });
    // The DaemonSet's pod template names the spec the nodes must report.
    await waitFor(() => api.kubectl(['-n', 'kubewasm-system', 'get', 'ds', 'kubewasm-node-installer', '-o', 'jsonpath={.spec.template.metadata.annotations.kubewasm\\.io/desired}']) === desired, 'the DaemonSet');
    reportReady('node-a', desired);
    const run = await running;
    expect(run.stderr).toContain('1 of 1 node(s) ready');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('DaemonSet kubewasm-system/kubewasm-node-installer unchanged');
    expect(api.kubectl(['get', 'runtimeclass', 'wasmtime', '-o', 'jsonpath={.handler} {.scheduling.nodeSelector}'])).toBe('wasmtime {"runtime.kubewasm.io/wasmtime":"ready"}');
  });

  it('manifests: the YAML is accepted by the API server (server-side dry run, namespace in place)', () => {
    const yaml = execFileSync(process.execPath, [cli, 'manifests', '--shims', 'wasmtime,spin'], { encoding: 'utf8' });
    const out = api.kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
    expect(out).toContain('daemonset.apps/kubewasm-node-installer configured (server dry run)');
    expect(out).toContain('runtimeclass.node.k8s.io/wasmtime-spin-v2 created (server dry run)');
  });

  it('status: a table, and a stable JSON shape', async () => {
    const table = await kubewasm(['status']);
    expect(table.code).toBe(0);
    // 0.6.0 is named by GHSA-cc25-vq59-rcjx: status says so beside the version (lib/kube/status.ts).
    expect(table.stdout).toMatch(/node-a\s+yes\s+Ready\s+ready 0\.6\.0 \(affected: GHSA-cc25-vq59-rcjx\)\s+v2\.2\.9/);
    expect(table.stdout).toMatch(/node-b\s+no\s+-\s+-/);
    const status = JSON.parse((await kubewasm(['status', '-o', 'json'])).stdout) as ClusterStatus;
    expect(status.apiVersion).toBe('kubewasm.io/v1alpha1');
    expect(status.installer).toMatchObject({ installed: true, image: IMAGE, shims: ['wasmtime'] });
    expect(status.runtimeClasses).toEqual([{ name: 'wasmtime', handler: 'wasmtime', shim: 'wasmtime', nodeSelector: { 'runtime.kubewasm.io/wasmtime': 'ready' } }]);
    expect(status.nodes.find((n) => n.name === 'node-a')).toMatchObject({ enabled: true, managed: true, state: 'Ready', shims: [{ name: 'wasmtime', ready: true, version: '0.6.0', runtime: 'wasmtime' }], lastError: null });
    expect((await kubewasm(['status', '-o', 'yaml'])).stdout).toContain('apiVersion: kubewasm.io/v1alpha1');
  });

  it('label / unlabel: set and remove the opt-in label; unknown nodes and no nodes are refused', async () => {
    expect((await kubewasm(['label', 'node-b'])).stdout).toBe('node-b: labelled\n');
    expect((await kubewasm(['label', 'node-b'])).stdout).toBe('node-b: already labelled\n');
    expect(json(['get', 'node', 'node-b']).metadata.labels?.[OPT_IN_LABEL]).toBe('true');
    expect((await kubewasm(['unlabel', '-l', 'kubernetes.io/hostname=node-b'])).stdout).toBe('node-b: unlabelled\n');
    expect(kubewasmLabels('node-b')).toEqual([]);
    const unknown = await kubewasm(['label', 'node-z']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no node named node-z');
    expect(unknown.stderr).toContain("the cluster's nodes are: node-a, node-b");
    expect((await kubewasm(['label'])).code).toBe(2);
    expect((await kubewasm(['label', 'node-a', '--all-nodes'])).code).toBe(2);
  });

  it('verify: a pod that cannot run (no kubelet here) fails with what the pod is waiting for, and is deleted', async () => {
    const run = await kubewasm(['verify', '--timeout', '4s']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ RuntimeClass wasmtime: pod kubewasm-system\/kubewasm-verify-wasmtime-\w+ did not finish within 4s/);
    expect(api.kubectl(['-n', 'kubewasm-system', 'get', 'pods', '-l', 'kubewasm.io/verify', '-o', 'name']).trim()).toBe('');
  });

  it('uninstall refuses while a pod uses a kubewasm RuntimeClass', async () => {
    api.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'wasm-app', namespace: 'default' }, spec: { runtimeClassName: 'wasmtime', containers: [{ name: 'app', image: 'example/app:1' }] } }));
    const run = await kubewasm(['uninstall', '--load', 'none']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("1 pod(s) use kubewasm's RuntimeClasses: default/wasm-app (wasmtime)");
    expect(json(['get', 'node', 'node-a']).metadata.labels?.[OPT_IN_LABEL]).toBe('true');
    api.kubectl(['delete', 'pod', 'wasm-app', '--grace-period=0', '--force']);
  });

  it('uninstall resets the nodes through the installer, then leaves no kubewasm object', async () => {
    const running = kubewasm(['uninstall', '--load', 'none', '--timeout', '60s']);
    await waitFor(() => json(['get', 'node', 'node-a']).metadata.labels?.[OPT_IN_LABEL] === undefined, 'the opt-in label to go');
    // What the node installer writes when it has reset its node: nothing of kubewasm's is left.
    api.kubectl(['patch', 'node', 'node-a', '--type', 'merge', '-p', JSON.stringify({ metadata: { labels: { [MANAGED_LABEL]: null, [readyLabel('wasmtime')]: null }, annotations: Object.fromEntries(Object.values(ANNOTATIONS).map((k) => [k, null])) } })]);
    const run = await running;
    expect(run.stderr).toContain('deleted Namespace kubewasm-system');
    expect(run.code).toBe(0);
    expect(api.kubectl(['get', 'runtimeclass,validatingadmissionpolicy,validatingadmissionpolicybinding,clusterrole,clusterrolebinding', '-l', 'app.kubernetes.io/managed-by=kubewasm', '-o', 'name']).trim()).toBe('');
    expect(() => api.kubectl(['get', 'namespace', 'kubewasm-system'])).toThrow();
    expect(kubewasmLabels('node-a')).toEqual([]);
    const again = await kubewasm(['uninstall', '--load', 'none']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('no kubewasm object was left in the cluster');
  });

  it('a cluster that cannot be reached fails with what to check', async () => {
    const unreachable = api.tokenKubeconfig('x', 'unreachable').replace(/$/, '');
    execFileSync('sed', ['-i', 's#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:1#', unreachable]);
    const run = await new Promise<Run>((resolve) => execFile(process.execPath, [cli, 'status', '--kubeconfig', unreachable], (err, stdout, stderr) => resolve({ code: exitCode(err), stdout, stderr })));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the Kubernetes API is unreachable (ECONNREFUSED)');
    expect(run.stderr).toContain('fix: check that the cluster');
    const missing = await new Promise<Run>((resolve) => execFile(process.execPath, [cli, 'status', '--kubeconfig', '/nonexistent/kubeconfig'], (err, stdout, stderr) => resolve({ code: exitCode(err), stdout, stderr })));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("the kubeconfig '/nonexistent/kubeconfig' does not exist");
  });
});
