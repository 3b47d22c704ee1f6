// The config engine against real containerd 1.6, 2.2 and 2.4: kubewasm edits
// a real config, restarts containerd, and containerd itself says the Wasm
// runtimes are registered and its CRI is healthy; removal gives back the
// original bytes.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergeNode, resetNode } from '../../lib/node/converge.js';
import { LocalHost } from '../../lib/host/local.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { CONTAINERD_BUILDS, CRICTL, testContainerd, writeStandInShim, type ContainerdBuild, type TestContainerd } from '../../scripts/lab/support/containerd.js';

const fixtures = new URL('../fixtures/containerd/', import.meta.url).pathname;
const cli = new URL('../../dist/cmd/kubewasm.js', import.meta.url).pathname;
process.env['PATH'] = `${path.dirname(CRICTL)}:${process.env['PATH']}`;

// Stand-in shim binaries in a directory kubewasm reads them from (--shim-dir).
const shimSource = mkdtempSync(path.join(tmpdir(), 'kubewasm-shims-'));
for (const shim of Object.values(SHIMS)) writeStandInShim(shimSource, shim.binaryName);

interface Case {
  build: ContainerdBuild;
  fixture: string | undefined;
  /** Config version containerd reports after loading (2.x migrates older files). */
  loadedAs: number;
}

const cases: Case[] = [
  { build: CONTAINERD_BUILDS['1.6'], fixture: 'containerd-1.6.20-default.toml', loadedAs: 2 },
  { build: CONTAINERD_BUILDS['1.6'], fixture: 'kind-node-config.toml', loadedAs: 2 },
  { build: CONTAINERD_BUILDS['1.6'], fixture: undefined, loadedAs: 2 },
  { build: CONTAINERD_BUILDS['2.2'], fixture: 'containerd-2.2.9-default.toml', loadedAs: 3 },
  { build: CONTAINERD_BUILDS['2.2'], fixture: 'kind-node-config.toml', loadedAs: 3 },
  { build: CONTAINERD_BUILDS['2.2'], fixture: undefined, loadedAs: 3 },
  { build: CONTAINERD_BUILDS['2.4'], fixture: 'containerd-2.4.2-default.toml', loadedAs: 4 },
  { build: CONTAINERD_BUILDS['2.4'], fixture: 'kind-node-config.toml', loadedAs: 4 },
];

describe.each(cases)('$build.label with $fixture', ({ build, fixture, loadedAs }) => {
  let containerd: TestContainerd;
  let original: Buffer | undefined;
  const host = new LocalHost({ name: 'test-node' });
  const options = () => ({
    containerd: { configPath: containerd.configPath, address: containerd.socket, binary: containerd.binary, shimDir: containerd.shimDir, restart: { kind: 'command' as const, argv: ['sh', containerd.restartScript] } },
    stateDir: path.join(containerd.dir, 'state-kubewasm'),
    criTimeoutMs: 30_000,
  });

  beforeAll(() => {
    containerd = testContainerd(build);
    if (fixture) copyFileSync(path.join(fixtures, fixture), containerd.configPath);
    original = fixture ? readFileSync(containerd.configPath) : undefined;
    containerd.start();
  });
  afterAll(() => containerd?.cleanup());

  it('registers wasmtime and spin; containerd loads them and its CRI lists them', async () => {
    const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime, SHIMS.spin]);
    const result = await convergeNode(host, { shims }, options());
    expect(result.applied).toBe(true);
    expect(result.plan.config.registered).toEqual(['wasmtime', 'spin']);

    const info = containerd.criInfo();
    expect(info.status.conditions.find((c) => c.type === 'RuntimeReady')?.status).toBe(true);
    expect(Object.keys(info.config.containerd.runtimes)).toEqual(expect.arrayContaining(['runc', 'wasmtime', 'spin']));
    expect(containerd.plugins()).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+.*ok/);
    const dump = containerd.configDump();
    expect(dump).toMatch(new RegExp(`^version = ${loadedAs}$`, 'm'));
    expect(dump).toMatch(/runtimes\.wasmtime\]\s*\n\s*[^\n]*\n?[\s\S]*?runtime_type = ['"]io\.containerd\.wasmtime\.v1['"]/);
    expect(readFileSync(path.join(containerd.shimDir, 'containerd-shim-wasmtime-v1')).equals(readFileSync(path.join(shimSource, 'containerd-shim-wasmtime-v1')))).toBe(true);
  });

  it('changes nothing and does not restart on a second run', async () => {
    const pidBefore = readFileSync(path.join(containerd.dir, 'containerd.pid'), 'utf8');
    const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime, SHIMS.spin]);
    const result = await convergeNode(host, { shims }, options());
    expect(result.applied).toBe(false);
    expect(readFileSync(path.join(containerd.dir, 'containerd.pid'), 'utf8')).toBe(pidBefore);
  });

  it('uninstall gives back the original bytes (or no file), removes the shims, and containerd forgets the runtimes', async () => {
    const result = await resetNode(host, options());
    expect(result.applied).toBe(true);
    if (original) expect(readFileSync(containerd.configPath).equals(original)).toBe(true);
    else expect(existsSync(containerd.configPath)).toBe(false);
    expect(existsSync(path.join(containerd.shimDir, 'containerd-shim-wasmtime-v1'))).toBe(false);
    expect(existsSync(path.join(options().stateDir, 'installed.json'))).toBe(false);
    const info = containerd.criInfo();
    expect(info.status.conditions.find((c) => c.type === 'RuntimeReady')?.status).toBe(true);
    expect(Object.keys(info.config.containerd.runtimes)).not.toContain('wasmtime');
  });
});

describe('the CLI on real containerd 2.2: node install --local with an install dir off the PATH', () => {
  let containerd: TestContainerd;
  const flags = () => [
    '--local',
    '--config', containerd.configPath,
    '--containerd-address', containerd.socket,
    '--containerd-binary', containerd.binary,
    '--restart-command', `sh ${containerd.restartScript}`,
    '--state-dir', path.join(containerd.dir, 'state-kubewasm'),
  ];
  const kubewasm = (args: string[]) => {
    try {
      return { code: 0, stdout: execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      return { code: e.status, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(() => {
    containerd = testContainerd(CONTAINERD_BUILDS['2.2']);
    copyFileSync(path.join(fixtures, 'containerd-2.2.9-default.toml'), containerd.configPath);
    containerd.start();
  });
  afterAll(() => containerd?.cleanup());

  it('--dry-run prints the plan and changes nothing', () => {
    const before = readFileSync(containerd.configPath);
    const result = kubewasm(['node', 'install', ...flags(), '--shim-dir', shimSource, '--install-dir', path.join(containerd.dir, 'opt-wasm'), '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`install wasmtime shim: ${path.join(containerd.dir, 'opt-wasm')}/containerd-shim-wasmtime-v1`);
    expect(result.stdout).toContain('register wasmtime');
    expect(result.stdout).toContain('restart containerd');
    expect(readFileSync(containerd.configPath).equals(before)).toBe(true);
  });

  it('installs with runtime_path, and -o json reports it', () => {
    const installDir = path.join(containerd.dir, 'opt-wasm');
    const result = kubewasm(['node', 'install', ...flags(), '--shim-dir', shimSource, '--install-dir', installDir, '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ node: 'local', applied: true, config: { version: 3, registered: ['wasmtime'] }, restart: true });
    const runtimes = containerd.criInfo().config.containerd.runtimes;
    expect(runtimes['wasmtime']?.runtimePath).toBe(`${installDir}/containerd-shim-wasmtime-v1`);
  });

  it('a config of a version this containerd cannot read is refused and left untouched (exit 1)', () => {
    const other = path.join(containerd.dir, 'v4.toml');
    copyFileSync(path.join(fixtures, 'containerd-2.4.2-default.toml'), other);
    const before = readFileSync(other);
    const args = flags();
    args[args.indexOf('--config') + 1] = other;
    const result = kubewasm(['node', 'install', ...args, '--shim-dir', shimSource]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("declares config version 4, but this node's containerd 2.2.9 reads only up to version 3");
    expect(readFileSync(other).equals(before)).toBe(true);
  });

  it('an unknown shim name is bad usage (exit 2)', () => {
    const result = kubewasm(['node', 'install', ...flags(), '--shim-dir', shimSource, '--shims', 'wasmtime,lunatic']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown shim 'lunatic'");
  });

  it('node uninstall removes it again', () => {
    const result = kubewasm(['node', 'uninstall', ...flags()]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(containerd.configPath).equals(readFileSync(path.join(fixtures, 'containerd-2.2.9-default.toml')))).toBe(true);
    expect(existsSync(path.join(containerd.dir, 'opt-wasm', 'containerd-shim-wasmtime-v1'))).toBe(false);
  });
});

describe('bad nodes: nothing changes and the error says what to do', () => {
  it('a node without containerd', async () => {
    const host = new LocalHost({ name: 'bare-node' });
    const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime]);
    await expect(convergeNode(host, { shims }, { containerd: { binary: '/nonexistent/bin/containerd', configPath: '/nonexistent/config.toml' } })).rejects.toThrow(
      "bare-node: containerd is not installed here ('/nonexistent/bin/containerd' not found)",
    );
  });

  it('a config on a read-only file system: refused before containerd is touched, shims taken back', async () => {
    const containerd = testContainerd(CONTAINERD_BUILDS['2.2']);
    const roDir = path.join(containerd.dir, 'ro');
    try {
      execFileSync('sh', ['-c', `mkdir -p ${roDir} && cp ${fixtures}/containerd-2.2.9-default.toml ${roDir}/config.toml && mount --bind ${roDir} ${roDir} && mount -o remount,bind,ro ${roDir}`]);
      containerd.start();
      const pidBefore = readFileSync(path.join(containerd.dir, 'containerd.pid'), 'utf8');
      const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime]);
      const result = convergeNode(new LocalHost({ name: 'ro-node' }), { shims }, {
        containerd: { configPath: `${roDir}/config.toml`, address: containerd.socket, binary: containerd.binary, shimDir: containerd.shimDir, restart: { kind: 'command', argv: ['sh', containerd.restartScript] } },
        stateDir: path.join(containerd.dir, 'state-kubewasm'),
        criTimeoutMs: 30_000,
      });
      await expect(result).rejects.toThrow(/ro-node:.*ro\/config.toml: cannot write the containerd config: its file system is read-only/);
      expect(readFileSync(`${roDir}/config.toml`).equals(readFileSync(`${fixtures}/containerd-2.2.9-default.toml`))).toBe(true);
      expect(existsSync(path.join(containerd.shimDir, 'containerd-shim-wasmtime-v1'))).toBe(false);
      expect(readFileSync(path.join(containerd.dir, 'containerd.pid'), 'utf8')).toBe(pidBefore);
    } finally {
      execFileSync('sh', ['-c', `umount ${roDir} 2>/dev/null || true`]);
      containerd.cleanup();
    }
  });
});
