// The no-op re-run benchmark (run by ./noop): N converged nodes over SSH
// (namespace nodes, own sshd + containerd 1.6/2.2.9) and over docker (the lab
// node image, systemd + containerd 1.6, kind-labelled, on a network of its
// own); the first run installs the real wasmtime shim, then R re-runs must
// change nothing. Prints per node: the first run's bytes sent to the node and
// each re-run's time (lock, plan, total; median, min and max), bytes sent,
// commands run on the node and containerd restarts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NodeHost } from '../../dist/lib/host/host.js';
import { runFleet, type FleetOutcome } from '../../dist/lib/node/fleet.js';
import { openTarget, type NodeTarget } from '../../dist/lib/node/targets.js';
import { SHIMS } from '../../dist/lib/shims/catalog.js';
import { createDockerCluster } from '../lab/support/docker-nodes.ts';
import { createNet, createNode, type TestNode } from '../lab/support/netns.ts';
import { clientKey, startSshd } from '../lab/support/sshd.ts';

const cache = process.env['KUBEWASM_CACHE'] ?? '/var/cache/kubewasm-lab';
function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const count = Number(option('nodes', '3'));
const runs = Number(option('runs', '3'));
const vias = option('via', 'ssh,docker').split(',');
const trace = process.argv.includes('--trace');
if (!(count >= 1 && count <= 10) || !(runs >= 1 && runs <= 20) || vias.some((v) => v !== 'ssh' && v !== 'docker')) {
  console.error('usage: scripts/bench/noop [--nodes 3] [--runs 3] [--via ssh,docker]');
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`[noop] ${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
/** "median ms (min-max)": the spread of every sample, not one run. */
const spread = (xs: number[]) => `${median(xs)} ms (${Math.min(...xs)}-${Math.max(...xs)})`;
/** The NodeHost calls that run something on the node (over ssh and docker each is one command; the fleet's uname included). */
const NODE_CALLS = new Set<string | symbol>(['readFile', 'writeFileAtomic', 'removeFile', 'rename', 'removeEmptyDir', 'readDir', 'stat', 'mkdirp', 'exec', 'execBytes', 'start']);

/** The lab's real wasmtime shim (26 MB), extracted into a directory for the dir supply. */
function shimDir(work: string): string {
  const release = readdirSync(cache).filter((d) => d.startsWith('wasmtime-shim-release-') && existsSync(path.join(cache, d, '.done'))).sort().reverse()[0];
  if (!release) throw new Error(`no wasmtime shim release in ${cache}: run scripts/setup --lab`);
  const dir = path.join(work, 'shims');
  mkdirSync(dir);
  execFileSync('tar', ['-xzf', path.join(cache, release, 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz'), '-C', dir, SHIMS.wasmtime.binaryName]);
  return dir;
}

interface Counter {
  /** What the transport itself counted as sent (NaN: a transport that does not count). */
  sent: number;
  /** The bytes of the files handed to writeFileAtomic (before any compression). */
  written: number;
  writes: number;
  /** NodeHost calls that run a command on the node. */
  commands: number;
}

/** openTarget, with the bytes each node's transport sent counted (the transport's own count). */
function countingOpen(counters: Map<string, Counter>) {
  return async (target: NodeTarget): Promise<NodeHost> => {
    const host = await openTarget(target);
    const counter = { sent: 0, written: 0, writes: 0, commands: 0 };
    counters.set(target.name, counter);
    return new Proxy(host, {
      get(real, prop) {
        if (prop === 'close') {
          return async () => {
            counter.sent = (real as { sentBytes?: number }).sentBytes ?? Number.NaN;
            return real.close();
          };
        }
        if (prop === 'writeFileAtomic') {
          return (...args: Parameters<NodeHost['writeFileAtomic']>) => {
            counter.writes++;
            counter.written += Buffer.byteLength(args[1]);
            return real.writeFileAtomic(...args);
          };
        }
        const value = Reflect.get(real, prop) as unknown;
        if (typeof value !== 'function') return value;
        const counted = NODE_CALLS.has(prop);
        if (!trace) return (...args: unknown[]) => ((counted && counter.commands++), (value as (...a: unknown[]) => unknown).apply(real, args));
        // --trace: every call on the node with its duration (where a re-run's time goes).
        return async (...args: unknown[]) => {
          if (counted) counter.commands++;
          const t = Date.now();
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(real, args);
          } finally {
            log(`  ${target.name} ${String(prop)} ${JSON.stringify(args[0]).slice(0, 90)} ${Date.now() - t} ms`);
          }
        };
      },
    });
  };
}

interface Via {
  name: string;
  targets: NodeTarget[];
  /** containerd's pid in each node (a change is a restart). */
  pids(): string[];
  cleanup(): void;
}

function sshNodes(work: string): Via {
  const net = createNet('10.247.126');
  const nodes: TestNode[] = [];
  const key = clientKey(work);
  const knownHosts = path.join(work, 'known_hosts');
  let known = '';
  for (let i = 1; i <= count; i++) {
    const node = createNode(net, i, i % 2 ? '1.6' : '2.2');
    nodes.push(node);
    known += startSshd(node, key).knownHostsLine;
    node.startContainerd();
  }
  writeFileSync(knownHosts, known);
  return {
    name: 'ssh',
    targets: nodes.map((n) => ({ kind: 'ssh', name: n.name, ssh: { host: n.ip, user: 'root', identityFile: key.privateKey, knownHostsFile: knownHosts } })),
    pids: () => nodes.map((n) => String(n.containerdPid())),
    cleanup: () => {
      for (const n of nodes) n.destroy();
      net.cleanup();
    },
  };
}

function dockerNodes(): Via {
  // kind-labelled lab node containers on an internal network of their own: a control plane and count-1 workers.
  const cluster = createDockerCluster('kwnoop', '10.247.127.0/24', count - 1, { internal: true });
  const pid = (name: string) => cluster.run(name, 'systemctl show -p MainPID --value containerd').trim();
  return { name: 'docker', targets: cluster.nodes.map((n) => ({ kind: 'docker', name: n, container: n })), pids: () => cluster.nodes.map(pid), cleanup: cluster.cleanup };
}

async function bench(via: Via, dir: string): Promise<void> {
  const fleet = async () => {
    const counters = new Map<string, Counter>();
    const started = Date.now();
    const outcomes = await runFleet(via.targets, { job: { kind: 'install', shims: [SHIMS.wasmtime], supply: { kind: 'dir', dir } }, maxUnavailable: count, open: countingOpen(counters) });
    const wallMs = Date.now() - started;
    const failed = outcomes.filter((o): o is Extract<FleetOutcome, { ok: false }> => !o.ok);
    if (failed.length) throw new Error(failed.map((f) => `${f.node}: ${f.error.message}`).join('\n'));
    return { wallMs, outcomes: outcomes as Array<Extract<FleetOutcome, { ok: true }>>, counters };
  };
  const first = await fleet();
  const mb = (b: number) => (Number.isNaN(b) ? 'n/a' : `${(b / 1e6).toFixed(2)} MB`);
  const counters = [...first.counters.values()];
  log(`${via.name}: first run (install) ${first.wallMs} ms; per node: files handed to the transport ${counters.map((c) => mb(c.written)).join(', ')}; sent by the transport ${counters.map((c) => mb(c.sent)).join(', ')}`);
  const rows: Array<{ total: number; lock: number; plan: number; sent: number; writes: number; commands: number; applied: boolean; cached: number; live: number }> = [];
  const pids = via.pids();
  const walls: number[] = [];
  for (let r = 0; r < runs; r++) {
    const run = await fleet();
    walls.push(run.wallMs);
    for (const o of run.outcomes) {
      const c = run.counters.get(o.node)!;
      const probe = (o.result as { probe?: { digestsCached: number; liveReads: string[] } }).probe; // absent before the probe existed
      rows.push({ total: o.result.timings.totalMs, lock: o.result.timings.lockMs, plan: o.result.timings.planMs, sent: c.sent, writes: c.writes, commands: c.commands, applied: o.result.applied, cached: probe?.digestsCached ?? 0, live: probe?.liveReads.length ?? Number.NaN });
    }
  }
  const restarts = via.pids().filter((p, i) => p !== pids[i]).length;
  log(`${via.name}: ${runs} no-op re-runs of ${count} nodes, median (min-max) over ${rows.length} node runs: per node total ${spread(rows.map((r) => r.total))}, lock ${spread(rows.map((r) => r.lock))}, plan ${spread(rows.map((r) => r.plan))}; fleet wall (uname, lock, probe, plan, close) ${spread(walls)}`);
  log(`${via.name}: commands run on each node per re-run ${[...new Set(rows.map((r) => r.commands))].sort().join(' or ')} (the fleet's uname -m included)`);
  log(`${via.name}: re-runs sent ${Math.max(...rows.map((r) => r.sent))} bytes at most per node, ${rows.reduce((a, r) => a + r.writes, 0)} file writes, applied ${rows.filter((r) => r.applied).length}, containerd restarts ${restarts}; sha256 from the node's cache ${rows.reduce((a, r) => a + r.cached, 0)}, reads outside the probe ${rows.reduce((a, r) => a + r.live, 0)}`);
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-noop-'));
  const dir = shimDir(work);
  for (const name of vias) {
    const via = name === 'ssh' ? sshNodes(work) : dockerNodes();
    try {
      await bench(via, dir);
    } finally {
      via.cleanup();
    }
  }
}

await main();
