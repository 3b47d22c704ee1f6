// kubewasm install --registry on the lab: a real registry (distribution, TLS
// with a certificate from the lab's CA, htpasswd auth) at the lab network's
// gateway, which the nodes' containerd trust through certs.d (the lab sets
// that up, not kubewasm). kubewasm pushes the installer and smoke images; the
// kubelets pull them through CRI with an imagePullSecret; verify passes on
// the containerd 1.6, 2.2 and 2.4 nodes, with the smoke image and with its
// wasi/wasm form (one manifest, a tar layer: how users ship Wasm images);
// kubewasm loads nothing into a node.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube } from '../../lib/kube/client.js';
import { kubewasmRuntimeClasses } from '../../lib/kube/objects.js';
import { verifyRuntimeClasses } from '../../lib/kube/verify.js';
import { dockerConfig, startRegistry, type Registry } from '../../scripts/lab/support/registry.js';
import { requireRoot } from '../../scripts/lab/support/requirements.js';
import { kubewasm } from '../support/kubewasm-cli.js';
import { LAB_SCRIPT, labEnv, type LabEnv } from '../support/lab.js';
import { LAB_CONTAINERDS } from './global-setup.js';

const NODES = ['node-1', 'node-2', 'node-3'] as const; // containerd 1.6, 2.2, 2.4
const NAMESPACE = 'kubewasm-system';
const SECRET = 'kubewasm-lab-registry';
const node = (n: string) => `kubewasm-lab-${n}`;

describe('kubewasm install --registry on the lab (TLS, auth; nodes pull through CRI)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-e2e-registry-'));
  let env: LabEnv;
  let registry: Registry;
  let dockerConfigFile = '';
  const pushed: Record<'installer' | 'smoke' | 'wasi' | 'built', string> = { installer: '', smoke: '', wasi: '', built: '' };
  const kubectl = (args: string[]) => execFileSync(env.kubectl, ['--kubeconfig', env.kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const onNode = (n: string, script: string) => execFileSync('docker', ['exec', node(n), 'sh', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const run = (args: string[]) => kubewasm([...args, '--kubeconfig', env.kubeconfig], { CI: '1' });
  // Pulls from an earlier run (same address, same content tags) would let the kubelet skip the pull (IfNotPresent).
  const forgetPulls = () => {
    for (const n of NODES) onNode(n, `ctr -n k8s.io images ls -q | grep -F '${registry.address}/' | xargs -r ctr -n k8s.io images rm --sync >/dev/null`);
  };

  beforeAll(async () => {
    requireRoot();
    env = labEnv();
    const lab = Object.fromEntries(execFileSync(LAB_SCRIPT, ['env'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const address = lab['KUBEWASM_LAB_REGISTRY'];
    const ca = lab['KUBEWASM_LAB_CA'];
    if (!address || !ca) throw new Error('scripts/lab/lab env printed no KUBEWASM_LAB_REGISTRY / KUBEWASM_LAB_CA; run scripts/lab/lab up with this checkout');
    for (const n of NODES) if (!env.nodes.some((e) => e.startsWith(`${n}:`))) throw new Error(`the lab has no ${n} (it has ${env.nodes.join(', ')}); run scripts/lab/lab up --containerd ${LAB_CONTAINERDS}`);
    const [host, port] = address.split(':');
    registry = await startRegistry({ dir: path.join(work, 'registry'), host: host!, port: Number(port), ca: { cert: ca, key: ca.replace(/\.crt$/, '.key') } });
    dockerConfigFile = path.join(work, 'docker', 'config.json');
    mkdirSync(path.dirname(dockerConfigFile), { recursive: true });
    writeFileSync(dockerConfigFile, dockerConfig(registry.address, registry.users[0]!));
    // A clean start, then the pull secret the user would create for a private registry.
    await run(['uninstall', '--force', '--timeout', '3m']);
    for (let i = 0; i < 120 && kubectl(['get', 'namespace', NAMESPACE, '--ignore-not-found', '-o', 'name']).trim(); i++) await new Promise((r) => setTimeout(r, 1000));
    forgetPulls();
    kubectl(['create', 'namespace', NAMESPACE]);
    const { user, password } = registry.users[0]!;
    kubectl(['-n', NAMESPACE, 'create', 'secret', 'docker-registry', SECRET, `--docker-server=${registry.address}`, `--docker-username=${user}`, `--docker-password=${password}`]);
  }, 600_000);

  afterAll(async () => {
    if (env) await run(['uninstall', '--force', '--timeout', '5m']);
    if (env && registry) forgetPulls();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
    // uninstall removes the smoke image the lab preloads; `up` (idempotent) loads what is missing again.
    if (env) execFileSync(LAB_SCRIPT, ['up', '--containerd', LAB_CONTAINERDS], { stdio: 'ignore' });
  }, 900_000);

  it('pushes to the registry and installs from it on the 1.6, 2.2 and 2.4 nodes; verify passes', async () => {
    const t0 = Date.now();
    const result = await run(['install', ...NODES, '--registry', `${registry.address}/kubewasm`, '--image-pull-secret', SECRET, '--registry-config', dockerConfigFile, '--ca-file', registry.caFile, '--shim-dir', path.dirname(env.shimBinary), '--timeout', '8m']);
    const out = result.stderr + result.stdout;
    expect(out).not.toContain('error:');
    expect(result.code).toBe(0);
    const installer = new RegExp(`the nodes pull (${registry.address.replace(/\./g, '\\.')}/kubewasm/node-installer:\\S+-[0-9a-f]{12})`).exec(out)?.[1];
    expect(installer, out).toBeDefined();
    expect(out).toMatch(/pushed 4 image\(s\)/);
    expect(out).not.toMatch(/loaded .* into|images loaded into/);
    for (const n of NODES) expect(result.stderr).toContain(`${n}: ✓ ready: wasmtime`);
    pushed.installer = installer!;
    // The name the image was built under (what loading it into a node would have made).
    pushed.built = /installer image (\S+)/.exec(out)?.[1] ?? '';
    expect(pushed.built).toMatch(/^kubewasm\.io\/node-installer:/);
    expect(result.stdout).toMatch(/✓ RuntimeClass wasmtime: printed "hello from kubewasm wasm"/);
    pushed.wasi = new RegExp(`✓ RuntimeClass wasmtime: wasi/wasm image (${registry.address.replace(/\./g, '\\.')}/kubewasm/smoke:hello-wasi-[0-9a-f]{12}): printed "hello from kubewasm wasm"`).exec(result.stdout)?.[1] ?? '';
    expect(pushed.wasi, result.stdout).not.toBe('');
    expect(kubectl(['-n', NAMESPACE, 'get', 'daemonset', 'kubewasm-node-installer', '-o', 'jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.imagePullSecrets[0].name}'])).toBe(`${installer} ${SECRET}`);
    console.log(`\ninstall --registry on 3 nodes (1.6, 2.2, 2.4): ${((Date.now() - t0) / 1000).toFixed(1)} s end to end; ${/pushed 4 image\(s\)[^\n]*/.exec(out)?.[0]}\n`);
  });

  it('verify passes on each node from the pushed smoke image and its wasi/wasm form (pulled with the secret)', async () => {
    const tags = JSON.parse((await registry.api('/v2/kubewasm/smoke/tags/list')).body) as { tags: string[] };
    const smoke = `${registry.address}/kubewasm/smoke:${tags.tags.find((t) => /^hello-[0-9a-f]{12}$/.test(t))}`;
    pushed.smoke = smoke;
    expect(tags.tags.map((t) => `${registry.address}/kubewasm/smoke:${t}`)).toContain(pushed.wasi);
    const kube = Kube.connect({ kubeconfig: env.kubeconfig });
    const classes = (await kubewasmRuntimeClasses(kube)).filter((rc) => rc.metadata?.name === 'wasmtime');
    for (const n of NODES) {
      const [result, wasi] = await verifyRuntimeClasses(kube, classes, { namespace: NAMESPACE, image: smoke, wasiImage: pushed.wasi, imagePullSecrets: [SECRET], node: n });
      expect(result, `${n}: ${result?.message}`).toMatchObject({ runtimeClass: 'wasmtime', status: 'passed', node: n });
      expect(wasi, `${n}: ${wasi?.message}`).toMatchObject({ runtimeClass: 'wasmtime', status: 'passed', node: n, image: pushed.wasi });
    }
  });

  it('every node pulled the installer, smoke and wasi/wasm images from the registry through CRI; kubewasm loaded nothing', () => {
    const nodeIps = NODES.map((n) => kubectl(['get', 'node', n, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}']).trim());
    const log = registry.log();
    for (const [i, n] of NODES.entries()) {
      const images = onNode(n, 'ctr -n k8s.io images ls -q');
      expect(images, n).toContain(pushed.installer);
      expect(images, n).toContain(pushed.smoke);
      expect(images.split('\n'), `${n} pulled the wasi/wasm image`).toContain(pushed.wasi);
      expect(images.split('\n'), `${n} holds no image kubewasm would have loaded`).not.toContain(pushed.built);
      // The registry saw this node fetch the installer's manifest.
      const fetched = log.split('\n').filter((line) => line.includes(`remoteaddr=${nodeIps[i]}:`) || line.includes(`remoteaddr="${nodeIps[i]}:`));
      expect(fetched.some((line) => line.includes('/v2/kubewasm/node-installer/manifests/')), `${n} (${nodeIps[i]}) in the registry's log`).toBe(true);
    }
  });

  it('a second kubewasm image push of the same images sends no blob', async () => {
    const again = await kubewasm(['image', 'push', `${registry.address}/kubewasm`, '--shim-dir', path.dirname(env.shimBinary), '--registry-config', dockerConfigFile, '--ca-file', registry.caFile]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/pushed 3 image\(s\) in [\d.]+s: 0 blob\(s\) uploaded, [1-9]\d* already there; 0\.0 MB sent/);
    expect(again.stdout).toContain(pushed.installer);
    console.log(`\nsecond push: ${again.stderr.trim()}\n`);
  });
});
