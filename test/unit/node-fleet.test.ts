// The fleet's scheduling: everything overlaps except the restart step, which
// at most K nodes are in at once; a failing node does not stop the others.
import { describe, expect, it } from 'vitest';
import type { ConvergeResult } from '../../lib/node/converge.js';
import { runFleet } from '../../lib/node/fleet.js';
import type { NodeHost } from '../../lib/node/host.js';
import { Semaphore } from '../../lib/node/semaphore.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The fleet only passes hosts through and closes them; the action decides what happens.
const host = (name: string) => ({ name, close: async () => {} }) as unknown as NodeHost;
const result = (node: string) => ({ plan: { node }, applied: true, recovered: false, timings: {} }) as unknown as ConvergeResult;

describe('runFleet', () => {
  it.each([1, 2, 3])('with --max-unavailable %i, never more than that many restart at once, and the uploads overlap', async (k) => {
    let restarting = 0;
    let maxRestarting = 0;
    let uploading = 0;
    let maxUploading = 0;
    const nodes = Array.from({ length: 6 }, (_, i) => ({ name: `n${i}`, connect: async () => host(`n${i}`) }));
    const outcomes = await runFleet(
      nodes,
      async (h, options) => {
        uploading++;
        maxUploading = Math.max(maxUploading, uploading);
        await sleep(20);
        uploading--;
        await options.restartGate!(async () => {
          restarting++;
          maxRestarting = Math.max(maxRestarting, restarting);
          await sleep(15);
          restarting--;
        });
        return result(h.name);
      },
      { maxUnavailable: k },
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, true, true, true]);
    expect(maxRestarting).toBe(k);
    expect(maxUploading).toBe(6);
  });

  it('a failing node fails alone, in order, with its name', async () => {
    const done: string[] = [];
    const outcomes = await runFleet(
      [
        { name: 'a', connect: async () => host('a') },
        { name: 'b', connect: async () => Promise.reject(new Error('connection refused')) },
        { name: 'c', connect: async () => host('c') },
      ],
      async (h) => result(h.name),
      { onDone: (o) => done.push(o.node) },
    );
    expect(outcomes.map((o) => [o.node, o.ok])).toEqual([['a', true], ['b', false], ['c', true]]);
    const failed = outcomes[1]!;
    expect(!failed.ok && failed.error.message).toBe('b: connection refused');
    expect(done.sort()).toEqual(['a', 'b', 'c']);
  });

  it('does not start nodes after an abort', async () => {
    const abort = new AbortController();
    abort.abort(new Error('SIGINT'));
    const outcomes = await runFleet([{ name: 'a', connect: async () => host('a') }], async (h) => result(h.name), { signal: abort.signal });
    expect(outcomes[0]!.ok).toBe(false);
  });
});

describe('Semaphore', () => {
  it('serves callers in order and passes the slot on', async () => {
    const s = new Semaphore(1);
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((i) => s.run(async () => void order.push(i))));
    expect(order).toEqual([1, 2, 3]);
    expect(s.inside).toBe(0);
    expect(() => new Semaphore(0)).toThrow();
  });
});
