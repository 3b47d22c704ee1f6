// The node lock with a command run in its own session once it is held (the
// probe of a converge: a no-op is one command on the node). Run by sh and
// flock(1) on this machine through the local transport, on a lock file in a
// temporary directory.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.js';
import { acquireNodeLock } from '../../lib/node/node-lock.js';

const host = new LocalHost();
const lockPath = path.join(mkdtempSync(path.join(tmpdir(), 'kubewasm-lock-')), 'kubewasm.lock');
const sh = (script: string) => ({ argv: ['sh', '-c', script], timeoutMs: 10_000 });

describe('the node lock runs a command in its session once it holds the lock', () => {
  it("returns the command's stdout byte for byte and its exit code; the lock is held meanwhile and gone after release", async () => {
    const lock = await acquireNodeLock(host, lockPath, 'first', sh(`printf 'a\\377\\376\\n\\n'; [ -s '${lockPath}' ] && printf 'held'; exit 3`));
    expect(lock.output).toEqual({ stdout: Buffer.concat([Buffer.from([0x61, 0xff, 0xfe, 0x0a, 0x0a]), Buffer.from('held')]), code: 3 });
    await expect(acquireNodeLock(host, lockPath, 'second')).rejects.toThrow(/another kubewasm run is changing this node: first node-pid=\d+/);
    await lock.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it('the command holds no descriptor of the lock file, so a program it leaves behind cannot keep the node locked', async () => {
    const lock = await acquireNodeLock(host, lockPath, 'first', sh('for fd in /proc/$$/fd/*; do readlink "$fd"; done'));
    const open = lock.output!.stdout.toString().split('\n').filter(Boolean);
    await lock.release();
    expect(open.length).toBeGreaterThan(0);
    expect(open).not.toContain(lockPath);
  });

  it('a command that does not finish: refused after its timeout, and the lock is freed once it ends', async () => {
    await expect(acquireNodeLock(host, lockPath, 'hung', { argv: ['sleep', '2'], timeoutMs: 300 })).rejects.toThrow(/did not finish its probe within 0.3 s \(while holding the node lock/);
    let next;
    for (let i = 0; i < 50 && !next; i++) {
      next = await acquireNodeLock(host, lockPath, 'next').catch(() => undefined);
      if (!next) await new Promise((r) => setTimeout(r, 200));
    }
    expect(next, 'the lock was not freed within 10 s of the hung command').toBeDefined();
    await next!.release();
  });
});
