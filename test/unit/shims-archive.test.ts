import { describe, expect, it } from 'vitest';
import { classifyEntry, MAX_ENTRY_BYTES, normalizeEntryPath, type EntryFacts } from '../../lib/shims/archive.js';

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
