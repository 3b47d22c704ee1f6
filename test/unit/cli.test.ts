// The CLI's contract: help, version, exit codes 0 ok / 1 failed / 2 bad usage.
import { execFileSync } from 'node:child_process';
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
