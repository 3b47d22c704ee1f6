// The one-round-trip probe of a node: what it asks for (pure), its output
// parsed (pure, on output captured from a lab node container), and its
// sha256 cache's decisions, run by sh on files in a temporary directory.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.js';
import { digestCachePath, parseProbeOutput, probeArgv, probeNode, probeRequestFor, type ProbeRequest } from '../../lib/node/node-probe.js';
import type { NodeDesired } from '../../lib/node/plan.js';
import { SHIMS } from '../../lib/shims/catalog.js';

const fixtures = new URL('../fixtures/node/', import.meta.url).pathname;
const desired: NodeDesired = {
  shims: [
    { shim: SHIMS.wasmtime, sha256: 'x', localPath: '/x', version: '0.6.0' },
    { shim: SHIMS.spin, sha256: 'y', localPath: '/y', version: '0.6.0' },
  ],
};

describe('probeRequestFor', () => {
  it("asks for every distribution's paths, kubewasm's state and the desired shims wherever they may go", () => {
    const r = probeRequestFor(desired, { stateDir: '/var/lib/kubewasm', updateCache: true });
    expect(r.reads).toEqual(expect.arrayContaining(['/etc/containerd/config.toml', '/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl', '/var/lib/kubewasm/journal.json', '/var/lib/kubewasm/installed.json']));
    expect(r.stats).toEqual(expect.arrayContaining(['/run/containerd/containerd.sock', '/run/k3s/containerd/containerd.sock', '/run/systemd/system', '/usr/local/bin', '/etc/systemd/system/containerd.service']));
    expect(r.digests).toEqual(expect.arrayContaining(['/usr/local/bin/containerd-shim-wasmtime-v1', '/usr/local/bin/containerd-shim-spin-v2', '/var/lib/k0s/bin/containerd-shim-wasmtime-v1']));
    expect(r.execs).toContainEqual({ argv: ['ctr', '--address', '/run/containerd/containerd.sock', '--connect-timeout', '5s', 'version'], ifExists: '/run/containerd/containerd.sock' });
    expect(r.execs.some((e) => e.argv[0] === 'crictl')).toBe(false);
    expect(r.digestCache).toEqual({ path: '/var/lib/kubewasm/digests', update: true });
    expect(r.recordFile).toBe('/var/lib/kubewasm/installed.json');
  });

  it('follows the overrides and --install-dir, and asks the CRI only when told', () => {
    const r = probeRequestFor({ ...desired, installDir: '/opt/kw/bin' }, { stateDir: '/s', cri: true, overrides: { configPath: '/x/config.toml', address: '/x/c.sock' } });
    expect(r.reads).toEqual(['/s/journal.json', '/s/installed.json', '/x/config.toml']);
    expect(r.digests).toEqual(['/opt/kw/bin/containerd-shim-wasmtime-v1', '/opt/kw/bin/containerd-shim-spin-v2']);
    expect(r.stats).toEqual(expect.arrayContaining(['/opt', '/opt/kw', '/opt/kw/bin', '/x/c.sock']));
    expect(r.execs.map((e) => e.argv[0])).toEqual(['ctr', 'crictl']);
    expect(probeRequestFor(desired, { stateDir: '/s', overrides: { binary: '/opt/containerd' } }).execs[0]).toEqual({ argv: ['/opt/containerd', '--version'] });
    expect(r.digestCache?.update).toBe(false);
  });
});

describe('parseProbeOutput', () => {
  const nonce = '0123456789abcdef';
  const request = () => JSON.parse(readFileSync(path.join(fixtures, 'probe-kind-like.request.json'), 'utf8')) as ProbeRequest;
  const captured = () => readFileSync(path.join(fixtures, 'probe-kind-like.out'));

  it('reads a lab node container: files byte for byte, absences, directories, digests, programs', () => {
    const output = captured();
    const r = parseProbeOutput(output, nonce, request());
    expect(r.tools).toEqual({ gzip: true, sha256sum: true });
    expect(r.reads.get('/etc/containerd/config.toml')?.toString('utf8')).toMatch(/^version = 2/m);
    expect(r.reads.get('/var/lib/kubewasm/installed.json')?.toString('utf8')).toBe('{"formatVersion": 1}');
    expect(r.reads.get('/var/lib/kubewasm/journal.json')).toBeNull();
    expect(r.stats.get('/run/systemd/system')?.isDirectory).toBe(true);
    expect(r.stats.get('/var/lib/rancher/k3s/agent/etc/containerd/config.toml')).toBeNull();
    expect(r.lists.get('/usr/local/bin')).toEqual(expect.arrayContaining(['containerd-shim-spin-v2', 'containerd-shim-wasmtime-v1']));
    expect(r.digests.get('/usr/local/bin/containerd-shim-spin-v2')).toMatch(/^[0-9a-f]{64}$/);
    expect(r.digests.get('/usr/local/bin/containerd-shim-wasmtime-v1')).toMatch(/^[0-9a-f]{64}$/);
    expect(r.digests.get('/var/lib/k0s/bin/containerd-shim-wasmtime-v1')).toBeNull();
    expect(r.hashed).toBe(2);
    const ctr = r.execs.get(JSON.stringify(['ctr', '--address', '/run/containerd/containerd.sock', '--connect-timeout', '5s', 'version']));
    expect(ctr?.code).toBe(0);
    expect(ctr?.stdout).toMatch(/Server:\s*\n\s*Version:\s*1\.6/);
    expect(JSON.parse(r.execs.get(JSON.stringify(['crictl', '--runtime-endpoint', 'unix:///run/containerd/containerd.sock', '--timeout', '5s', 'info']))!.stdout).config.containerd).toBeDefined();
    // sockets that are not there were never dialled
    expect(r.execs.has(JSON.stringify(['ctr', '--address', '/run/k3s/containerd/containerd.sock', '--connect-timeout', '5s', 'version']))).toBe(false);
  });

  it('gives a body back byte for byte, bytes that are not UTF-8 and a missing final newline included', () => {
    const body = Buffer.from([0x61, 0xff, 0xfe, 0x0a, 0x0a, 0x62]);
    const output = Buffer.concat([Buffer.from(`\n@@${nonce} read 0 /etc/a b.toml\n`), body, Buffer.from(`\n@@${nonce} end 0 -\n`)]);
    expect(parseProbeOutput(output, nonce, { execs: [] }).reads.get('/etc/a b.toml')).toEqual(body);
  });

  it('trusts nothing of an output cut short, or of one with another nonce', () => {
    const output = captured();
    expect(parseProbeOutput(output, nonce, request()).reads.size).toBeGreaterThan(0);
    expect(parseProbeOutput(output.subarray(0, output.length - 20), nonce, request()).reads.size).toBe(0);
    expect(parseProbeOutput(output, 'fedcba9876543210', request()).reads.size).toBe(0);
  });
});

describe('the sha256 cache on the node (the probe script, run by sh here)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-probe-'));
  const file = path.join(dir, 'shim');
  const cache = digestCachePath(dir);
  const host = new LocalHost();
  const probe = (update = false) => probeNode(host, { stats: [], reads: [], lists: [], digests: [file], execs: [], digestCache: { path: cache, update } });
  const sum = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  // The key as the script takes it: device, inode, size, mtime and ctime in seconds.
  const key = (p: string) => execFileSync('stat', ['-L', '-c', '%d %i %s %Y %Z', '--', p], { encoding: 'utf8' }).trim();
  const ctime = (p: string) => Number(key(p).split(' ')[4]);
  const FAKE = 'f'.repeat(64);

  it('a cached sum is used while the key matches and the file is older than the hash', async () => {
    writeFileSync(file, 'shim bytes v1');
    writeFileSync(cache, `v1 ${FAKE} ${key(file)} ${ctime(file) + 1} ${file}\n`);
    const r = await probe();
    expect(r.digests.get(file)).toBe(FAKE); // the cache's word, not a hash
    expect([r.cached, r.hashed]).toEqual([1, 0]);
  });

  it('a change in the second of hashing is never trusted (racy, as in git)', async () => {
    writeFileSync(cache, `v1 ${FAKE} ${key(file)} ${ctime(file)} ${file}\n`);
    expect((await probe()).digests.get(file)).toBe(sum(file));
  });

  it('bytes changed in place, same size, mtime put back with touch -d: ctime moved, so it is hashed again', async () => {
    writeFileSync(file, 'shim bytes v1');
    const mtime = () => execFileSync('stat', ['-c', '%y', file], { encoding: 'utf8' });
    const before = mtime();
    writeFileSync(`${file}.ref`, '');
    execFileSync('touch', ['-r', file, `${file}.ref`]);
    writeFileSync(cache, `v1 ${FAKE} ${key(file)} ${ctime(file) + 1} ${file}\n`);
    await new Promise((r) => setTimeout(r, 1100)); // ctime has second resolution in the key
    writeFileSync(file, 'shim bytes v2');
    execFileSync('touch', ['-r', `${file}.ref`, file]); // mtime put back to the nanosecond
    expect(mtime()).toBe(before);
    const r = await probe();
    expect(r.digests.get(file)).toBe(sum(file));
    expect(r.hashed).toBe(1);
  });

  it('another file renamed into place (new inode) is hashed again', async () => {
    writeFileSync(cache, `v1 ${FAKE} ${key(file)} ${ctime(file) + 1} ${file}\n`);
    copyFileSync(file, `${file}.new`);
    renameSync(`${file}.new`, file);
    expect((await probe()).digests.get(file)).toBe(sum(file));
  });

  it('an updating probe writes the key it hashed under; a read-only one leaves the cache alone', async () => {
    writeFileSync(cache, '');
    await probe(false);
    expect(readFileSync(cache, 'utf8')).toBe('');
    await probe(true);
    const [v, s, ...rest] = readFileSync(cache, 'utf8').trim().split(' ');
    expect([v, s, rest.slice(0, 5).join(' '), rest.at(-1)]).toEqual(['v1', sum(file), key(file), file]);
  });

  it("is left alone while an interrupted run's journal is in the state dir", async () => {
    writeFileSync(cache, 'as it was\n');
    writeFileSync(path.join(dir, 'journal.json'), '{}');
    await probe(true);
    expect(readFileSync(cache, 'utf8')).toBe('as it was\n');
    rmSync(path.join(dir, 'journal.json'));
  });

  it('the probe argv carries the request as words, so odd paths survive', () => {
    const argv = probeArgv({ stats: ['/a b'], reads: [], lists: [], digests: [], execs: [{ argv: ['echo', "it's"] }] }, 'n');
    expect(argv.slice(4)).toEqual(['n', '', 'no', '', ':stat', '/a b', ':read', ':list', ':digest', ':exec', "0 exec $t echo 'it'\\''s'"]);
  });
});
