// One list of what the tests need (scripts/lab/support/host-packages and
// BUILT), from which scripts/setup --lab installs and every test checks: the
// two cannot drift. These tests hold the list, the set-up scripts and the
// tests' own checks together.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILT, findOnPath, hostPackages, packageOf, parseHostPackages } from '../../scripts/lab/support/requirements.js';

const root = new URL('../../', import.meta.url).pathname;
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');

/** Every file under the folders whose name passes `keep`. */
function files(folders: string[], keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel))) {
      const child = `${rel}/${name}`;
      if (name === 'node_modules' || name === 'target' || name === 'fixtures') continue;
      if (statSync(path.join(root, child)).isDirectory()) walk(child);
      else if (keep(name)) out.push(child);
    }
  };
  for (const f of folders) walk(f);
  return out;
}

/** [file, first argument] of every call of `fn` with a string literal in the test sources and the lab's support files. */
function callsOf(fn: string): Array<[string, string, string | undefined]> {
  const sources = files(['test', 'scripts/lab/support'], (n) => n.endsWith('.ts') && n !== 'requirements.test.ts' && n !== 'requirements.ts');
  return sources.flatMap((file) =>
    [...read(file).matchAll(new RegExp(`\\b${fn}\\(\\s*(['"\`])([^'"\`]*)\\1(?:\\s*,\\s*(['"\`])([^'"\`]*)\\3)?`, 'g'))].map((m) => [file, m[2]!, m[4]] as [string, string, string | undefined]),
  );
}

const packages = hostPackages();
const packageNames = packages.map((p) => p.name);

describe('the list of what the tests need', () => {
  it('is parsed as package, then its programs, comments and blank lines ignored', () => {
    expect(parseHostPackages('# the lab\ndocker.io   docker dockerd # the engine\n\nlibc6-dev\n')).toEqual([
      { name: 'docker.io', programs: ['docker', 'dockerd'] },
      { name: 'libc6-dev', programs: [] },
    ]);
  });

  it('names each package once, each program under one package, in Debian name syntax', () => {
    expect(new Set(packageNames).size).toBe(packageNames.length);
    const programs = packages.flatMap((p) => p.programs);
    expect(new Set(programs).size).toBe(programs.length);
    for (const name of packageNames) expect(name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
  });

  it('says which package provides a program, and refuses a program nobody listed', () => {
    expect(packageOf('docker')).toBe('docker.io');
    expect(packageOf('sudo')).toBe('sudo');
    expect(() => packageOf('no-such-program')).toThrow(/no package in .*host-packages provides it/);
  });
});

describe('programs are found on the PATH, not at fixed paths', () => {
  it("finds Debian's /usr/bin/docker when no other docker comes first", () => {
    const present = new Set(['/usr/bin/docker', '/usr/sbin/sshd']);
    expect(findOnPath('docker', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin', (f) => present.has(f))).toBe('/usr/bin/docker');
    expect(findOnPath('sshd', '/usr/local/bin:/usr/sbin', (f) => present.has(f))).toBe('/usr/sbin/sshd');
    expect(findOnPath('sudo', '/usr/local/bin:/usr/bin', (f) => present.has(f))).toBeUndefined();
  });

  it('every requireProgram call names a program by name (never a path) that a listed package provides', () => {
    const calls = callsOf('requireProgram');
    expect(calls.length).toBeGreaterThan(10);
    for (const [file, program] of calls) {
      expect(program, file).not.toContain('/');
      expect(packages.some((p) => p.programs.includes(program)), `${file}: requireProgram('${program}') has no package in host-packages`).toBe(true);
    }
    // The two that were once checked at a path the set-up never created.
    expect(calls.map(([, p]) => p)).toEqual(expect.arrayContaining(['docker', 'sudo']));
  });

  it('every requireBuilt call names a listed build and one of its programs; every requirePackageFile a listed package', () => {
    const built = callsOf('requireBuilt');
    expect(built.length).toBeGreaterThan(0);
    for (const [file, component, program] of built) {
      expect(Object.keys(BUILT), file).toContain(component);
      expect(BUILT[component as keyof typeof BUILT].programs, file).toContain(program);
    }
    for (const [file, pkg] of callsOf('requirePackageFile')) expect(packageNames, file).toContain(pkg);
  });
});

describe('scripts/setup --lab installs what the list names', () => {
  it('prepare installs the packages from the list and from nowhere else', () => {
    const prepare = read('scripts/lab/prepare');
    expect(prepare).toContain('support/host-packages');
    expect(prepare).not.toMatch(/^\s*packages=\(/m);
  });

  it('every package a lab script installs on its own is in the list (a second run of prepare has them already)', () => {
    const scripts = files(['scripts'], (n) => !n.includes('.') || n.endsWith('.sh')).filter((f) => !f.startsWith('scripts/lab/wasmtime-shim'));
    const installed = scripts.flatMap((file) =>
      [...read(file).matchAll(/^\s*apt_install ([a-z0-9+. -]+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).map((pkg) => [file, pkg] as const)),
    );
    expect(installed.length).toBeGreaterThan(5);
    for (const [file, pkg] of installed) expect(packageNames, `${file} installs ${pkg}`).toContain(pkg);
  });

  it('every cached build is made by a script that prepare runs', () => {
    const runs = read('scripts/lab/prepare') + read('scripts/lab/build/go-all.sh');
    for (const [name, { builtBy, dir }] of Object.entries(BUILT)) {
      expect(existsSync(path.join(root, builtBy)), builtBy).toBe(true);
      expect(runs, `${name} (${builtBy})`).toContain(path.basename(builtBy));
      // The version is the one prepare asks for (or the builder's own default).
      const version = dir.slice(dir.lastIndexOf('-v') + 1);
      expect(runs + read(builtBy), `${name} ${version}`).toContain(version);
    }
  });
});
