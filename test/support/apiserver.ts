// A real etcd + kube-apiserver for object-level tests (no kubelet, no
// controllers): both on 127.0.0.1 with free ports, their own certificates
// (openssl) and data dir in a temp dir, authorization Node,RBAC so that RBAC
// denials and admission policies are the real ones.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtBinDir, requireBuilt, requireProgram } from '../../scripts/lab/support/requirements.js';

export const K8S_BIN = builtBinDir('kubernetes');

export interface TestApiserver {
  dir: string;
  server: string;
  /** Admin (system:masters) kubeconfig. */
  kubeconfig: string;
  caFile: string;
  /** A kubeconfig that authenticates with a bearer token (a service account's). */
  tokenKubeconfig(token: string, name: string): string;
  /** `kubectl --kubeconfig admin …` */
  kubectl(args: string[], input?: string): string;
  stop(): Promise<void>;
}

export interface ApiserverOptions {
  /** Also run kube-controller-manager (namespace deletion, garbage collection, DaemonSet pods). */
  controllerManager?: boolean;
}

export async function startApiserver(options: ApiserverOptions = {}): Promise<TestApiserver> {
  const etcdBin = requireProgram('etcd');
  const apiserverBin = requireBuilt('kubernetes', 'kube-apiserver');
  const kubectlBin = requireBuilt('kubernetes', 'kubectl');
  requireProgram('openssl');
  const dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-apiserver-'));
  const pki = path.join(dir, 'pki');
  makePki(pki);

  const [clientPort, peerPort, apiPort] = await freePorts(3);
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) await killAndWait(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    children.push(
      launch(etcdBin, ['--name', 'test', '--data-dir', path.join(dir, 'etcd'), '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `test=http://127.0.0.1:${peerPort}`, '--log-level', 'warn'], path.join(dir, 'etcd.log')),
    );
    await waitFor(async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000, 'etcd', path.join(dir, 'etcd.log'), children.at(-1));
    children.push(
      launch(apiserverBin, [
        '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`, `--etcd-servers=${etcdUrl}`,
        `--client-ca-file=${pki}/ca.crt`, `--tls-cert-file=${pki}/apiserver.crt`, `--tls-private-key-file=${pki}/apiserver.key`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local', `--service-account-key-file=${pki}/sa.pub`,
        `--service-account-signing-key-file=${pki}/sa.key`, '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction', '--allow-privileged=true',
        '--endpoint-reconciler-type=none', '--profiling=false',
      ], path.join(dir, 'apiserver.log')),
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = path.join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfig, kubeconfigText(server, `${pki}/ca.crt`, { cert: `${pki}/admin.crt`, key: `${pki}/admin.key` }, 'admin'));
    const kubectl = (args: string[], input?: string) =>
      execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
    await waitFor(async () => {
      try {
        return kubectl(['get', '--raw', '/readyz']).trim() === 'ok';
      } catch {
        return false;
      }
    }, 90_000, 'kube-apiserver', path.join(dir, 'apiserver.log'), children.at(-1));
    if (options.controllerManager) {
      const cmBin = requireBuilt('kubernetes', 'kube-controller-manager');
      const [cmPort] = await freePorts(1);
      children.push(
        launch(cmBin, [`--kubeconfig=${kubeconfig}`, '--bind-address=127.0.0.1', `--secure-port=${cmPort}`, '--leader-elect=false',
          '--use-service-account-credentials=false', `--service-account-private-key-file=${pki}/sa.key`, `--root-ca-file=${pki}/ca.crt`,
          '--service-cluster-ip-range=10.0.0.0/24', '--controllers=*,-node-lifecycle-controller,-node-ipam-controller,-cloud-node-lifecycle-controller', '--profiling=false'], path.join(dir, 'controller-manager.log')),
      );
      await waitFor(async () => kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name']).trim() !== '', 60_000, 'kube-controller-manager', path.join(dir, 'controller-manager.log'), children.at(-1));
    }
    return {
      dir,
      server,
      kubeconfig,
      caFile: `${pki}/ca.crt`,
      tokenKubeconfig: (token, name) => {
        const file = path.join(dir, `${name}.kubeconfig`);
        writeFileSync(file, kubeconfigText(server, `${pki}/ca.crt`, { token }, name));
        return file;
      },
      kubectl,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function makePki(pki: string): void {
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('mkdir', ['-p', pki]);
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=kubewasm-test-ca']);
  const leaf = (name: string, subject: string, ext: string) => {
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    writeFileSync(path.join(pki, `${name}.ext`), ext);
    ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('apiserver', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n');
  leaf('admin', '/O=system:masters/CN=kubewasm-test-admin', 'extendedKeyUsage=clientAuth\n');
  ssl(['genrsa', '-out', 'sa.key', '2048']);
  ssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

function kubeconfigText(server: string, ca: string, user: { cert: string; key: string } | { token: string }, name: string): string {
  const userBlock = 'token' in user ? `    token: ${user.token}` : `    client-certificate: ${user.cert}\n    client-key: ${user.key}`;
  return `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${server}
    certificate-authority-data: ${readFileSync(ca).toString('base64')}
users:
- name: ${name}
  user:
${userBlock}
contexts:
- name: ${name}
  context: { cluster: test, user: ${name} }
current-context: ${name}
`;
}

function launch(bin: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  return spawn(bin, args, { stdio: ['ignore', fd, fd] });
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, log: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (child?.exitCode ?? null) === null) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  let tail = '';
  try {
    tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    // no log
  }
  throw new Error(`${what} ${(child?.exitCode ?? null) !== null ? `exited with code ${child?.exitCode}` : `did not become ready within ${timeoutMs / 1000}s`}; its log (${log}) ends with:\n${tail}`);
}

/** Ports the kernel says are free now (bound on 127.0.0.1 and released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<import('node:net').Server>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * A token of the node installer's service account bound to a pod on `node`
 * (as the kubelet gets for the DaemonSet pod): it carries the node-name claim
 * the own-node admission policy checks. The pod object is created directly
 * with spec.nodeName; no kubelet runs it.
 */
export async function installerTokenOnNode(api: TestApiserver, node: string, namespace = 'kubewasm-system'): Promise<string> {
  const pod = `kubewasm-node-installer-${node}`;
  api.kubectl(['-n', namespace, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace },
    spec: { nodeName: node, serviceAccountName: 'kubewasm-node-installer', containers: [{ name: 'installer', image: 'kubewasm.io/node-installer:test' }] },
  }));
  return api.kubectl(['-n', namespace, 'create', 'token', 'kubewasm-node-installer', '--bound-object-kind', 'Pod', '--bound-object-name', pod, '--duration', '1h']).trim();
}

/** A Node object without a kubelet (enough for labels, annotations and policies). */
export function createNode(api: TestApiserver, name: string, labels: Record<string, string> = {}): void {
  api.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } }));
}

/**
 * Waits until the own-node policy is in force: the installer's token on
 * `ownNode` is refused a (no-op) change of `otherNode`.
 */
export async function waitForOwnNodePolicy(api: TestApiserver, token: string, otherNode: string): Promise<void> {
  const kubeconfig = api.tokenKubeconfig(token, 'policy-probe');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      // A merge patch that changes nothing still passes admission.
      execFileSync(`${K8S_BIN}/kubectl`, ['--kubeconfig', kubeconfig, 'patch', 'node', otherNode, '--type', 'merge', '-p', '{"metadata":{"annotations":{"kubewasm.io/probe":null}}}'], { stdio: 'pipe' });
    } catch (err) {
      if (String((err as { stderr?: Buffer }).stderr ?? '').includes('ValidatingAdmissionPolicy')) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the own-node ValidatingAdmissionPolicy did not take effect within 30s');
}
