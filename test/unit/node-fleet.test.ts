// The fleet's scheduling: everything overlaps except the restart step, which
// at most K nodes are in at once; a failing node does not stop the others.
import { describe, expect, it } from 'vitest';
import type { ConvergeResult } from '../../lib/node/converge.js';
import { scheduleFleet } from '../../lib/node/fleet.js';
import type { NodeHost } from '../../lib/host/host.js';
import { Semaphore } from '../../lib/host/semaphore.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The fleet only passes hosts through and closes them; the action decides what happens.
const host = (name: string) => ({ name, close: async () => {} }) as unknown as NodeHost;
const result = (node: string) => ({ plan: { node }, applied: true, recovered: false, timings: {} }) as unknown as ConvergeResult;

describe('scheduleFleet', () => {
  it.each([1, 2, 3])('with --max-unavailable %i: exactly that many restart at once at most; a bounded number upload and are in flight', async (k) => {
    const peak = { inFlight: 0, uploading: 0, restarting: 0 };
    const now = { inFlight: 0, uploading: 0, restarting: 0 };
    const enter = (key: keyof typeof now) => {
      now[key]++;
      peak[key] = Math.max(peak[key], now[key]);
    };
    const nodes = Array.from({ length: 8 }, (_, i) => ({ name: `n${i}`, connect: async () => host(`n${i}`) }));
    const order: string[] = [];
    const outcomes = await scheduleFleet(
      nodes,
      async (h, options) => {
        enter('inFlight');
        await sleep(5); // plan
        await options.uploadGate!(async () => {
          enter('uploading');
          await sleep(10);
          now.uploading--;
        });
        await options.restartGate!(async () => {
          enter('restarting');
          order.push(h.name);
          await sleep(15);
          now.restarting--;
        });
        now.inFlight--;
        return result(h.name);
      },
      { maxUnavailable: k },
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(peak.restarting).toBe(k);
    expect(peak.uploading).toBe(Math.max(2, k + 1));
    expect(peak.inFlight).toBe(Math.max(4, 2 * k + 2));
    expect(order).toHaveLength(8);
  });

  it('--parallel and the upload limit can be set', async () => {
    let inFlight = 0;
    let peak = 0;
    await scheduleFleet(
      Array.from({ length: 5 }, (_, i) => ({ name: `n${i}`, connect: async () => host(`n${i}`) })),
      async (h) => {
        peak = Math.max(peak, ++inFlight);
        await sleep(10);
        inFlight--;
        return result(h.name);
      },
      { parallel: 5 },
    );
    expect(peak).toBe(5);
  });

  it('a failing node fails alone, in order, with its name', async () => {
    const done: string[] = [];
    const outcomes = await scheduleFleet(
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
    const outcomes = await scheduleFleet([{ name: 'a', connect: async () => host('a') }], async (h) => result(h.name), { signal: abort.signal });
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
