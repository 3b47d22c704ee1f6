// Restarting containerd the node's way and waiting until its CRI answers
// with the runtimes kubewasm expects.
import { KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import { describeRestart, restartArgv, type ContainerdSetup } from './setup.js';

export interface CriStatus {
  /** The CRI plugin answered and reports RuntimeReady. */
  ready: boolean;
  /** Runtime names the running CRI plugin knows; undefined when the node has no crictl to ask. */
  runtimes: string[] | undefined;
  /** Why it is not ready, for messages. */
  detail: string;
}

export async function restartContainerd(host: NodeHost, setup: ContainerdSetup): Promise<void> {
  const result = await host.exec(restartArgv(setup.restart), { timeoutMs: 120_000 });
  if (result.code !== 0) {
    throw new KubewasmError({
      what: `restarting containerd failed ('${describeRestart(setup.restart)}' exited with ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 500)})`,
      where: host.name,
      fix: 'check how containerd runs on this node (journalctl -u containerd) and pass --restart-command if it is not a systemd unit',
    });
  }
}

/** Asks the running containerd's CRI plugin, once. */
export async function criStatus(host: NodeHost, setup: ContainerdSetup): Promise<CriStatus> {
  const endpoint = `unix://${setup.address}`;
  const info = await host.exec(['crictl', '--runtime-endpoint', endpoint, '--timeout', '5s', 'info'], { timeoutMs: 15_000 });
  if (info.code === 0) return parseCrictlInfo(info.stdout);
  if (info.code !== 127) return { ready: false, runtimes: undefined, detail: (info.stderr || info.stdout).trim().split('\n').at(-1) ?? '' };
  // No crictl on the node: ctr can at least say whether the CRI plugin loaded.
  const plugins = await host.exec(['ctr', '--address', setup.address, 'plugins', 'ls'], { timeoutMs: 15_000 });
  if (plugins.code !== 0) return { ready: false, runtimes: undefined, detail: (plugins.stderr || plugins.stdout).trim().split('\n').at(-1) ?? '' };
  return parseCtrPlugins(plugins.stdout);
}

/** Pure: `crictl info` JSON -> status. */
export function parseCrictlInfo(json: string): CriStatus {
  const info = JSON.parse(json) as {
    status?: { conditions?: Array<{ type: string; status: boolean; message?: string }> };
    config?: { containerd?: { runtimes?: Record<string, unknown> } };
  };
  const runtimeReady = info.status?.conditions?.find((c) => c.type === 'RuntimeReady');
  const runtimes = Object.keys(info.config?.containerd?.runtimes ?? {}).sort();
  return {
    ready: runtimeReady?.status === true,
    runtimes,
    detail: runtimeReady?.status ? 'RuntimeReady' : `RuntimeReady is ${runtimeReady?.status ?? 'missing'}: ${runtimeReady?.message ?? ''}`.trim(),
  };
}

/** Pure: `ctr plugins ls` table -> whether the CRI plugin is ok. */
export function parseCtrPlugins(table: string): CriStatus {
  const cri = table.split('\n').find((line) => /\bio\.containerd\.grpc\.v1\s+cri\b/.test(line));
  const ok = cri !== undefined && /\bok\s*$/.test(cri.trim());
  return { ready: ok, runtimes: undefined, detail: cri ? cri.trim().replace(/\s+/g, ' ') : 'no CRI plugin listed' };
}

/**
 * Polls until the CRI answers ready and lists every runtime in `expected`
 * (and none of `absent`), or the timeout passes.
 */
export async function waitForCri(
  host: NodeHost,
  setup: ContainerdSetup,
  expect: { present: string[]; absent: string[] },
  timeoutMs = 60_000,
): Promise<CriStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: CriStatus = { ready: false, runtimes: undefined, detail: 'not asked yet' };
  for (;;) {
    last = await criStatus(host, setup);
    if (last.ready && runtimesMatch(last.runtimes, expect)) return last;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const missing = last.runtimes ? expect.present.filter((r) => !last.runtimes!.includes(r)) : [];
  throw new KubewasmError({
    what: last.ready
      ? `containerd came back but its CRI does not list runtime(s) ${missing.join(', ')} (it lists ${last.runtimes?.join(', ') || 'none'})`
      : `containerd's CRI did not become ready within ${Math.round(timeoutMs / 1000)}s (${last.detail})`,
    where: host.name,
    fix: 'read containerd\'s log on the node (journalctl -u containerd); kubewasm restores the previous config when this happens',
  });
}

function runtimesMatch(runtimes: string[] | undefined, expect: { present: string[]; absent: string[] }): boolean {
  if (runtimes === undefined) return true; // cannot tell without crictl; readiness is all we can check
  return expect.present.every((r) => runtimes.includes(r)) && expect.absent.every((r) => !runtimes.includes(r));
}
