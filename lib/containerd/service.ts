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
  const restart = host.exec(restartArgv(setup.restart), { timeoutMs: 120_000 });
  // A restart that waits for containerd to serve (systemd's Type=notify) waits for ever on a stuck shim delete.
  const result = await meanwhile(restart, RELEASE_EVERY_MS, () => releaseStuckShimDeletes(host));
  if (result.code !== 0) {
    throw new KubewasmError({
      what: `restarting containerd failed ('${describeRestart(setup.restart)}' exited with ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 500)})`,
      where: host.name,
      fix: 'check how containerd runs on this node (journalctl -u containerd) and pass --restart-command if it is not a systemd unit',
    });
  }
}

// Waits on the node (cheaply: a test and a short sleep) for containerd's
// socket to appear, up to $2 tenths of a second, then asks the CRI: right
// after a restart one command answers, with no poll interval to lose.
const CRICTL_WHEN_SOCKET = `i=0; while [ ! -S "$1" ] && [ "$i" -lt "$2" ]; do sleep 0.1; i=$((i+1)); done; shift 2; exec crictl "$@"`;

/** Asks the running containerd's CRI plugin, once (first waiting up to `socketWaitMs` for its socket to appear). */
export async function criStatus(host: NodeHost, setup: ContainerdSetup, socketWaitMs = 0): Promise<CriStatus> {
  const endpoint = `unix://${setup.address}`;
  const crictl = ['--runtime-endpoint', endpoint, '--timeout', '5s', 'info'];
  const argv = socketWaitMs > 0 ? ['sh', '-c', CRICTL_WHEN_SOCKET, 'sh', setup.address, String(Math.ceil(socketWaitMs / 100)), ...crictl] : ['crictl', ...crictl];
  const info = await host.exec(argv, { timeoutMs: 15_000 + socketWaitMs });
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
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last: CriStatus = { ready: false, runtimes: undefined, detail: 'not asked yet' };
  for (let attempt = 0; ; attempt++) {
    // The first ask waits on the node for the socket; then short pauses at first (a restart is
    // usually done in well under a second, and this wait is inside the fleet's restart slot), longer later.
    last = await criStatus(host, setup, attempt === 0 ? Math.min(RELEASE_EVERY_MS, timeoutMs) : 0);
    if (last.ready && runtimesMatch(last.runtimes, expect)) return last;
    if (Date.now() > deadline) break;
    if (!last.ready && Date.now() - started >= RELEASE_EVERY_MS) await releaseStuckShimDeletes(host);
    await new Promise((resolve) => setTimeout(resolve, Date.now() - started < 3_000 ? 100 : 500));
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

/**
 * containerd (1.6.20, 2.2.9 and 2.4.2, seen here) runs `<shim> … -bundle DIR delete` at start-up for each shim it cannot reconnect to (one a
 * restart caught starting has no bootstrap.json yet) and waits for that command's output with no deadline. runwasi's
 * shims (containerd-shim-wasm) set up their logger for every command, in a forked zygote, by opening the bundle's
 * `log` FIFO for writing: that blocks until a reader comes, and containerd closed its reader when it gave up on the
 * shim. containerd kills the delete after 5 s, but the zygote still holds the command's output pipe, so containerd
 * never serves. Being the FIFO's reader for a moment lets the logger open and the delete end; any other delete loses
 * at most a log line. Prints each bundle released.
 */
export const RELEASE_SHIM_DELETES = `command -v pgrep >/dev/null 2>&1 || exit 0
for pid in $(pgrep -f '[c]ontainerd-shim-.* delete$'); do
  bundle=$(tr '\\0' '\\n' < /proc/$pid/cmdline 2>/dev/null | sed -n '/^-bundle$/{n;p;q;}')
  [ -n "$bundle" ] && [ -p "$bundle/log" ] || continue
  ( exec 3<>"$bundle/log"; sleep 0.2 ) 2>/dev/null
  echo "$bundle"
done`;

/** How often a restart, or a CRI that does not answer yet, looks for stuck shim deletes. */
const RELEASE_EVERY_MS = 2_000;

/** Releases the shim deletes that block containerd's start-up (see RELEASE_SHIM_DELETES); returns their bundles. */
export async function releaseStuckShimDeletes(host: NodeHost): Promise<string[]> {
  const result = await host.exec(['sh', '-c', RELEASE_SHIM_DELETES], { timeoutMs: 15_000 });
  return result.code === 0 ? result.stdout.split('\n').filter(Boolean) : [];
}

/** Awaits `work`, calling `chore` every `everyMs` until it settles. */
async function meanwhile<T>(work: Promise<T>, everyMs: number, chore: () => Promise<unknown>): Promise<T> {
  let settled = false;
  void work.then(() => (settled = true), () => (settled = true));
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<'tick'>((resolve) => (timer = setTimeout(() => resolve('tick'), everyMs)));
    const first = await Promise.race([work, tick]).finally(() => clearTimeout(timer));
    if (settled || first !== 'tick') return work;
    await chore().catch(() => undefined);
  }
}
