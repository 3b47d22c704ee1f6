// The installer keeps the truth (issue 15), on the lab's real cluster: with
// wasmtime installed on node-2 (containerd 2.2) by the DaemonSet, the node is
// changed under kubewasm the way a re-imaged node, a containerd package
// upgrade or a configuration-management run would change it. Each time the
// ready label must be gone within 10 s, the node Ready again within 30 s, and
// a Wasm pod sent there meanwhile must either run or show why it waits in
// `kubewasm status`. A hand edit inside kubewasm's block is reported once and
// left alone. `verify` on a node without the runtime (node-3, never opted in)
// quotes the kubelet's handler error.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube } from '../../lib/kube/client.js';
import type { ClusterStatus } from '../../lib/kube/status.js';
import type { VerifyResult } from '../../lib/kube/verify.js';
import { requireRoot } from '../../scripts/lab/support/requirements.js';
import { kubewasm } from '../support/kubewasm-cli.js';
import { labEnv, labKubeConfig, type LabEnv } from '../support/lab.js';
import { LAB_CONTAINERDS } from './global-setup.js';

const NODE = 'node-2';
const CONTAINER = 'kubewasm-lab-node-2';
const CONFIG = '/etc/containerd/config.toml';
const SHIM = '/usr/local/bin/containerd-shim-wasmtime-v1';
const READY = 'runtime.kubewasm.io/wasmtime';

function onNode(script: string, container = CONTAINER): string {
  return execFileSync('docker', ['exec', container, 'sh', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** CPU seconds (user + system) and resident memory of the installer process on node-2. */
function installerUsage(): { cpu: number; rssMiB: number } {
  const pid = onNode("pgrep -f '[n]ode-installer.js' | head -1").trim();
  if (!pid) throw new Error(`no installer process on ${NODE}`);
  const stat = onNode(`cat /proc/${pid}/stat`).split(') ')[1]!.split(' ');
  const ticks = Number(onNode('getconf CLK_TCK').trim());
  const rss = /VmRSS:\s+(\d+) kB/.exec(onNode(`cat /proc/${pid}/status`))?.[1];
  return { cpu: (Number(stat[11]) + Number(stat[12])) / ticks, rssMiB: Number(rss) / 1024 };
}

describe(`the installer keeps the truth on ${NODE} (containerd 2.2)`, () => {
  let env: LabEnv;
  let kube: Kube;
  let original = '';
  const figures: string[] = [];
  const history: Array<{ t: number; ready: boolean; state: string | undefined }> = [];
  const stopWatch = new AbortController();
  const kubectl = (args: string[], input?: string) => execFileSync(env.kubectl, ['--kubeconfig', env.kubeconfig, ...args], { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
  const run = (args: string[]) => kubewasm([...args, '--kubeconfig', env.kubeconfig], { CI: '1' });
  const state = async () => (await kube.readNode(NODE))?.metadata?.annotations?.['kubewasm.io/state'];
  const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; node ${NODE}: ${JSON.stringify((await kube.readNode(NODE))?.metadata?.annotations ?? {})}`);
  };
  const nodeEvents = (reason: string) =>
    (JSON.parse(kubectl(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.kind=Node,involvedObject.name=${NODE},reason=${reason}`, '-o', 'json'])) as { items: Array<{ count?: number; message: string; type: string }> }).items;

  /** How often it happened: the same event again is counted up on the last one. */
  const occurrences = (reason: string) => nodeEvents(reason).reduce((n, e) => n + (e.count ?? 1), 0);

  beforeAll(async () => {
    requireRoot();
    env = labEnv();
    if (!env.nodes.some((n) => n.startsWith(`${NODE}:`))) throw new Error(`the lab has no ${NODE} (it has ${env.nodes.join(', ')}); run scripts/lab/lab up --containerd ${LAB_CONTAINERDS}`);
    kube = new Kube(labKubeConfig(env));
    await run(['uninstall', '--force', '--timeout', '3m']);
    original = onNode(`cat ${CONFIG}`);
    // Every change of node-2 as the API server announces it (list, then watch from the list's version).
    const note = (meta: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined) =>
      history.push({ t: Date.now(), ready: meta?.labels?.[READY] === 'ready', state: meta?.annotations?.['kubewasm.io/state'] });
    void (async () => {
      while (!stopWatch.signal.aborted) {
        try {
          const list = await kube.core.listNode({ fieldSelector: `metadata.name=${NODE}` });
          note(list.items[0]?.metadata);
          await kube.watchOnce('/api/v1/nodes', { fieldSelector: `metadata.name=${NODE}`, resourceVersion: list.metadata?.resourceVersion ?? '' }, (type, object) => {
            if (type === 'ADDED' || type === 'MODIFIED') note(object.metadata);
          }, stopWatch.signal);
        } catch {
          // listed again below, after a pause
        }
        await new Promise((r) => setTimeout(r, 200)); // a watch the server ended at once must not spin
      }
    })();
  }, 600_000);

  afterAll(async () => {
    stopWatch.abort();
    if (figures.length) console.log(`\n${figures.join('\n')}\n`);
    if (env) {
      kubectl(['delete', 'pod', '-n', 'default', '-l', 'kubewasm-e2e=drift', '--grace-period=0', '--force', '--ignore-not-found']);
      await run(['uninstall', '--timeout', '5m']);
      // uninstall removed the images the lab preloads; `up` (idempotent) loads what is missing again.
      execFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../../scripts/lab/lab'), ['up', '--containerd', LAB_CONTAINERDS], { stdio: 'ignore' });
    }
  }, 600_000);

  it(`install ${NODE}: right after it, status shows the installer pod ready (the Node says Ready only after the pod is)`, async () => {
    const result = await run(['install', NODE, '--shim-dir', path.dirname(env.shimBinary), '--timeout', '5m', '--no-verify']);
    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse((await run(['status', '-o', 'json'])).stdout) as ClusterStatus;
    expect(status.nodes.find((n) => n.name === NODE)).toMatchObject({ state: 'Ready', shims: [{ name: 'wasmtime', ready: true }], installerPod: { ready: true } });
    expect(status.installer.pods).toMatchObject({ scheduled: 1, ready: 1 });
  });

  // 3 s to settle after the install, then 15 s (seven 2 s polls). With this window three runs of three once stopped at
  // the third drift case: containerd 2.2 hung at start-up on a runwasi shim's delete (the Wasm pod sent meanwhile).
  // kubewasm's own restarts now release such a delete (lib/containerd/service.ts); the fifth case restarts containerd
  // by hand, which nothing releases, so this file runs alone (scripts/test-tiers). Alone, 15 s passed twice.
  const IDLE_WINDOW_S = 15;
  it('idle, the installer watches at a small cost', async () => {
    await new Promise((r) => setTimeout(r, 3_000));
    const a = installerUsage();
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_S * 1000));
    const b = installerUsage();
    const percent = ((b.cpu - a.cpu) / IDLE_WINDOW_S) * 100;
    figures.push(`installer pod idle (watching, 2 s poll): ${percent.toFixed(2)} % of a core over ${IDLE_WINDOW_S} s, RSS ${b.rssMiB.toFixed(0)} MiB`);
    expect(percent).toBeLessThan(5);
  });

  const cases: Array<[string, string, ((after: string) => void)?]> = [
    ['shim binary deleted', `rm -f ${SHIM}`],
    ["kubewasm's block removed", `sed -i '/^# BEGIN kubewasm/,/^# END kubewasm/d' ${CONFIG}`],
    [
      'config replaced wholesale',
      `printf '%s\\n# replaced by config management\\n' "$(cat /tmp/kubewasm-e2e-original.toml)" > ${CONFIG}.new && mv ${CONFIG}.new ${CONFIG}`,
      // Re-converging keeps every byte of the replacement outside kubewasm's block.
      (after) => expect(after.replace(/\n# BEGIN kubewasm[\s\S]*?# END kubewasm\n/, '')).toBe(`${original.replace(/\n+$/, '')}\n# replaced by config management\n`),
    ],
    ['/var/lib/kubewasm deleted', 'rm -rf /var/lib/kubewasm'],
    ['containerd restarted with a config lacking the runtime', `cp /tmp/kubewasm-e2e-original.toml ${CONFIG} && systemctl restart containerd`],
  ];

  let cpuBefore = 0;
  it.each(cases)('%s: ready label gone within 10 s, Ready again within 30 s, a Wasm pod sent meanwhile runs or says why it waits', async (what, script, after) => {
    if (!cpuBefore) cpuBefore = installerUsage().cpu;
    onNode(`cat > /tmp/kubewasm-e2e-original.toml <<'EOF'\n${original}EOF`);
    await until('Ready to start from', async () => (await state()) === 'Ready', 30_000);
    const drifted = occurrences('Drifted');
    const from = history.length;
    const t0 = Date.now();
    onNode(script);
    const pod = `wasm-drift-${cases.findIndex((c) => c[0] === what)}`;
    kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default', labels: { 'kubewasm-e2e': 'drift' } }, spec: { runtimeClassName: 'wasmtime', restartPolicy: 'Never', nodeSelector: { 'kubernetes.io/hostname': NODE }, containers: [{ name: 'hello', image: env.smokeImage, imagePullPolicy: 'IfNotPresent' }] } }));
    await until('the ready label to go', () => history.slice(from).some((h) => !h.ready), 10_000);
    const gone = history.slice(from).find((h) => !h.ready)!;
    // Meanwhile the pod waits with a reason `status` shows (or has already run).
    const status = JSON.parse((await run(['status', '-o', 'json'])).stdout) as ClusterStatus;
    const waiting = status.waitingPods.find((p) => p.name === pod);
    if (waiting) expect(waiting.reason, JSON.stringify(waiting)).toMatch(/\S{3,}/);
    await until('Ready again', () => history.slice(from).some((h) => h.t > gone.t && h.ready && h.state === 'Ready'), 30_000);
    const back = history.slice(from).find((h) => h.t > gone.t && h.ready && h.state === 'Ready')!;
    expect(gone.state).toBe('Drifted');
    expect(gone.t - t0).toBeLessThan(10_000);
    expect(back.t - t0).toBeLessThan(30_000);
    expect(occurrences('Drifted')).toBe(drifted + 1);
    after?.(onNode(`cat ${CONFIG}`));
    // The pod sent during the drift is not left hanging: it runs once the node is back (the kubelet retries the
    // sandbox), or, caught by the restart of the re-converge while its container started, fails with a reason.
    await until(`pod ${pod} to finish`, () => ['Succeeded', 'Failed'].includes(kubectl(['get', 'pod', pod, '-n', 'default', '-o', 'jsonpath={.status.phase}'])), 90_000);
    const outcome = JSON.parse(kubectl(['get', 'pod', pod, '-n', 'default', '-o', 'json'])) as { status: { phase: string; containerStatuses?: Array<{ state?: { terminated?: { reason?: string; message?: string } } }> } };
    const terminated = outcome.status.containerStatuses?.[0]?.state?.terminated;
    if (outcome.status.phase === 'Failed') expect(`${terminated?.reason ?? ''} ${terminated?.message ?? ''}`.trim(), JSON.stringify(outcome.status)).not.toBe('');
    figures.push(`drift "${what}": ready label gone after ${((gone.t - t0) / 1000).toFixed(1)} s, node Ready again after ${((back.t - t0) / 1000).toFixed(1)} s; the Wasm pod sent meanwhile: ${outcome.status.phase}${terminated ? ` (${terminated.reason}: ${terminated.message ?? ''})` : ''}${waiting ? `, while waiting: ${waiting.reason.slice(0, 160)}` : ''}`);
  });

  it('the cost of handling those five drifts', () => {
    figures.push(`installer pod CPU while handling the 5 drift cases: ${(installerUsage().cpu - cpuBefore).toFixed(1)} s, RSS ${installerUsage().rssMiB.toFixed(0)} MiB`);
  });

  // A restart loop would come from the triggers that start a reconcile: the 2 s poll and inotify (at once), and the
  // failure retry (5 s, then 10 s: at 5 s and 15 s). 20 s of samples every 2 s sees ten polls and two retries; the
  // 5 min resync lies beyond any window a test can afford (the controller's unit tests cover it).
  const CONFLICT_WINDOW_S = 20;
  it(`a hand edit inside kubewasm's block: one Conflict event, a clear last-error, no containerd restart over ${CONFLICT_WINDOW_S} s`, async () => {
    await until('Ready to start from', async () => (await state()) === 'Ready', 30_000);
    const conflicts = occurrences('Conflict');
    const starts = new Set<string>();
    const sample = () => starts.add(onNode('systemctl show containerd -p ExecMainStartTimestampMonotonic --value').trim());
    sample();
    onNode(`sed -i '/^# BEGIN kubewasm/,/^# END kubewasm/{/runtime_type = /a\\  privileged_without_host_devices = true\n}' ${CONFIG}`);
    const edited = onNode(`cat ${CONFIG}`);
    expect(edited).toMatch(/privileged_without_host_devices = true\n[\s\S]*# END kubewasm/);
    await until('the Conflict state', async () => (await state()) === 'Conflict', 10_000);
    const lastError = (await kube.readNode(NODE))?.metadata?.annotations?.['kubewasm.io/last-error'];
    expect(lastError).toMatch(/kubewasm's block in \/etc\/containerd\/config\.toml was edited by hand.*leaves your edit and does not restart containerd/);
    for (let i = 0; i < CONFLICT_WINDOW_S / 2; i++) {
      await new Promise((r) => setTimeout(r, 2_000));
      sample();
    }
    expect(starts.size, [...starts].join(', ')).toBe(1);
    expect(onNode(`cat ${CONFIG}`)).toBe(edited);
    expect(occurrences('Conflict')).toBe(conflicts + 1);
    expect(kubectl(['describe', 'node', NODE])).toMatch(/Warning\s+Conflict\s+.*kubewasm-node-installer/);
    figures.push(`hand edit in the block: Conflict reported, containerd restarts over ${CONFLICT_WINDOW_S} s: ${starts.size - 1}`);
    // Undone by hand: the node is Ready again, still without a restart.
    onNode(`sed -i '/privileged_without_host_devices = true/d' ${CONFIG}`);
    await until('Ready after the edit was undone', async () => (await state()) === 'Ready', 15_000);
  });

  it("verify on a node without the runtime (node-3, never opted in, given a stale ready label by hand) prints the handler error from the pod's events, naming the node", async () => {
    // A re-imaged node that kept its labels (runtime-class-manager#222): nothing of kubewasm runs there to correct it.
    kubectl(['label', 'node', 'node-3', `${READY}=ready`, '--overwrite']);
    try {
      // Both forms at once (each pod has a name of its own): each waits out its 15 s timeout (the kubelet reports the
      // sandbox failure within a few seconds).
      const [result, text] = await Promise.all([run(['verify', '--node', 'node-3', '--timeout', '15s', '-o', 'json']), run(['verify', '--node', 'node-3', '--timeout', '15s'])]);
      expect(result.code).toBe(1);
      const [check] = (JSON.parse(result.stdout) as { results: VerifyResult[] }).results;
      expect(check).toMatchObject({ runtimeClass: 'wasmtime', status: 'failed', ok: false, node: 'node-3' });
      expect(check!.message).toMatch(/on node node-3: FailedCreatePodSandBox.*no runtime for "wasmtime" is configured/);
      expect(text.stdout).toMatch(/✗ RuntimeClass wasmtime: .*no runtime handler "wasmtime"/);
    } finally {
      kubectl(['label', 'node', 'node-3', `${READY}-`]);
    }
  });
});
