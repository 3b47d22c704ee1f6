import { describe, expect, it } from 'vitest';
import { lockEntryFor, lockVersionFor, parseLock, serializeLock, type LockEntry } from '../../lib/shims/lockfile.js';

const entry = (over: Partial<LockEntry> = {}): LockEntry => ({
  shim: 'wasmtime',
  version: '0.6.0',
  arch: 'amd64',
  repository: 'containerd/runwasi',
  tag: 'containerd-shim-wasmtime/v0.6.0',
  asset: 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz',
  sha256: 'a'.repeat(64),
  size: 123,
  ...over,
});

describe('lock file', () => {
  it('round-trips, sorted by shim and arch', () => {
    const text = serializeLock([entry({ shim: 'spin', version: '0.24.0' }), entry({ arch: 'arm64' }), entry()], 'test');
    const lock = parseLock(text, 'lock.json');
    expect(lock.entries.map((e) => `${e.shim}/${e.arch}`)).toEqual(['spin/amd64', 'wasmtime/amd64', 'wasmtime/arm64']);
    expect(lockEntryFor(lock, 'wasmtime', 'arm64')?.sha256).toBe('a'.repeat(64));
    expect(lockVersionFor(lock, 'spin')).toBe('0.24.0');
    expect(lockVersionFor(lock, 'wasmer')).toBeUndefined();
  });

  it.each([
    ['not json', '{', /not a kubewasm lock file/],
    ['another kind', JSON.stringify({ kind: 'x' }), /kind is "x"/],
    ['a future format', JSON.stringify({ kind: 'kubewasm-shims-lock', formatVersion: 2, entries: [] }), /format 2 is not supported/],
    ['a bad sha256', serializeLock([entry({ sha256: 'abc' })]), /entry 1 has a missing or invalid 'sha256'/],
    ['a bad arch', serializeLock([entry({ arch: 'riscv64' as never })]), /'arch'/],
    ['an unknown shim', serializeLock([entry({ shim: 'runc' as never })]), /'shim'/],
    ['a duplicate', serializeLock([entry(), entry()]), /lists wasmtime\/amd64 twice/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseLock(text, 'lock.json')).toThrow(message);
  });
});
