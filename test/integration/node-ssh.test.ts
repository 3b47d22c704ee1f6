// The ssh transport and the node algorithm on "nodes" made of namespaces,
// each with its own OpenSSH server and its own containerd (Debian 1.6, the
// 2.2.9 and the 2.4.2 build): kubewasm converges them over SSH with no containerd option at
// all (the nodes look like real machines), and uninstall gives back every byte.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeHost } from '../../lib/host/host.js';
import { convergeNode, resetNode } from '../../lib/node/converge.js';
import { SshHost } from '../../lib/host/ssh.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { writeStandInShim } from '../../scripts/lab/support/containerd.js';
import { requireProgram } from '../../scripts/lab/support/requirements.js';
import { kubewasm } from '../support/kubewasm-cli.js';
import { createNet, createNode, type TestNet, type TestNode } from '../../scripts/lab/support/netns.js';
import { clientKey, startSshd, type ClientKey, type Sshd } from '../../scripts/lab/support/sshd.js';
import { DEFAULT_CONFIG } from '../support/fixtures.js';

const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-ssh-test-'));
const shimSource = path.join(work, 'shims');

/** What runs a command on the node (each file operation is one over ssh). */
const NODE_CALLS = new Set<string | symbol>(['readFile', 'writeFileAtomic', 'removeFile', 'rename', 'removeEmptyDir', 'readDir', 'stat', 'mkdirp', 'exec', 'execBytes', 'start']);

/** The real transport, counting what a run sends to the node (the transport's own byte count), its file writes, restarts and commands. */

function counting(host: NodeHost) {
  const sentBefore = host.sentBytes ?? Number.NaN;
  const count = { writes: 0, restarts: 0, commands: 0 };
  const wrapped = new Proxy(host, {
    get(real, prop) {
      if (prop === 'writeFileAtomic') count.writes++;
      if (prop === 'exec') return (argv: string[], options?: Parameters<NodeHost['exec']>[1]) => ((argv.includes('restart') && count.restarts++), real.exec(argv, options));
      const value = Reflect.get(real, prop) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => ((NODE_CALLS.has(prop) && count.commands++), (value as (...a: unknown[]) => unknown).apply(real, args));
    },
  });
  return { host: wrapped, sent: () => (host.sentBytes ?? Number.NaN) - sentBefore, get writes() { return count.writes; }, get restarts() { return count.restarts; }, get commands() { return count.commands; } };
}

describe('ssh transport on namespace nodes', () => {
  let net: TestNet;
  let key: ClientKey;
  const nodes: Array<{ node: TestNode; sshd: Sshd }> = [];
  const knownHosts = path.join(work, 'known_hosts');
  const connect = (node: TestNode) => SshHost.connect({ host: node.ip, user: 'root', identityFile: key.privateKey, knownHostsFile: knownHosts, name: node.name });

  beforeAll(async () => {
    mkdirSync(shimSource);
    for (const shim of Object.values(SHIMS)) writeStandInShim(shimSource, shim.binaryName);
    net = createNet('10.247.119');
    key = clientKey(work);
    for (const [i, version] of (['1.6', '2.2', '2.4'] as const).entries()) {
      const node = createNode(net, i + 1, version, { config: DEFAULT_CONFIG[version] });
      const sshd = startSshd(node, key);
      node.startContainerd();
      nodes.push({ node, sshd });
    }
    writeFileSync(knownHosts, nodes.map((n) => n.sshd.knownHostsLine).join(''));
  });
  afterAll(() => {
    for (const { node } of nodes) node.destroy();
    net?.cleanup();
  });

  it('runs programs with their exit codes and moves files both ways', async () => {
    const host = await connect(nodes[0]!.node);
    try {
      expect(await host.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
      expect((await host.exec(['no-such-program-here'])).code).toBe(127);
      expect((await host.exec(['sleep', '5'], { timeoutMs: 300 })).code).toBe(124);
      expect((await host.exec(['cat'], { input: 'to stdin' })).stdout).toBe('to stdin');
      const bytes = Buffer.from([0, 1, 2, 255, 10, 13, 0]);
      // Into a directory that does not exist: refused with the node, the path and the shell's reason; nothing is created.
      await expect(host.writeFileAtomic('/var/lib/probe/file', bytes, 0o640)).rejects.toThrow(/^write node1:\/var\/lib\/probe\/file failed \(exit \d+\): .*(Directory nonexistent|No such file or directory)/);
      expect(await host.stat('/var/lib/probe')).toBeUndefined();
      await host.mkdirp('/var/lib/probe', 0o700);
      await host.writeFileAtomic('/var/lib/probe/file', bytes, 0o640);
      expect(await host.readFile('/var/lib/probe/file')).toEqual(bytes);
      expect(await host.stat('/var/lib/probe/file')).toEqual({ mode: 0o640, size: 7, isDirectory: false });
      expect((await host.stat('/var/lib/probe'))?.isDirectory).toBe(true);
      expect(await host.readFile('/var/lib/probe/none')).toBeUndefined();
      expect(await host.stat('/var/lib/probe/none')).toBeUndefined();
      await expect(host.writeFileAtomic('/var/lib/probe/file', Buffer.from('other'), 0o644, { sha256: '0'.repeat(64) })).rejects.toThrow(/sha256/);
      expect(await host.readFile('/var/lib/probe/file')).toEqual(bytes);
      expect(await host.readDir('/var/lib/probe')).toEqual(['file']); // no temporary file left behind
      await host.removeFile('/var/lib/probe/file');
      await host.removeEmptyDir('/var/lib/probe');
      expect(await host.stat('/var/lib/probe')).toBeUndefined();
    } finally {
      await host.close();
    }
  });

  for (const [i, label] of ['containerd 1.6 (config version 2)', 'containerd 2.2.9 (config version 3)', 'containerd 2.4.2 (config version 4)'].entries()) {
    it(`converges and resets a node with ${label}, byte for byte`, async () => {
      const { node } = nodes[i]!;
      const before = node.snapshot();
      const pidBefore = node.containerdPid();
      const host = await connect(node);
      try {
        const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime, SHIMS.spin]);
        const result = await convergeNode(host, { shims }, { criTimeoutMs: 30_000 });
        expect(result.applied).toBe(true);
        expect(result.plan.config.registered).toEqual(['wasmtime', 'spin']);
        expect(node.containerdPid()).not.toBe(pidBefore);
        expect(Object.keys(node.criInfo().config.containerd.runtimes)).toEqual(expect.arrayContaining(['runc', 'wasmtime', 'spin']));
        expect(readFileSync(path.join(node.dir, 'usr-local-bin', 'containerd-shim-wasmtime-v1')).equals(readFileSync(path.join(shimSource, 'containerd-shim-wasmtime-v1')))).toBe(true);
        const record = JSON.parse(readFileSync(path.join(node.dir, 'var-lib/kubewasm/installed.json'), 'utf8'));
        expect(record.shims.map((s: { path: string }) => s.path)).toEqual(['/usr/local/bin/containerd-shim-wasmtime-v1', '/usr/local/bin/containerd-shim-spin-v2']);
        // Only the record stays in the state dir: no journal, no backups.
        expect(Object.keys(node.snapshot()).filter((p) => p.startsWith('var-lib/kubewasm/'))).toEqual(['var-lib/kubewasm/installed.json']);

        const again = await convergeNode(host, { shims }, { criTimeoutMs: 30_000 });
        expect(again.applied).toBe(false);

        // A no-op re-run moves no byte to the node and restarts nothing, counted at the transport; from the
        // second one on (its ctime a second older than the hash), the shims' sha256 comes from the node's cache.
        const installedPid = node.containerdPid();
        await new Promise((r) => setTimeout(r, 1100));
        for (const round of [1, 2]) {
          const counted = counting(host);
          const noop = await convergeNode(counted.host, { shims }, { criTimeoutMs: 30_000 });
          expect([noop.applied, counted.sent(), counted.restarts, counted.writes]).toEqual([false, 0, 0, 0]);
          expect(noop.probe?.liveReads).toEqual([]);
          expect(counted.commands, 'a no-op is one command: the node lock, whose session runs the probe once it holds the lock').toBe(1);
          if (round === 2) expect([noop.probe?.digestsCached, noop.probe?.digestsHashed]).toEqual([2, 0]);
        }
        expect(node.containerdPid()).toBe(installedPid);

        // Its bytes changed in place, same size, the mtime put back (touch -r): the ctime moved, so it is hashed
        // again and the plan replaces it (a dry run: a real one would keep the changed bytes as someone else's for the uninstall).
        const shimOnNode = path.join(node.dir, 'usr-local-bin', 'containerd-shim-wasmtime-v1');
        const original = readFileSync(shimOnNode);
        const reference = path.join(work, `mtime-${i}`);
        writeFileSync(reference, '');
        execFileSync('touch', ['-r', shimOnNode, reference]);
        const tampered = Buffer.from(original);
        tampered[tampered.length - 2]! ^= 1;
        writeFileSync(shimOnNode, tampered);
        execFileSync('touch', ['-r', reference, shimOnNode]);
        const mtime = (p: string) => execFileSync('stat', ['-c', '%y', p], { encoding: 'utf8' });
        expect([mtime(shimOnNode), readFileSync(shimOnNode).length]).toEqual([mtime(reference), original.length]);
        const caught = await convergeNode(host, { shims }, { dryRun: true });
        expect(caught.plan.uploads.map((u) => u.to)).toEqual(['/usr/local/bin/containerd-shim-wasmtime-v1']);
        writeFileSync(shimOnNode, original);

        const reset = await resetNode(host, { criTimeoutMs: 30_000 });
        expect(reset.applied).toBe(true);
        expect(node.snapshot()).toEqual(before);
        expect(Object.keys(node.criInfo().config.containerd.runtimes)).not.toContain('wasmtime');
      } finally {
        await host.close();
      }
    });
  }

  describe('the fleet CLI', () => {
    const restartLog = path.join(work, 'restarts.log');
    const sshFlags = () => ['--ssh', nodes.map((n) => `root@${n.node.ip}`).join(','), '--identity', key.privateKey, '--known-hosts', knownHosts];
    // Each node's restart logs when it begins and takes a second longer, so overlapping restarts show.
    const slowRestarts = () => {
      rmSync(restartLog, { force: true });
      for (const { node } of nodes) writeFileSync(path.join(node.dir, 'usr-local-sbin', 'restart-hook'), `echo "$(date +%s%N) ${node.name}" >> ${restartLog}; sleep 1\n`);
    };
    const restartStarts = () => readFileSync(restartLog, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0]) / 1e6);
    afterAll(() => {
      for (const { node } of nodes) rmSync(path.join(node.dir, 'usr-local-sbin', 'restart-hook'), { force: true });
    });

    it('installs on every node with -o json: one result per node, restarts one at a time (--max-unavailable 1)', async () => {
      const before = nodes.map(({ node }) => node.snapshot());
      slowRestarts();
      const result = await kubewasm(['node', 'install', ...sshFlags(), '--shim-dir', shimSource, '--shims', 'wasmtime', '-o', 'json']);
      expect(result.code, result.stderr).toBe(0);
      const json = JSON.parse(result.stdout);
      expect(json).toHaveLength(3);
      expect(json.map((r: { node: string }) => r.node)).toEqual(nodes.map((n) => `root@${n.node.ip}`));
      for (const r of json) expect(r).toMatchObject({ ok: true, applied: true, restart: true, config: { registered: ['wasmtime'] }, uploads: [{ shim: 'wasmtime', path: '/usr/local/bin/containerd-shim-wasmtime-v1' }] });
      expect(json[0].config.version).toBe(2);
      expect(json[1].config.version).toBe(3);
      expect(json[2].config.version).toBe(4);
      const starts = restartStarts().sort((x, y) => x - y);
      expect(starts).toHaveLength(3);
      // each restart began after the previous one's step ended
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThan(1000);
      for (const { node } of nodes) expect(Object.keys(node.criInfo().config.containerd.runtimes)).toContain('wasmtime');

      // Uninstall through an inventory file (YAML), two restarts at once.
      const inventory = path.join(work, 'inventory.yaml');
      writeFileSync(inventory, `defaults:\n  user: root\n  identity: ${key.privateKey}\n  knownHosts: ${knownHosts}\nnodes:\n${nodes.map((n) => `  - host: ${n.node.ip}\n    name: ${n.node.name}\n`).join('')}`);
      slowRestarts();
      const removed = await kubewasm(['node', 'uninstall', '--inventory', inventory, '--max-unavailable', '2']);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stdout).toContain('node1: ✓ edit /etc/containerd/config.toml (config version 2): unregister wasmtime');
      expect(removed.stdout).toContain('node3: ✓ edit /etc/containerd/config.toml (config version 4): unregister wasmtime');
      expect(removed.stderr).toContain('3 nodes: 3 ok (3 changed)');
      const [c, d, e] = restartStarts().sort((x, y) => x - y);
      expect(d! - c!).toBeLessThan(1000); // two restarted together
      expect(e! - c!).toBeGreaterThan(1000); // the third waited for a free slot
      nodes.forEach(({ node }, i) => expect(node.snapshot()).toEqual(before[i]));
    });

    it('one unreachable node fails alone: the others converge, exit 1 with a summary', async () => {
      const before = nodes.map(({ node }) => node.snapshot());
      const result = await kubewasm(['node', 'install', ...sshFlags(), '--ssh', `root@${net.prefix}.99`, '--shim-dir', shimSource, '-o', 'json']);
      expect(result.code).toBe(1);
      const json = JSON.parse(result.stdout);
      expect(json.map((r: { ok: boolean }) => r.ok)).toEqual([true, true, true, false]);
      expect(json[3]).toMatchObject({ node: `root@${net.prefix}.99`, ok: false, error: { what: expect.stringMatching(/not in .*known_hosts|cannot connect|timed out/) } });
      expect(result.stderr).toContain(`4 nodes: 3 ok (3 changed), 1 failed: root@${net.prefix}.99`);
      const removed = await kubewasm(['node', 'uninstall', ...sshFlags()]);
      expect(removed.code, removed.stderr).toBe(0);
      nodes.forEach(({ node }, i) => expect(node.snapshot()).toEqual(before[i]));
    });
  });

  it('a user that is not root works through sudo -n; one without passwordless sudo is told what to configure', async () => {
    requireProgram('sudo');
    const { node } = nodes[1]!;
    // The node's own users: copies of this machine's passwd/group/shadow with two more, and a sudoers file, bind-mounted in the node only.
    const etc = path.join(node.dir, 'etc-users');
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'passwd'), `${readFileSync('/etc/passwd', 'utf8')}kw:x:1500:1500::/tmp:/bin/sh\nkwnosudo:x:1501:1501::/tmp:/bin/sh\n`);
    writeFileSync(path.join(etc, 'group'), `${readFileSync('/etc/group', 'utf8')}kw:x:1500:\nkwnosudo:x:1501:\n`);
    writeFileSync(path.join(etc, 'shadow'), `${readFileSync('/etc/shadow', 'utf8')}kw:*:19000:0:99999:7:::\nkwnosudo:*:19000:0:99999:7:::\n`, { mode: 0o640 });
    writeFileSync(path.join(etc, 'sudoers'), 'Defaults env_reset\nDefaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nroot ALL=(ALL:ALL) ALL\nkw ALL=(ALL:ALL) NOPASSWD: ALL\n', { mode: 0o440 });
    node.run(['passwd', 'group', 'shadow', 'sudoers'].map((f) => `mount --bind ${etc}/${f} /etc/${f}`).join(' && '));
    // sshd reads authorized_keys as the user logging in.
    node.run(`chmod 755 ${node.dir} ${node.dir}/ssh && chmod 644 ${node.dir}/ssh/authorized_keys`);
    const before = node.snapshot();
    const as = (user: string) => SshHost.connect({ host: node.ip, user, identityFile: key.privateKey, knownHostsFile: knownHosts });

    await expect(as('kwnosudo')).rejects.toThrow(/kwnosudo cannot run commands as root with sudo without a password .*\n.*fix: connect as root, or give kwnosudo passwordless sudo/);
    const host = await as('kw');
    try {
      expect((await host.exec(['id', '-u'])).stdout.trim()).toBe('0');
      const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime]);
      const result = await convergeNode(host, { shims }, { criTimeoutMs: 30_000 });
      expect(result.applied).toBe(true);
      expect(node.run('stat -c %U:%G:%a /usr/local/bin/containerd-shim-wasmtime-v1').trim()).toBe('root:root:755');
      expect(Object.keys(node.criInfo().config.containerd.runtimes)).toContain('wasmtime');
      await resetNode(host, { criTimeoutMs: 30_000 });
      expect(node.snapshot()).toEqual(before);
    } finally {
      await host.close();
      node.run('umount /etc/passwd /etc/group /etc/shadow /etc/sudoers');
    }
  });
});
