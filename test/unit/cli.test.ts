// The CLI's contract: help, version, exit codes 0 ok / 1 failed / 2 bad usage.
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseShimList } from '../../lib/shims/catalog.js';
import { UsageError } from '../../lib/errors.js';

const cli = new URL('../../dist/cmd/kubewasm.js', import.meta.url).pathname;
function kubewasm(args: string[]) {
  try {
    return { code: 0, stdout: execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('kubewasm CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const result = kubewasm(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('node install');
    expect(result.stdout).toContain('Exit codes: 0 ok, 1 failed, 2 bad usage.');
  });

  it('--version prints the package version', () => {
    expect(kubewasm(['--version']).stdout).toMatch(/^kubewasm \d+\.\d+\.\d+\n$/);
  });

  it('no arguments prints help and exits 2', () => {
    expect(kubewasm([]).code).toBe(2);
  });

  it('an unknown command is bad usage', () => {
    const result = kubewasm(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it('an unknown option is bad usage', () => {
    const result = kubewasm(['node', 'install', '--local', '--frob']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Unknown option '--frob'");
  });

  it('a command group without its verb says which verbs exist', () => {
    const result = kubewasm(['node', 'frob']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("'kubewasm node install'");
  });

  it('command help', () => {
    const result = kubewasm(['node', 'install', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--dry-run');
  });
});

describe('start-up: nothing heavy before a command needs it', () => {
  // A resolve hook that prints, at exit, every package the process loaded and the chain of files that pulled in the first one.
  const hook = `data:text/javascript,${encodeURIComponent(`
    import { registerHooks } from 'node:module';
    const seen = new Set(); const parent = new Map(); let first;
    registerHooks({ resolve(s, c, next) {
      const r = next(s, c); if (!parent.has(r.url)) parent.set(r.url, c.parentURL);
      const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(r.url); if (m) { seen.add(m[1]); first ??= r.url; } return r; } });
    process.on('exit', () => { const chain = []; for (let u = first; u; u = parent.get(u)) chain.push(u.replace(/^.*\\/(dist|node_modules)\\//, ''));
      process.stderr.write('loaded: ' + [...seen].sort().join(' ') + '\\nvia: ' + chain.join(' <- ') + '\\n'); });`)}`;
  const loaded = (args: string[]) => {
    const run = spawnSync(process.execPath, ['--import', hook, cli, ...args], { encoding: 'utf8' });
    const packages = (/^loaded: (.*)$/m.exec(run.stderr)?.[1] ?? '').split(' ').filter(Boolean);
    return Object.assign(packages, { via: /^via: (.*)$/m.exec(run.stderr)?.[1] ?? '' });
  };

  it.each(['--help', 'node install --help', 'node uninstall --help', 'bundle --help', 'install --help', 'status --help'])('kubewasm %s loads no package', (line) => {
    const pkgs = loaded(line.split(' '));
    expect([...pkgs], `the first was loaded through ${pkgs.via}`).toEqual([]);
  });

  it('a node command never loads the Kubernetes client, even when it fails on the nodes', () => {
    const pkgs = loaded(['node', 'install', '--ssh', 'root@127.0.0.1:1', '--known-hosts', '/dev/null', '--shim-dir', '/nonexistent', '-o', 'json']);
    expect(pkgs).toContain('ssh2'); // it did try to reach the node
    expect(pkgs, `the first package was loaded through ${pkgs.via}`).not.toContain('@kubernetes/client-node');
  });

  it('the hook sees what a cluster command loads', () => {
    expect(loaded(['status', '--kubeconfig', '/nonexistent'])).toContain('@kubernetes/client-node');
  });
});

describe('shim names', () => {
  it('accepts the known shims, once each', () => {
    expect(parseShimList('wasmtime, spin,wasmtime').map((s) => s.binaryName)).toEqual(['containerd-shim-wasmtime-v1', 'containerd-shim-spin-v2']);
  });

  it('refuses an unknown one as bad usage, listing the known ones', () => {
    try {
      parseShimList('wasmtime,lunatic');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(2);
      expect((err as UsageError).fix).toBe('choose from: wasmtime, wasmedge, wasmer, spin');
    }
  });
});
