// The node installer's controller against a real kube-apiserver (RBAC and the
// own-node admission policy in force, the controller using a service account
// token bound to a pod on its Node, as in the DaemonSet) and a real containerd
// standing in for the node: no kubelet, but every byte the controller writes
// to the node and every label it writes to the Node is real.
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube, loadKubeConfig } from '../../lib/kube/client.js';
import { NodeController } from '../../lib/kube/controller.js';
import { installObjects } from '../../lib/kube/manifests.js';
import { ANNOTATIONS, desiredDigest, MANAGED_LABEL, OPT_IN_LABEL, readyLabel } from '../../lib/kube/names.js';
import type { ConvergeOptions } from '../../lib/node/converge.js';
import { LocalHost } from '../../lib/host/local.js';
import { NodeWatcher } from '../../lib/kube/node-watch.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { createNode, installerTokenOnNode, startApiserver, waitForOwnNodePolicy, type TestApiserver } from '../support/apiserver.js';
import { CONTAINERD_BUILDS, CRICTL, testContainerd, writeStandInShim, type TestContainerd } from '../../scripts/lab/support/containerd.js';

process.env['PATH'] = `${path.dirname(CRICTL)}:${process.env['PATH']}`;
const fixture = new URL('../fixtures/containerd/containerd-2.2.9-default.toml', import.meta.url).pathname;

describe('the node watch (inotify on the directories, a poll of cheap facts)', () => {
  it('sees a write, a replacement by rename, a deletion and a directory made again, each within a second', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'kubewasm-watch-'));
    const at = (p: string) => path.join(root, p);
    mkdirSync(at('/etc/containerd'), { recursive: true });
    mkdirSync(at('/var/lib/kubewasm'), { recursive: true });
    writeFileSync(at('/etc/containerd/config.toml'), 'version = 3\n');
    writeFileSync(at('/var/lib/kubewasm/installed.json'), '{}');
    const seen: string[] = [];
    const watcher = new NodeWatcher({ root, pollMs: 500, debounceMs: 100, onChange: (why) => seen.push(why) });
    const expectChange = async (act: () => void, what: RegExp) => {
      const from = seen.length;
      act();
      const deadline = Date.now() + 1_000;
      while (Date.now() < deadline && seen.length === from) await new Promise((r) => setTimeout(r, 20));
      expect(seen.slice(from).join('; ')).toMatch(what);
    };
    try {
      await watcher.watch([{ path: '/etc/containerd/config.toml', what: 'containerd config' }, { path: '/var/lib/kubewasm/installed.json', what: "kubewasm's record" }]);
      await expectChange(() => appendFileSync(at('/etc/containerd/config.toml'), '# edited\n'), /containerd config \/etc\/containerd\/config\.toml changed/);
      await expectChange(() => {
        writeFileSync(at('/etc/containerd/config.toml.new'), 'version = 2\n');
        renameSync(at('/etc/containerd/config.toml.new'), at('/etc/containerd/config.toml'));
      }, /config\.toml changed/);
      await expectChange(() => rmSync(at('/var/lib/kubewasm'), { recursive: true }), /record \/var\/lib\/kubewasm\/installed\.json was removed/);
      await expectChange(() => {
        mkdirSync(at('/var/lib/kubewasm'));
        writeFileSync(at('/var/lib/kubewasm/installed.json'), '{}');
      }, /installed\.json appeared/);
      // The directory made again is watched again: the next write is seen by inotify, not only by the poll.
      const inotify = watcher.counts.inotify;
      await expectChange(() => writeFileSync(at('/var/lib/kubewasm/installed.json'), '{"x":1}'), /installed\.json changed/);
      expect(watcher.counts.inotify).toBe(inotify + 1);
      // Nothing changes: nothing is reported.
      const quiet = seen.length;
      await new Promise((r) => setTimeout(r, 1_500));
      expect(seen.length).toBe(quiet);
      // Stopped (the node was reset) and asked to watch the same files again (opted in again): it watches again.
      watcher.stop();
      await watcher.watch([{ path: '/etc/containerd/config.toml', what: 'containerd config' }, { path: '/var/lib/kubewasm/installed.json', what: "kubewasm's record" }]);
      await expectChange(() => appendFileSync(at('/etc/containerd/config.toml'), '# again\n'), /config\.toml changed/);
    } finally {
      watcher.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('node installer controller (real kube-apiserver, real containerd 2.2)', () => {
  let api: TestApiserver;
  let admin: Kube;
  let containerd: TestContainerd;
  let controller: NodeController;
  let original: Buffer;
  let options: ConvergeOptions;
  const shimDir = mkdtempSync(path.join(tmpdir(), 'kubewasm-shims-'));
  const logs: string[] = [];
  const figures: string[] = [];

  const node = async (name = 'node-a') => (await admin.readNode(name))!;
  const shimPath = () => path.join(containerd.shimDir, SHIMS.wasmtime.binaryName);
  const restarts = () => readFileSync(path.join(containerd.dir, 'restarts'), 'utf8').split('\n').filter(Boolean).length;
  const nodeEvents = async (reason: string) =>
    (await admin.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.kind=Node,involvedObject.name=node-a,reason=${reason}` })).items;
  /** How often it happened: the same event again is counted up on the last one (as the kubelet does). */
  const occurrences = async (reason: string) => (await nodeEvents(reason)).reduce((n, e) => n + (e.count ?? 1), 0);
  /** Every change of node-a as the API server announces it: time, ready label, state. */
  const history: Array<{ t: number; ready: boolean; state: string | undefined }> = [];
  const historyWatch = new AbortController();
  // The controller polls every second here and retries a failure after 5 s: a window of 8 s sees eight polls and the
  // first retry, so a reconcile or restart loop shows within it (the 10 min resync is out of reach of any window).
  const QUIET_S = 8;
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
    // Counts containerd (re)starts: a conflict must not become a restart loop.
    writeFileSync(containerd.restartScript, `echo restart >> ${path.join(containerd.dir, 'restarts')}\n${readFileSync(containerd.restartScript, 'utf8')}`);
    containerd.start();
    // The stand-in answers -v like runwasi's shims (the installer checks that the shim runs); containers never start here.
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
      // The watch must find drift by itself: the resync is only a backstop, far beyond these tests.
      hostRoot: '/',
      pollMs: 1_000,
      resyncMs: 600_000,
      log: (line) => logs.push(`${new Date().toISOString()} ${line}`),
    });
    controller.start();
    // List, then watch from the list's version (the API server refuses a watch without one).
    const note = (meta: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined) =>
      history.push({ t: Date.now(), ready: meta?.labels?.[readyLabel('wasmtime')] === 'ready', state: meta?.annotations?.[ANNOTATIONS.state] });
    void (async () => {
      while (!historyWatch.signal.aborted) {
        try {
          const list = await admin.core.listNode({ fieldSelector: 'metadata.name=node-a' });
          note(list.items[0]?.metadata);
          await admin.watchOnce('/api/v1/nodes', { fieldSelector: 'metadata.name=node-a', resourceVersion: list.metadata?.resourceVersion ?? '' }, (type, object) => {
            if (type === 'ADDED' || type === 'MODIFIED') note(object.metadata);
          }, historyWatch.signal);
        } catch {
          // listed again below, after a pause
        }
        await new Promise((r) => setTimeout(r, 200)); // a watch the server ended at once must not spin
      }
    })();
  });

  afterAll(async () => {
    historyWatch.abort();
    if (figures.length) console.log(`\n${figures.join('\n')}\n`);
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

  it('idle on a converged node: no reconcile at all, and little CPU (the watch polls cheap facts only)', async () => {
    await until('a Ready node', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Ready' && controller.status.ready);
    await new Promise((r) => setTimeout(r, 2_000)); // the re-check its own converge caused
    const reconciles = controller.stats.reconciles;
    const cpu = process.cpuUsage();
    await new Promise((r) => setTimeout(r, QUIET_S * 1000));
    const used = process.cpuUsage(cpu);
    expect(controller.stats.reconciles).toBe(reconciles);
    expect(controller.watched).toEqual(expect.arrayContaining([containerd.configPath, shimPath(), path.join(options.stateDir!, 'installed.json'), containerd.socket]));
    const percent = ((used.user + used.system) / 1000 / (QUIET_S * 1000)) * 100;
    figures.push(`controller idle (watch: inotify + 1 s poll, this test process as a whole): ${percent.toFixed(2)} % of a core over ${QUIET_S} s, ${controller.stats.reconciles - reconciles} reconciles`);
    expect(percent).toBeLessThan(5);
  });

  const block = /\n# BEGIN kubewasm[\s\S]*?# END kubewasm\n/;
  const driftCases: Array<[string, () => void, (() => void)?]> = [
    ['shim binary deleted', () => rmSync(shimPath())],
    ["kubewasm's block removed", () => writeFileSync(containerd.configPath, readFileSync(containerd.configPath, 'utf8').replace(block, '\n'))],
    [
      'config replaced wholesale (by a config-management run)',
      () => writeFileSync(containerd.configPath, `${original.toString('utf8')}\n# managed by config management: keep me\n`),
      // Re-converging keeps every byte of the user's file outside kubewasm's block.
      () => expect(readFileSync(containerd.configPath, 'utf8').replace(block, '')).toBe(`${original.toString('utf8')}\n# managed by config management: keep me\n`),
    ],
    ['/var/lib/kubewasm deleted', () => rmSync(options.stateDir!, { recursive: true, force: true }), () => expect(readFileSync(path.join(options.stateDir!, 'installed.json'), 'utf8')).toContain('wasmtime')],
    [
      'containerd restarted with a config lacking the runtime',
      () => {
        writeFileSync(containerd.configPath, original);
        containerd.start();
      },
    ],
  ];

  it.each(driftCases)('drift (%s): the ready label goes within 10 s (Drifted, last-error, a Warning event), Ready again within 30 s', async (what, act, after) => {
    await until('a Ready node to start from', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Ready' && controller.status.ready);
    const drifted = await occurrences('Drifted');
    const from = history.length;
    const t0 = Date.now();
    act();
    await until('the ready label to go', async () => history.slice(from).some((h) => !h.ready), 10_000);
    const gone = history.slice(from).find((h) => !h.ready)!;
    expect(gone.state).toBe('Drifted');
    await until('Ready again', async () => history.slice(from).some((h) => h.t > gone.t && h.ready && h.state === 'Ready'), 30_000);
    const back = history.slice(from).find((h) => h.t > gone.t && h.ready && h.state === 'Ready')!;
    expect(gone.t - t0).toBeLessThan(10_000);
    expect(back.t - t0).toBeLessThan(30_000);
    // No ready label between the drift and the check that followed the converge.
    expect(history.slice(from).filter((h) => h.t >= gone.t && h.t < back.t).every((h) => !h.ready)).toBe(true);
    const n = await node();
    expect(n.metadata?.annotations?.[ANNOTATIONS.lastError]).toBeUndefined();
    expect(await occurrences('Drifted')).toBe(drifted + 1);
    const events = await nodeEvents('Drifted');
    expect(events.every((e) => e.type === 'Warning' && /removed the ready label/.test(e.message ?? ''))).toBe(true);
    expect(containerd.criInfo().config.containerd.runtimes).toHaveProperty('wasmtime');
    expect(controller.status.ready).toBe(true);
    after?.();
    figures.push(`drift ${what}: ready label gone after ${((gone.t - t0) / 1000).toFixed(1)} s, Ready again after ${((back.t - t0) / 1000).toFixed(1)} s`);
  });

  it(`a hand edit inside kubewasm's block: one Conflict event and a clear last-error, left alone (no restart over ${QUIET_S} s); undoing it is Ready again`, async () => {
    await until('a Ready node to start from', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Ready');
    const before = readFileSync(containerd.configPath, 'utf8');
    const edited = before.replace(/^(\s*runtime_type = .*containerd\.wasmtime.*)$/m, '$1\n  privileged_without_host_devices = true');
    expect(edited).not.toBe(before);
    const conflicts = await occurrences('Conflict');
    const restartsBefore = restarts();
    writeFileSync(containerd.configPath, edited);
    await until('the Conflict state', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Conflict', 10_000);
    const n = await node();
    expect(n.metadata?.annotations?.[ANNOTATIONS.lastError]).toMatch(/kubewasm's block in .*config\.toml was edited by hand.*leaves your edit.*undo the edit or remove the block/);
    // Kept: the user's edit, and the ready label (containerd still runs the runtime and the shim runs).
    await new Promise((r) => setTimeout(r, QUIET_S * 1000));
    expect(readFileSync(containerd.configPath, 'utf8')).toBe(edited);
    expect(restarts()).toBe(restartsBefore);
    expect(await occurrences('Conflict')).toBe(conflicts + 1);
    expect((await node()).metadata?.labels?.[readyLabel('wasmtime')]).toBe('ready');
    writeFileSync(containerd.configPath, before);
    await until('Ready after the edit was undone', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Ready', 10_000);
    expect(restarts()).toBe(restartsBefore);
  });

  it("a runtime the user registered under kubewasm's name is a Conflict, not a loop; removing it lets kubewasm converge", async () => {
    await until('a Ready node to start from', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Ready');
    const before = readFileSync(containerd.configPath, 'utf8');
    const restartsBefore = restarts();
    // Theirs replaces kubewasm's block: a config-management run that owns the wasmtime runtime now.
    const theirs = `${original.toString('utf8')}\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.wasmtime]\n  runtime_type = "io.containerd.theirs.v1"\n`;
    writeFileSync(containerd.configPath, theirs);
    await until('the Conflict state', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Conflict', 10_000);
    const n = await node();
    expect(n.metadata?.annotations?.[ANNOTATIONS.lastError]).toMatch(/runtime 'wasmtime' is already registered with runtime_type "io.containerd.theirs.v1"/);
    expect(n.metadata?.labels?.[readyLabel('wasmtime')]).toBeUndefined();
    await new Promise((r) => setTimeout(r, QUIET_S * 1000));
    expect(readFileSync(containerd.configPath, 'utf8')).toBe(theirs);
    expect(restarts()).toBe(restartsBefore);
    expect(controller.status.ready).toBe(false);
    writeFileSync(containerd.configPath, before);
    await until('Ready once their runtime is gone', async () => (await node()).metadata?.annotations?.[ANNOTATIONS.state] === 'Ready' && (await node()).metadata?.labels?.[readyLabel('wasmtime')] === 'ready', 30_000);
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
