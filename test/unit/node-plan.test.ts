// planNode: every decision about a node's files from its facts, pure.
import { describe, expect, it } from 'vitest';
import { SHIMS } from '../../lib/shims/catalog.js';
import type { ShimBinary } from '../../lib/shims/binary.js';
import { setupFor } from '../../lib/containerd/setup.js';
import { describePlan, dirsToInspect, planIsEmpty, planNode, type NodeFacts } from '../../lib/node/plan.js';
import type { InstalledRecord } from '../../lib/node/record.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const USER = 'f'.repeat(64);
const now = new Date('2026-01-01T00:00:00Z');
const wasmtime: ShimBinary = { shim: SHIMS.wasmtime, localPath: '/cache/w', sha256: A, version: '0.6.1' };
const BIN = '/usr/local/bin/containerd-shim-wasmtime-v1';
const OPT = '/opt/kubewasm/bin/containerd-shim-wasmtime-v1';

function facts(over: Partial<NodeFacts> = {}, config = 'version = 3\n'): NodeFacts {
  const setup = setupFor('containerd', { systemd: true, openrc: false, units: [], containerdMajor: 2 });
  return {
    node: 'n',
    containerd: { setup, version: { major: 2, minor: 2, patch: 9, raw: 'v2.2.9' }, config: { path: setup.configPath, kind: 'toml', content: Buffer.from(config), containerd: { major: 2, minor: 2, patch: 9 } } },
    record: undefined,
    fileDigests: {},
    ...over,
  };
}

const record = (shims: InstalledRecord['shims'], extra: Partial<InstalledRecord> = {}): InstalledRecord => ({ formatVersion: 1, configPath: '/etc/containerd/config.toml', runtimes: ['wasmtime'], shims, updatedAt: 't', ...extra });

describe('planNode', () => {
  it('a fresh node: upload, register, restart, record', () => {
    const plan = planNode(facts(), { shims: [wasmtime] }, now);
    expect(plan.uploads).toEqual([{ shim: 'wasmtime', from: '/cache/w', to: BIN, sha256: A }]);
    expect(plan.config.registered).toEqual(['wasmtime']);
    expect(plan.runtimes).toEqual([{ name: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1' }]);
    expect(plan.restart).toBe(true);
    expect(plan.record).toMatchObject({ runtimes: ['wasmtime'], shims: [{ name: 'wasmtime', version: '0.6.1', path: BIN, sha256: A }] });
    expect(plan.createDirs).toEqual([]);
  });

  it('a converged node: nothing to do, and what the shim printed stays in the record', () => {
    const first = planNode(facts(), { shims: [wasmtime] }, now);
    const after = first.config.after!.toString();
    const ran = record([{ name: 'wasmtime', version: '0.6.1', path: BIN, sha256: A, ran: 'containerd-shim-wasmtime-v1:' }]);
    const plan = planNode(facts({ record: ran, fileDigests: { [BIN]: A } }, after), { shims: [wasmtime] }, now);
    expect(planIsEmpty(plan)).toBe(true);
    expect(plan.record!.shims[0]).toMatchObject({ ran: 'containerd-shim-wasmtime-v1:', version: '0.6.1' });
    expect(describePlan(plan)).toEqual(['nothing to do: the node already matches']);
  });

  it("someone else's binary at the install path is kept and put back at uninstall", () => {
    const plan = planNode(facts({ fileDigests: { [BIN]: USER } }), { shims: [wasmtime] }, now);
    expect(plan.uploads[0]).toMatchObject({ replaces: USER, keep: true });
    expect(plan.record!.shims[0]!.kept).toBe(USER);
    expect(describePlan(plan).join('\n')).toContain("not kubewasm's: kept in kubewasm's state dir and put back at uninstall");

    const installed = record([{ name: 'wasmtime', path: BIN, sha256: A, kept: USER }]);
    const upgrade = planNode(facts({ record: installed, fileDigests: { [BIN]: A } }), { shims: [{ ...wasmtime, sha256: B }] }, now);
    expect(upgrade.uploads[0]).toMatchObject({ replaces: A });
    expect(upgrade.uploads[0]!.keep).toBeUndefined(); // kubewasm's own bytes: a rollback backup only
    expect(upgrade.record!.shims[0]!.kept).toBe(USER); // the user's original stays kept

    const uninstall = planNode(facts({ record: installed, fileDigests: { [BIN]: A } }), { shims: [] }, now);
    expect(uninstall.removals).toEqual([{ path: BIN, sha256: A, restore: USER }]);
    expect(describePlan(uninstall).join('\n')).toContain(`put back the file kubewasm found at ${BIN}`);
  });

  it("kubewasm's own earlier shim is replaced without keeping it", () => {
    const plan = planNode(facts({ record: record([{ name: 'wasmtime', path: BIN, sha256: B }]), fileDigests: { [BIN]: B } }), { shims: [wasmtime] }, now);
    expect(plan.uploads[0]).toMatchObject({ replaces: B });
    expect(plan.uploads[0]!.keep).toBeUndefined();
  });

  it('a shim changed by someone since kubewasm installed it is kept, and said', () => {
    const plan = planNode(facts({ record: record([{ name: 'wasmtime', path: BIN, sha256: A }]), fileDigests: { [BIN]: USER } }), { shims: [] }, now);
    expect(plan.removals).toEqual([]);
    expect(plan.keptModified).toEqual([BIN]);
  });

  it('an install dir off the PATH: runtime_path, the directories it creates recorded and removed again', () => {
    const desired = { shims: [wasmtime], installDir: '/opt/kubewasm/bin' };
    expect(dirsToInspect(facts(), desired)).toEqual(['/opt', '/opt/kubewasm', '/opt/kubewasm/bin']);
    const plan = planNode(facts({ missingDirs: ['/opt/kubewasm', '/opt/kubewasm/bin'] }), desired, now);
    expect(plan.runtimes[0]!.runtimePath).toBe(OPT);
    expect(plan.createDirs).toEqual(['/opt/kubewasm', '/opt/kubewasm/bin']);
    expect(plan.record!.createdDirs).toEqual(['/opt/kubewasm', '/opt/kubewasm/bin']);

    const installed = record([{ name: 'wasmtime', path: OPT, sha256: A }], { createdDirs: ['/opt/kubewasm', '/opt/kubewasm/bin'] });
    const again = planNode(facts({ record: installed, fileDigests: { [OPT]: A } }, plan.config.after!.toString()), desired, now);
    expect(again.removeDirs).toEqual([]);
    expect(again.record!.createdDirs).toEqual(['/opt/kubewasm', '/opt/kubewasm/bin']);
    const uninstall = planNode(facts({ record: installed, fileDigests: { [OPT]: A } }, plan.config.after!.toString()), { shims: [] }, now);
    expect(uninstall.removeDirs).toEqual(['/opt/kubewasm/bin', '/opt/kubewasm']);
    expect(uninstall.record).toBeUndefined();
    expect(uninstall.config.after!.toString()).toBe('version = 3\n');
  });

  it('no uploads, no directories to create', () => {
    const plan = planNode(facts({ missingDirs: ['/opt'] }), { shims: [] }, now);
    expect(plan.createDirs).toEqual([]);
    expect(planIsEmpty(plan)).toBe(true);
  });

  it('k3s: a shim on its PATH is registered by k3s itself; kubewasm only restarts it', () => {
    const setup = setupFor('k3s', { systemd: true, openrc: false, units: ['k3s'], containerdMajor: 2 });
    const k3s = facts({
      containerd: {
        setup,
        version: { major: 2, minor: 1, patch: 5, raw: 'v2.1.5-k3s1' },
        config: { path: setup.configPath, kind: 'k3s-template', content: undefined, containerd: { major: 2, minor: 1, patch: 5 }, rendered: 'version = 3\n', autoRegistersShims: true },
      },
    });
    const plan = planNode(k3s, { shims: [wasmtime] }, now);
    expect(plan.config.autoRegistered).toEqual(['wasmtime']);
    expect(plan.config.changed).toBe(false);
    expect(plan.restart).toBe(true);
    expect(describePlan(plan)).toContain('let wasmtime be registered by the distribution itself (its shim is on its PATH)');
    // containerd 2.1 with the default Transfer Service unpacks wasi/wasm images: nothing to write for them.
    expect(plan.config.imagePull).toMatchObject({ decision: 'not-needed' });
  });

  it('containerd 2.1+ whose Transfer Service unpacks only listed platforms: --dry-run says kubewasm sets use_local_image_pull and why', () => {
    const config = Buffer.from('version = 3\n\n[plugins."io.containerd.transfer.v1.local"]\n  check_platform_supported = true\n');
    const plan = planNode(facts({ containerd: { ...facts().containerd, version: { major: 2, minor: 2, patch: 9, raw: 'v2.2.9' }, config: { path: '/etc/containerd/config.toml', kind: 'toml', content: config, containerd: { major: 2, minor: 2, patch: 9 } } } }), { shims: [wasmtime] }, now);
    expect(plan.config.imagePull).toMatchObject({ decision: 'set', how: 'block' });
    expect(describePlan(plan).join('\n')).toMatch(/set use_local_image_pull = true \(CRI images plugin\) in \/etc\/containerd\/config.toml: .*check_platform_supported = true.*parent snapshot/);
  });
});
