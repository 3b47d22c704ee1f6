// The docker transport on kind-like node containers (the lab's node image:
// systemd + containerd 1.6, labelled like kind's nodes) on a network this
// test creates: discovery by label, the Docker API's exec and archive upload,
// a full install and uninstall through `--via docker`, and the node lock
// released when the kubewasm that held it is killed.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeHost } from '../../lib/host/host.js';
import { convergeNode } from '../../lib/node/converge.js';
import { acquireNodeLock } from '../../lib/node/node-lock.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { DockerApi } from '../../lib/host/docker-api.js';
import { DockerHost, findClusterNodes } from '../../lib/host/docker.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { writeStandInShim } from '../../scripts/lab/support/containerd.js';
import { createDockerCluster, type DockerCluster } from '../../scripts/lab/support/docker-nodes.js';
import { kubewasm } from '../support/kubewasm-cli.js';

const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-docker-test-'));
const shimSource = path.join(work, 'shims');
const CLUSTER = 'kwtest';

describe('docker transport on kind-like node containers', () => {
  let cluster: DockerCluster;
  const api = new DockerApi();

  beforeAll(() => {
    mkdirSync(shimSource);
    for (const shim of Object.values(SHIMS)) writeStandInShim(shimSource, shim.binaryName);
    cluster = createDockerCluster(CLUSTER, '10.247.121.0/24');
  });
  afterAll(() => cluster?.cleanup());

  it('finds the nodes of a kind cluster by label, and not its load balancer', async () => {
    const nodes = await findClusterNodes(api, CLUSTER);
    expect(nodes.map((n) => [n.name, n.tool, n.cluster])).toEqual([
      [`${CLUSTER}-control-plane`, 'kind', CLUSTER],
      [`${CLUSTER}-worker`, 'kind', CLUSTER],
    ]);
    await expect(findClusterNodes(api, 'no-such-cluster')).rejects.toThrow("no running node containers of a kind or k3d cluster named 'no-such-cluster'");
  });

  it('runs programs with their exit codes and moves files both ways (PUT archive)', async () => {
    const host = new DockerHost(api, { id: `${CLUSTER}-worker`, name: `${CLUSTER}-worker` });
    expect(await host.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect((await host.exec(['cat'], { input: 'to stdin' })).stdout).toBe('to stdin');
    expect((await host.exec(['sh', '-c', 'echo $KW'], { env: { KW: 'set' } })).stdout).toBe('set\n');
    expect((await host.exec(['no-such-program-here'])).code).toBe(127);
    const bytes = Buffer.concat([Buffer.from([0, 1, 2, 255, 10, 13, 0]), Buffer.alloc(100_000, 7)]);
    await host.mkdirp('/var/lib/probe', 0o700);
    await host.writeFileAtomic('/var/lib/probe/file', bytes, 0o640);
    expect(await host.readFile('/var/lib/probe/file')).toEqual(bytes);
    expect(await host.stat('/var/lib/probe/file')).toEqual({ mode: 0o640, size: bytes.length, isDirectory: false });
    await expect(host.writeFileAtomic('/var/lib/probe/file', Buffer.from('other'), 0o644, { sha256: '0'.repeat(64) })).rejects.toThrow(/sha256/);
    expect(await host.readFile('/var/lib/probe/file')).toEqual(bytes);
    expect(await host.readDir('/var/lib/probe')).toEqual(['file']);
    expect(cluster.run(`${CLUSTER}-worker`, 'stat -c %U:%G /var/lib/probe/file').trim()).toBe('root:root');
    await host.removeFile('/var/lib/probe/file');
    await host.removeEmptyDir('/var/lib/probe');
    expect(await host.stat('/var/lib/probe')).toBeUndefined();
  });

  it('kubewasm node install/uninstall --via docker: systemd restarts containerd in each node; uninstall gives back every byte', async () => {
    const before = cluster.nodes.map((n) => cluster.snapshot(n));
    const result = await kubewasm(['node', 'install', '--via', 'docker', '--cluster', CLUSTER, '--shim-dir', shimSource, '--shims', 'wasmtime,spin', '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.map((r: { node: string; ok: boolean }) => [r.node, r.ok])).toEqual([
      [`${CLUSTER}-control-plane`, true],
      [`${CLUSTER}-worker`, true],
    ]);
    for (const node of cluster.nodes) {
      const info = JSON.parse(cluster.run(node, 'crictl --runtime-endpoint unix:///run/containerd/containerd.sock info'));
      expect(Object.keys(info.config.containerd.runtimes)).toEqual(expect.arrayContaining(['runc', 'wasmtime', 'spin']));
      expect(cluster.run(node, 'systemctl show -p NRestarts -p ActiveState containerd')).toContain('ActiveState=active');
    }
    const again = await kubewasm(['node', 'install', '--via', 'docker', '--cluster', CLUSTER, '--shim-dir', shimSource, '--shims', 'wasmtime,spin']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('2 nodes: 2 ok (0 changed)');

    // A no-op re-run moves no byte into the node and restarts nothing, counted at the transport (exec input and archives).
    const worker = `${CLUSTER}-worker`;
    const mainPid = () => cluster.run(worker, 'systemctl show -p MainPID --value containerd').trim();
    const pidBefore = mainPid();
    // Execs counted where the transport makes them (the Engine API), the ones inside file operations too.
    let execs = 0;
    const countingApi = new Proxy(api, {
      get(real, prop) {
        if (prop === 'startExec') execs++;
        const value = Reflect.get(real, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
      },
    });
    const host = new DockerHost(countingApi, { id: worker, name: worker });
    let restarts = 0;
    let writes = 0;
    const counted = new Proxy(host, {
      get(real, prop) {
        if (prop === 'writeFileAtomic') writes++;
        if (prop === 'exec') return (argv: string[], options?: Parameters<NodeHost['exec']>[1]) => ((argv.includes('restart') && restarts++), real.exec(argv, options));
        const value = Reflect.get(real, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
      },
    });
    const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime, SHIMS.spin]);
    const noop = await convergeNode(counted, { shims }, { criTimeoutMs: 30_000 });
    expect([noop.applied, host.sentBytes, restarts, writes]).toEqual([false, 0, 0, 0]);
    expect(noop.probe?.liveReads).toEqual([]);
    expect(execs, 'a no-op is one exec: the node lock, whose session runs the probe once it holds the lock').toBe(1);
    expect(mainPid()).toBe(pidBefore);

    const removed = await kubewasm(['node', 'uninstall', '--via', 'docker', '--cluster', CLUSTER]);
    expect(removed.code, removed.stderr).toBe(0);
    cluster.nodes.forEach((n, i) => expect(cluster.snapshot(n)).toEqual(before[i]));
  });

  it('the node lock goes away when the kubewasm holding it is killed (kill -9)', async () => {
    const node = `${CLUSTER}-control-plane`;
    const lockModule = new URL('../../dist/lib/node/node-lock.js', import.meta.url).href;
    const dockerModule = new URL('../../dist/lib/host/docker.js', import.meta.url).href;
    const apiModule = new URL('../../dist/lib/host/docker-api.js', import.meta.url).href;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      const { acquireNodeLock } = await import('${lockModule}');
      const { DockerHost } = await import('${dockerModule}');
      const { DockerApi } = await import('${apiModule}');
      await acquireNodeLock(new DockerHost(new DockerApi(), { id: '${node}', name: '${node}' }), '/run/lock/kubewasm.lock', 'holder-for-test');
      console.log('locked');
      setInterval(() => {}, 1000);
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    const host = new DockerHost(api, { id: node, name: node });
    await expect(acquireNodeLock(host, '/run/lock/kubewasm.lock')).rejects.toThrow(/another kubewasm run is changing this node: holder-for-test node-pid=\d+/);
    holder.kill('SIGKILL');
    let lock;
    for (let i = 0; i < 50 && !lock; i++) {
      lock = await acquireNodeLock(host, '/run/lock/kubewasm.lock').catch(() => undefined);
      if (!lock) await new Promise((r) => setTimeout(r, 200));
    }
    expect(lock, 'the lock was not released within 10s of its holder being killed').toBeDefined();
    await lock!.release();
  });
});
