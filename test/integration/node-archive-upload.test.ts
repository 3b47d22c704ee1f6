// A shim from a release goes to a node over SSH as its release archive (a
// gzip tar, a third of the binary's size): the node checks the archive's
// sha256 before unpacking anything, unpacks the one member, checks its size,
// and only then renames it into place. What a user would check: the node has
// the right binary, the archive's bytes (not the binary's) crossed the
// network, and a bad archive leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, globSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshHost } from '../../lib/host/ssh.js';
import { convergeNode, resetNode } from '../../lib/node/converge.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { standInScript } from '../../scripts/lab/support/containerd.js';
import { createNet, createNode, type TestNet, type TestNode } from '../../scripts/lab/support/netns.js';
import { clientKey, startSshd, type ClientKey } from '../../scripts/lab/support/sshd.js';
import { DEFAULT_CONFIG } from '../support/fixtures.js';

const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-archive-test-'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const NAME = SHIMS.wasmtime.binaryName;
// The lab's real wasmtime shim (26 MB; scripts/lab/build/wasmtime-shim.sh): its archive is well smaller than gzip -1 of it.
const labShim = globSync('/var/cache/kubewasm-lab/wasmtime-shim-*/bin/containerd-shim-wasmtime-v1')[0];

/**
 * A release-style archive holding `./NAME`: the lab's real shim, or the
 * stand-in shim padded to `size` bytes with random hex (a shell script ignores
 * what follows `exit`).
 */
let releases = 0;
function releaseArchive(size: number | 'lab'): { binary: Buffer; archive: Buffer; archivePath: string; binaryPath: string } {
  const dir = path.join(work, `release-${++releases}`);
  mkdirSync(dir);
  const binaryPath = path.join(dir, NAME);
  if (size === 'lab') {
    if (!labShim) throw new Error("the lab's wasmtime shim is not built (/var/cache/kubewasm-lab/wasmtime-shim-*/bin/containerd-shim-wasmtime-v1); build it: scripts/setup --lab");
    copyFileSync(labShim, binaryPath);
  } else {
    const padding = Buffer.from(randomBytes(size / 2).toString('hex'));
    writeFileSync(binaryPath, Buffer.concat([Buffer.from(standInScript(NAME)), Buffer.from('\nexit 0\n'), padding]).subarray(0, size), { mode: 0o755 });
  }
  const binary = readFileSync(binaryPath);
  const archivePath = path.join(work, `release-${releases}.tar.gz`);
  execFileSync('tar', ['-czf', archivePath, '-C', dir, `./${NAME}`]);
  return { binary, archive: readFileSync(archivePath), archivePath, binaryPath };
}

describe('shim uploads as release archives, unpacked on the node', () => {
  let net: TestNet;
  let key: ClientKey;
  let node: TestNode;
  const knownHosts = path.join(work, 'known_hosts');
  const connect = () => SshHost.connect({ host: node.ip, user: 'root', identityFile: key.privateKey, knownHostsFile: knownHosts, name: node.name });
  const release = () => releaseArchive(4 << 20);

  beforeAll(() => {
    net = createNet('10.247.179');
    key = clientKey(work);
    node = createNode(net, 1, '2.2', { config: DEFAULT_CONFIG['2.2'] });
    writeFileSync(knownHosts, startSshd(node, key).knownHostsLine);
    node.startContainerd();
  });
  afterAll(() => {
    node?.destroy();
    net?.cleanup();
  });

  it('sends the archive, not the binary, and the node unpacks exactly the binary', async () => {
    const { binary, archive } = release();
    // hex padding compresses about 2:1; a real shim about 3:1
    expect(archive.length).toBeLessThan(binary.length * 0.7);
    const host = await connect();
    try {
      const before = host.sentBytes;
      await host.writeFileAtomic('/usr/local/bin/shim-a', binary, 0o755, { sha256: sha256(binary), durable: false, archive: { sha256: sha256(archive), member: `./${NAME}`, bytes: async () => archive } });
      const sent = host.sentBytes - before;
      expect(sent).toBe(archive.length);
      expect(sha256((await host.readFile('/usr/local/bin/shim-a'))!)).toBe(sha256(binary));
      expect((await host.stat('/usr/local/bin/shim-a'))?.mode).toBe(0o755);
      expect(await host.readDir('/usr/local/bin')).toEqual(['shim-a']); // neither the archive nor the temporary file stays
    } finally {
      await host.close();
    }
  });

  it('refuses an archive whose sha256 differs on the node before unpacking it, a member it lacks, and a member of another size: nothing stays', async () => {
    const { binary, archive } = release();
    const host = await connect();
    try {
      const options = (over: { sha256?: string; member?: string }) => ({ sha256: sha256(binary), archive: { sha256: over.sha256 ?? sha256(archive), member: over.member ?? `./${NAME}`, bytes: async () => archive } });
      await expect(host.writeFileAtomic('/usr/local/bin/shim-b', binary, 0o755, options({ sha256: '0'.repeat(64) }))).rejects.toThrow(
        new RegExp(`write node1:/usr/local/bin/shim-b failed \\(exit 76\\): the archive that reached the node \\(${archive.length} bytes\\) has sha256 ${sha256(archive)}, expected 0{64}`),
      );
      await expect(host.writeFileAtomic('/usr/local/bin/shim-b', binary, 0o755, options({ member: 'not-there' }))).rejects.toThrow(/exit 78\): .*cannot unpack not-there from the archive with the node's tar/s);
      await expect(host.writeFileAtomic('/usr/local/bin/shim-b', binary.subarray(1), 0o755, options({}))).rejects.toThrow(new RegExp(`exit 75\\): unpacking ./${NAME} gave ${binary.length} bytes, expected ${binary.length - 1}`));
      expect(await host.readDir('/usr/local/bin')).toEqual(['shim-a']);
    } finally {
      await host.close();
    }
  });

  it('convergeNode installs the real wasmtime shim from its archive: an archive-sized upload (gzip -1 of the binary is larger), the binary in place and running, containerd lists it; reset takes it back', async () => {
    const { binary, archive, archivePath, binaryPath } = releaseArchive('lab');
    expect(gzipSync(binary, { level: 1 }).length - archive.length).toBeGreaterThan(256 * 1024);
    const host = await connect();
    const snapshot = node.snapshot();
    try {
      await resetNode(host, {}); // shim-a from above is not kubewasm's
      const before = host.sentBytes;
      const shim = { shim: SHIMS.wasmtime, localPath: binaryPath, sha256: sha256(binary), archive: { path: archivePath, sha256: sha256(archive), member: `./${NAME}` } };
      const result = await convergeNode(host, { shims: [shim] });
      expect(result.applied).toBe(true);
      const sent = host.sentBytes - before;
      expect(sent).toBeGreaterThan(archive.length);
      expect(sent).toBeLessThan(archive.length + 64 * 1024); // the archive plus the journal, record and config
      expect(sha256((await host.readFile(`/usr/local/bin/${NAME}`))!)).toBe(sha256(binary));
      expect(result.plan.record?.shims[0]).toBeDefined();
      expect((await host.exec([`/usr/local/bin/${NAME}`, '-v'])).code).toBe(0);
      expect(Object.keys(node.criInfo().config.containerd.runtimes)).toContain('wasmtime');
      const again = await convergeNode(host, { shims: [shim] });
      expect(again.applied).toBe(false); // the unpacked binary is what the plan wanted
      await resetNode(host, {});
      expect(node.snapshot()).toEqual(snapshot);
    } finally {
      await host.close();
    }
  });
});
