// A fleet run touches each host exactly once: one connection, one `uname -m`,
// one close; the shims are provided once for the run. Two real containerd
// daemons (1.6 and 2.2) on this machine are two nodes, each reached through
// the local transport wrapped by a transport that counts what it is asked.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeHost } from '../../lib/host/host.js';
import { LocalHost } from '../../lib/host/local.js';
import { runFleet, type FleetEvent, type FleetOutcome } from '../../lib/node/fleet.js';
import type { NodeTarget } from '../../lib/node/targets.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { CONTAINERD_BUILDS, testContainerd, writeStandInShim, type TestContainerd } from '../../scripts/lab/support/containerd.js';

const fixtures = new URL('../fixtures/containerd/', import.meta.url).pathname;
const shimDir = mkdtempSync(path.join(tmpdir(), 'kubewasm-fleet-once-'));
writeStandInShim(shimDir, SHIMS.wasmtime.binaryName);

const failures = (outcomes: FleetOutcome[]) => outcomes.map((o) => (o.ok ? '' : o.error.message)).filter(Boolean).join('; ');

interface Count {
  open: number;
  uname: number;
  close: number;
}

/** The real local transport, counting opens, `uname` probes and closes per node. */
function counting(counts: Map<string, Count>) {
  return async (target: NodeTarget): Promise<NodeHost> => {
    const count = counts.get(target.name) ?? { open: 0, uname: 0, close: 0 };
    counts.set(target.name, count);
    count.open++;
    const real = new LocalHost({ name: target.name });
    return new Proxy(real, {
      get(host, prop) {
        if (prop === 'exec') return (argv: string[], options?: Parameters<NodeHost['exec']>[1]) => ((argv[0] === 'uname' && count.uname++), host.exec(argv, options));
        if (prop === 'close') return () => ((count.close++), host.close());
        const value = Reflect.get(host, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(host) : value;
      },
    });
  };
}

describe('a fleet run opens, probes and closes each host once', () => {
  const daemons: TestContainerd[] = [];
  let targets: NodeTarget[];

  beforeAll(() => {
    const specs = [
      { name: 'node-16', build: CONTAINERD_BUILDS['1.6'], fixture: 'containerd-1.6.20-default.toml' },
      { name: 'node-22', build: CONTAINERD_BUILDS['2.2'], fixture: 'containerd-2.2.9-default.toml' },
    ];
    targets = specs.map(({ name, build, fixture }) => {
      const c = testContainerd(build);
      copyFileSync(path.join(fixtures, fixture), c.configPath);
      c.start();
      daemons.push(c);
      return {
        kind: 'local',
        name,
        stateDir: path.join(c.dir, 'state-kubewasm'),
        containerd: { configPath: c.configPath, address: c.socket, binary: c.binary, shimDir: c.shimDir, restart: { kind: 'command', argv: ['sh', c.restartScript] } },
      };
    });
  });
  afterAll(() => daemons.forEach((d) => d.cleanup()));

  it('node install: each node once, the shims once, every node converged', async () => {
    const counts = new Map<string, Count>();
    const events: FleetEvent[] = [];
    const outcomes = await runFleet(
      targets,
      { job: { kind: 'install', shims: [SHIMS.wasmtime], supply: { kind: 'dir', dir: shimDir } }, converge: { criTimeoutMs: 60_000 }, maxUnavailable: 2, open: counting(counts) },
      (e) => events.push(e),
    );
    expect(outcomes.map((o) => [o.node, o.ok, o.ok && o.result.applied]), failures(outcomes)).toEqual([['node-16', true, true], ['node-22', true, true]]);
    expect(Object.fromEntries(counts)).toEqual({ 'node-16': { open: 1, uname: 1, close: 1 }, 'node-22': { open: 1, uname: 1, close: 1 } });
    expect(events.filter((e) => e.type === 'done').map((e) => e.type === 'done' && e.outcome.node).sort()).toEqual(['node-16', 'node-22']);
    for (const d of daemons) expect(Object.keys(d.criInfo().config.containerd.runtimes)).toContain('wasmtime');
  });

  it('node uninstall: each node once, no probe, every node reset', async () => {
    const counts = new Map<string, Count>();
    const outcomes = await runFleet(targets, { job: { kind: 'uninstall' }, converge: { criTimeoutMs: 60_000 }, open: counting(counts) });
    expect(outcomes.every((o) => o.ok && o.result.applied), failures(outcomes)).toBe(true);
    expect(Object.fromEntries(counts)).toEqual({ 'node-16': { open: 1, uname: 0, close: 1 }, 'node-22': { open: 1, uname: 0, close: 1 } });
  });

  it('a node that cannot be opened fails alone and is never closed; the others still converge once', async () => {
    const counts = new Map<string, Count>();
    const open = counting(counts);
    const outcomes = await runFleet(
      [...targets, { kind: 'local', name: 'unreachable' }],
      {
        job: { kind: 'install', shims: [SHIMS.wasmtime], supply: { kind: 'dir', dir: shimDir } },
        converge: { criTimeoutMs: 60_000 },
        open: (t) => (t.name === 'unreachable' ? Promise.reject(new Error('connection refused')) : open(t)),
      },
    );
    expect(outcomes.map((o) => [o.node, o.ok]), failures(outcomes)).toEqual([['node-16', true], ['node-22', true], ['unreachable', false]]);
    expect(outcomes[2]!.ok ? '' : outcomes[2]!.error.message).toBe('unreachable: connection refused');
    expect([...counts.values()]).toEqual([{ open: 1, uname: 1, close: 1 }, { open: 1, uname: 1, close: 1 }]);
    await runFleet(targets, { job: { kind: 'uninstall' }, converge: { criTimeoutMs: 60_000 }, open });
  });
});
