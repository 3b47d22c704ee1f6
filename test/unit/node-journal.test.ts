// What a run writes in its journal, and what the next run does with it.
import { describe, expect, it } from 'vitest';
import { decideRecovery, journalFor, type Journal } from '../../lib/node/journal.js';
import type { NodePlan } from '../../lib/node/plan.js';

const plan: NodePlan = {
  node: 'n',
  uploads: [
    { shim: 'wasmtime', from: '/src/w', to: '/usr/local/bin/containerd-shim-wasmtime-v1', sha256: 'a'.repeat(64) },
    { shim: 'spin', from: '/src/s', to: '/usr/local/bin/containerd-shim-spin-v2', sha256: 'b'.repeat(64), replaces: 'c'.repeat(64) },
  ],
  removals: [{ path: '/usr/local/bin/containerd-shim-wasmer-v1', sha256: 'd'.repeat(64) }],
  keptModified: [],
  config: { path: '/etc/containerd/config.toml', before: Buffer.from('old'), after: Buffer.from('new'), changed: true, configVersion: 2, registered: ['wasmtime', 'spin'], adopted: [], dropped: ['wasmer'], autoRegistered: [], copies: [] },
  restart: true,
  runtimes: [{ name: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1' }, { name: 'spin', runtimeType: 'io.containerd.spin.v2' }],
  record: { formatVersion: 1, configPath: '/etc/containerd/config.toml', runtimes: ['wasmtime', 'spin'], shims: [{ name: 'wasmtime', path: '/usr/local/bin/containerd-shim-wasmtime-v1', sha256: 'a'.repeat(64) }, { name: 'spin', path: '/usr/local/bin/containerd-shim-spin-v2', sha256: 'b'.repeat(64) }], updatedAt: 't' },
  previousRuntimes: ['spin', 'wasmer'],
  createDirs: [],
  removeDirs: [],
};

describe('journal', () => {
  const journal = journalFor(plan, '/var/lib/kubewasm', {
    owner: 'pid=1',
    createdStateDir: false,
    configSha256: (b) => `sha(${b.toString()})`,
    staged: new Map([['/usr/local/bin/containerd-shim-wasmtime-v1', '/usr/local/bin/.containerd-shim-wasmtime-v1.kubewasm-staged-1']]),
    now: new Date('2026-01-01T00:00:00Z'),
  });

  it('says what will change, where the old bytes are, and what containerd should serve before and after', () => {
    expect(journal).toMatchObject({
      formatVersion: 2,
      phase: 'files',
      startedAt: '2026-01-01T00:00:00.000Z',
      files: [
        { path: '/usr/local/bin/containerd-shim-wasmtime-v1', backup: null, staged: '/usr/local/bin/.containerd-shim-wasmtime-v1.kubewasm-staged-1' },
        { path: '/usr/local/bin/containerd-shim-spin-v2', backup: `/var/lib/kubewasm/backup/${'c'.repeat(64)}` },
      ],
      config: { path: '/etc/containerd/config.toml', beforeSha256: 'sha(old)', afterSha256: 'sha(new)', backup: '/var/lib/kubewasm/config.backup' },
      expectNew: { present: ['wasmtime', 'spin'], absent: ['wasmer'] },
      // spin was there before: only wasmtime must be gone once the old config is back
      expectOld: { present: [], absent: ['wasmtime'] },
      shims: ['/usr/local/bin/containerd-shim-wasmtime-v1', '/usr/local/bin/containerd-shim-spin-v2'],
      removals: [{ path: '/usr/local/bin/containerd-shim-wasmer-v1' }],
    });
  });

  const files = (a: string | null, b: string | null) => ({ '/usr/local/bin/containerd-shim-wasmtime-v1': a, '/usr/local/bin/containerd-shim-spin-v2': b });
  const inConfig: Journal = { ...journal, phase: 'config' };

  it.each([
    ['killed while uploading', journal, 'sha(old)', files(null, 'c'.repeat(64)), 'undo'],
    ['killed after the uploads, before the config', inConfig, 'sha(old)', files('a'.repeat(64), 'b'.repeat(64)), 'undo'],
    ['killed between the config write and the restart', inConfig, 'sha(new)', files('a'.repeat(64), 'b'.repeat(64)), 'complete'],
    ['config written but a shim is not in place', inConfig, 'sha(new)', files('a'.repeat(64), null), 'undo'],
    ['someone edited the config since', inConfig, 'sha(edited)', files('a'.repeat(64), 'b'.repeat(64)), 'conflict'],
    ['the config absent, though the run started from one', inConfig, null, files(null, null), 'conflict'],
  ] as const)('%s: %s', (_name, j, config, current, action) => {
    expect(decideRecovery(j, { config, files: current }).action).toBe(action);
  });

  it('a run without a config change completes when its files are in place after its restart step began', () => {
    const noConfig: Journal = { ...inConfig, config: null };
    expect(decideRecovery(noConfig, { config: null, files: files('a'.repeat(64), 'b'.repeat(64)) }).action).toBe('complete');
    expect(decideRecovery({ ...noConfig, phase: 'files' }, { config: null, files: files('a'.repeat(64), 'b'.repeat(64)) }).action).toBe('undo');
  });
});
