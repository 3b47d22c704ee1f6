import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyEntry, MAX_ENTRY_BYTES, memberOf, normalizeEntryPath, type EntryFacts } from '../../lib/shims/archive.js';
import { tarball } from '../../scripts/lab/support/github-server.js';

const BIN = 'containerd-shim-wasmtime-v1';
const file = (path: string, size = 10): EntryFacts => ({ path, type: 'File', size });

describe('archive entry filter', () => {
  it('writes the expected binary, with or without ./', () => {
    expect(classifyEntry(file(`./${BIN}`), [BIN])).toEqual({ action: 'write', name: BIN });
    expect(classifyEntry(file(BIN), [BIN])).toEqual({ action: 'write', name: BIN });
    expect(classifyEntry({ path: BIN, type: 'OldFile', size: 1 }, [BIN]).action).toBe('write');
  });

  it('skips what it does not need: the root, signatures, other files, nested copies', () => {
    expect(classifyEntry({ path: './', type: 'Directory', size: 0 }, [BIN]).action).toBe('skip');
    expect(classifyEntry(file(`./${BIN}.sig`), [BIN]).action).toBe('skip');
    expect(classifyEntry(file(`./${BIN}.pem`), [BIN]).action).toBe('skip');
    expect(classifyEntry(file(`bin/${BIN}`), [BIN]).action).toBe('skip');
  });

  it("skips runwasi v0.4's symlinks, but refuses a link in place of the binary", () => {
    expect(classifyEntry({ path: './containerd-shim-wasmtimed-v1', type: 'SymbolicLink', size: 0 }, [BIN])).toEqual({ action: 'skip', reason: "link './containerd-shim-wasmtimed-v1' not extracted (links are never created)" });
    expect(classifyEntry({ path: `./${BIN}`, type: 'SymbolicLink', size: 0 }, [BIN]).action).toBe('refuse');
    expect(classifyEntry({ path: `./${BIN}`, type: 'Link', size: 0 }, [BIN])).toEqual({ action: 'refuse', reason: `'./${BIN}' is a hard link, not the shim binary itself` });
    expect(classifyEntry({ path: './other', type: 'Link', size: 0 }, [BIN]).action).toBe('skip');
  });

  it.each([
    ['/usr/local/bin/containerd-shim-wasmtime-v1', /absolute path/],
    ['C:\\evil', /absolute path/],
    ['../evil', /climbs out/],
    ['./a/../../evil', /climbs out/],
    ['..\\evil', /climbs out/],
    [`../${BIN}`, /climbs out/],
  ])('refuses %s', (path, reason) => {
    const d = classifyEntry(file(path), [BIN]);
    expect(d.action).toBe('refuse');
    expect(d.action === 'refuse' && d.reason).toMatch(reason);
  });

  it('refuses devices, FIFOs and unknown types even when unwanted', () => {
    for (const type of ['CharacterDevice', 'BlockDevice', 'FIFO', 'GNUDumpDir']) expect(classifyEntry({ path: './x', type, size: 0 }, [BIN]).action).toBe('refuse');
  });

  it('refuses a binary larger than a shim can be', () => {
    expect(classifyEntry(file(BIN, MAX_ENTRY_BYTES + 1), [BIN]).action).toBe('refuse');
  });

  it('normalizes paths', () => {
    expect(normalizeEntryPath('./')).toBeUndefined();
    expect(normalizeEntryPath('././a/b/')).toBe('a/b');
  });
});

describe('memberOf: the entry name a node unpacks', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-member-'));
  const archive = (name: string, entries: Parameters<typeof tarball>[0]) => {
    const file = path.join(dir, name);
    writeFileSync(file, tarball(entries));
    return file;
  };

  it('gives the name as stored, with or without ./, past other entries; undefined when the binary is only a link or absent', async () => {
    const data = Buffer.from('#!/bin/sh\n');
    expect(await memberOf(archive('a.tgz', [{ path: './', type: 'Directory' }, { path: `./${BIN}.sig`, data }, { path: `./${BIN}`, data }]), BIN)).toBe(`./${BIN}`);
    expect(await memberOf(archive('b.tgz', [{ path: BIN, data }]), BIN)).toBe(BIN);
    expect(await memberOf(archive('c.tgz', [{ path: `./${BIN}`, type: 'SymbolicLink', linkpath: '/bin/sh' }]), BIN)).toBeUndefined();
    expect(await memberOf(archive('d.tgz', [{ path: './other', data }]), BIN)).toBeUndefined();
    expect(await memberOf(path.join(dir, 'missing.tgz'), BIN)).toBeUndefined();
  });
});
