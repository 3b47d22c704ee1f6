// The fault suite: real nodes (namespaces with their own OpenSSH server and
// containerd), real faults. Each case ends with the node byte for byte as it
// was (node.snapshot(): /etc/containerd, /usr/local/bin, /var/lib/kubewasm)
// or fully converged, and checks what kubewasm said about it. Where a fault
// is injected through the node's own restart script (the stand-in for
// systemd, test/support/netns.ts), the test's name says so.
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { convergeNode } from '../../lib/node/converge.js';
import { SshHost } from '../../lib/host/ssh.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { writeStandInShim } from '../../scripts/lab/support/containerd.js';
import { kubewasm, startKubewasm } from '../support/kubewasm-cli.js';
import { createNet, createNode, writeLargeStandInShim, type ContainerdVersion, type TestNet, type TestNode } from '../../scripts/lab/support/netns.js';
import { clientKey, startSshd, type ClientKey, type Sshd } from '../../scripts/lab/support/sshd.js';
import { DEFAULT_CONFIG } from '../support/fixtures.js';

const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-faults-'));
const smallShims = path.join(work, 'shims');
const bigShims = path.join(work, 'big-shims');
const knownHosts = path.join(work, 'known_hosts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The big stand-in's body made random: uploads travel gzip-compressed, and its
 * repeated filler would shrink to almost nothing, while these faults need an
 * upload that takes seconds (48 MB at 100 Mbit/s), as a real shim's would on a slow link.
 */
function incompressible(file: string): void {
  const bytes = readFileSync(file);
  const body = bytes.indexOf(createHash('sha256').update('0').digest()); // the filler's first block, right after the script
  randomFillSync(bytes, body);
  writeFileSync(file, bytes);
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('faults: the node ends as it was or fully converged, and kubewasm says what happened', () => {
  let net: TestNet;
  let key: ClientKey;
  let index = 0;
  let current: { node: TestNode; sshd: Sshd } | undefined;

  beforeAll(() => {
    mkdirSync(smallShims);
    mkdirSync(bigShims);
    for (const shim of Object.values(SHIMS)) writeStandInShim(smallShims, shim.binaryName);
    incompressible(writeLargeStandInShim(path.join(bigShims, SHIMS.wasmtime.binaryName), 48 << 20));
    net = createNet('10.247.122');
    key = clientKey(work);
  });
  afterEach(() => {
    current?.node.destroy();
    current = undefined;
  });
  afterAll(() => net?.cleanup());

  /** A fresh node with sshd and a running containerd; known_hosts lists it. */
  function freshNode(version: ContainerdVersion = '2.2', options: { withoutContainerd?: boolean } = {}) {
    index += 1;
    const node = createNode(net, index, version, { config: DEFAULT_CONFIG[version], ...options });
    const sshd = startSshd(node, key);
    if (!options.withoutContainerd) node.startContainerd();
    writeFileSync(knownHosts, sshd.knownHostsLine);
    current = { node, sshd };
    return { node, sshd, before: node.snapshot(), pid: node.containerdPid() };
  }
  const sshFlags = (node: TestNode) => ['--ssh', `root@${node.ip}`, '--identity', key.privateKey, '--known-hosts', knownHosts];
  const flags = (node: TestNode, shimDir = smallShims) => [...sshFlags(node), '--shim-dir', shimDir];
  const hook = (node: TestNode, name: 'restart-hook' | 'restart-prehook', script: string) => writeFileSync(path.join(node.dir, 'usr-local-sbin', name), `${script}\n`);
  const tempFiles = (node: TestNode) => readdirSync(path.join(node.dir, 'usr-local-bin')).filter((n) => n.includes('.kubewasm-'));
  // This machine -> node at 100 Mbit/s: a 48 MB upload takes a few seconds.
  const throttle = (node: TestNode) => execHost(`tc qdisc add dev ${node.veth} root tbf rate 100mbit burst 256kb latency 500ms`);
  const runtimesOf = (node: TestNode) => Object.keys(node.criInfo().config.containerd.runtimes);
  const connect = (node: TestNode, keepaliveSeconds?: number) =>
    SshHost.connect({ host: node.ip, user: 'root', identityFile: key.privateKey, knownHostsFile: knownHosts, name: node.name, ...(keepaliveSeconds ? { keepaliveSeconds } : {}) });

  /** The node as it was: same bytes, containerd running on the old config. */
  function expectAsBefore(node: TestNode, before: Record<string, string>) {
    expect(node.snapshot()).toEqual(before);
    expect(node.containerdPid()).toBeDefined();
    expect(runtimesOf(node)).not.toContain('wasmtime');
  }

  it.each(['2.2', '2.4'] as const)('(1a) containerd %s rejects the config it is given and does not come back [the node restart script feeds containerd a broken copy of the new config]: the backup is restored and containerd restarted on it', async (version) => {
    const { node, before } = freshNode(version);
    hook(node, 'restart-hook', `if grep -q 'BEGIN kubewasm' "$config"; then cp "$config" /run/broken.toml; echo '[this is not toml' >> /run/broken.toml; config=/run/broken.toml; fi`);
    const result = await kubewasm(['node', 'install', ...flags(node), '--cri-timeout', '10']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`root@${node.ip}: ✗ root@${node.ip}: restarting containerd failed`);
    expect(result.stdout).toContain('containerd did not start');
    expect(result.stdout).toContain('the previous config was restored and containerd restarted on it; uploads taken back');
    expect(result.stderr).toContain(`1 node: 0 ok (0 changed), 1 failed: root@${node.ip}`);
    expectAsBefore(node, before);
  });

  it('(1b) containerd comes back without a CRI [the node restart script disables the CRI plugin when the new config is there]: after --cri-timeout the backup is restored', async () => {
    const { node, before } = freshNode('1.6');
    hook(node, 'restart-hook', `if grep -q 'BEGIN kubewasm' "$config"; then { echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'; grep -v '^disabled_plugins' "$config"; } > /run/nocri.toml; config=/run/nocri.toml; fi`);
    const result = await kubewasm(['node', 'install', ...flags(node), '--cri-timeout', '5']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("containerd's CRI did not become ready within 5s");
    expect(result.stdout).toContain('the previous config was restored and containerd restarted on it');
    expectAsBefore(node, before);
  });

  it.each(['2.2', '2.4'] as const)('(2a) containerd %s: a shim is gone after containerd restarted [the node restart script deletes /usr/local/bin/containerd-shim-* when the new config is there]: rolled back', async (version) => {
    const { node, before } = freshNode(version);
    hook(node, 'restart-hook', `if grep -q 'BEGIN kubewasm' "$config"; then rm -f /usr/local/bin/containerd-shim-*; fi`);
    const result = await kubewasm(['node', 'install', ...flags(node)]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('the shim /usr/local/bin/containerd-shim-wasmtime-v1 is missing after containerd restarted');
    expect(result.stdout).toContain('the previous config was restored and containerd restarted on it');
    expectAsBefore(node, before);
  });

  it('(2b) the shim cannot be executed where it is installed (--install-dir on a noexec mount): refused before the config is touched', async () => {
    const { node, before, pid } = freshNode('2.2');
    node.run('mkdir -p /opt/wasm && mount -t tmpfs -o noexec,size=8m tmpfs /opt/wasm');
    const result = await kubewasm(['node', 'install', ...flags(node), '--install-dir', '/opt/wasm']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('the shim /opt/wasm/containerd-shim-wasmtime-v1 is not executable before the config change (is its file system mounted noexec?)');
    expect(result.stdout).toContain('the node was left as it was');
    expectAsBefore(node, before);
    expect(node.containerdPid()).toBe(pid); // never restarted
    expect(node.run('ls -A /opt/wasm')).toBe('');
  });

  it('(3a) the SSH connection drops mid-upload (kill -9 of the sshd session process on the node): the node removes the partial upload itself', async () => {
    const { node, sshd, before, pid } = freshNode('2.2');
    throttle(node); // 48 MB at 100 Mbit/s: a few seconds of upload
    const host = await connect(node);
    const shims = await shimsFromDir(bigShims, [SHIMS.wasmtime]);
    const run = convergeNode(host, { shims }, {});
    run.catch(() => {});
    await until('the upload to start', () => tempFiles(node).length > 0);
    expect(sshd.killSessions()).toBeGreaterThan(0);
    await expect(run).rejects.toThrow(/lost the SSH connection.*the node could not be reached to remove the staged uploads: a transfer cut short removes its own file on the node/s);
    await host.close();
    await until('the node to remove the partial file', () => tempFiles(node).length === 0, 10_000);
    expectAsBefore(node, before);
    expect(node.containerdPid()).toBe(pid);
    // sshd still listens: the next run converges.
    const again = await kubewasm(['node', 'install', ...flags(node, bigShims)]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(runtimesOf(node)).toContain('wasmtime');
  });

  it('(3b) the network is cut mid-upload (veth down): kubewasm gives up after its keepalives, the node cleans up when sshd notices', async () => {
    const { node, before, pid } = freshNode('2.2');
    throttle(node);
    const host = await connect(node, 1);
    const shims = await shimsFromDir(bigShims, [SHIMS.wasmtime]);
    const run = convergeNode(host, { shims }, {});
    run.catch(() => {});
    await until('the upload to start', () => tempFiles(node).length > 0);
    execHost(`ip link set ${node.veth} down`);
    await expect(run).rejects.toThrow(/lost the SSH connection.*(Keepalive timeout|closed)/s);
    await host.close();
    await until('sshd on the node to notice and the partial file to go', () => tempFiles(node).length === 0, 20_000);
    expectAsBefore(node, before);
    expect(node.containerdPid()).toBe(pid);
    execHost(`ip link set ${node.veth} up`);
    const again = await kubewasm(['node', 'install', ...flags(node)]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it('(4a) the disk is full where the shim goes (a 1 MiB tmpfs as --install-dir): nothing is left behind', async () => {
    const { node, before, pid } = freshNode('2.2');
    node.run('mkdir -p /opt/small && mount -t tmpfs -o size=1m tmpfs /opt/small');
    const shimDir = path.join(work, 'four-mb');
    mkdirSync(shimDir, { recursive: true });
    writeLargeStandInShim(path.join(shimDir, SHIMS.wasmtime.binaryName), 4 << 20);
    const result = await kubewasm(['node', 'install', ...flags(node, shimDir), '--install-dir', '/opt/small']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/cannot upload the wasmtime shim \(4\.2 MB\): the node's disk is full \(no space left on the device\)/);
    expect(result.stdout).toContain('choose another directory with --install-dir');
    expect(result.stdout).toContain('the node was left as it was');
    expectAsBefore(node, before);
    expect(node.containerdPid()).toBe(pid);
    expect(node.run('ls -A /opt/small')).toBe('');
  });

  it('(4b) the disk is full where kubewasm keeps its journal (a full tmpfs as --state-dir): the staged shim is removed, nothing else changed', async () => {
    const { node, before, pid } = freshNode('1.6');
    node.run('mkdir -p /opt/state && mount -t tmpfs -o size=256k tmpfs /opt/state && (dd if=/dev/zero of=/opt/state/filler bs=4k 2>/dev/null || true)');
    const result = await kubewasm(['node', 'install', ...flags(node), '--state-dir', '/opt/state']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("cannot write kubewasm's journal and backups: the node's disk is full");
    expect(result.stdout).toContain('the node was left as it was');
    expectAsBefore(node, before);
    expect(node.containerdPid()).toBe(pid);
    expect(node.run('ls -A /opt/state').trim()).toBe('filler');
  });

  it('(5) two kubewasm runs against one node at once: one converges it, the other is refused and says who holds the lock', async () => {
    const { node, before } = freshNode('2.2');
    hook(node, 'restart-hook', 'sleep 2'); // a slow restart keeps the first run inside its lock
    const [a, b] = await Promise.all([kubewasm(['node', 'install', ...flags(node)]), kubewasm(['node', 'install', ...flags(node)])]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.stdout).toMatch(/another kubewasm run is changing this node: pid=\d+ host=\S+ user=root since=\S+ command="kubewasm node install" node-pid=\d+/);
    expect(loser.stdout).toContain('wait for it to finish and run again');
    expect(runtimesOf(node)).toContain('wasmtime');
    const third = await kubewasm(['node', 'install', ...flags(node)]);
    expect(third.stderr).toContain('1 node: 1 ok (0 changed)');
    rmSync(path.join(node.dir, 'usr-local-sbin', 'restart-hook'));
    expect((await kubewasm(['node', 'uninstall', ...sshFlags(node)])).code).toBe(0);
    expect(node.snapshot()).toEqual(before);
  });

  it('(6a) SIGINT in the middle of an upload: the run stops, takes back what it did and exits 130', async () => {
    const { node, before, pid } = freshNode('2.2');
    throttle(node);
    const run = startKubewasm(['node', 'install', ...flags(node, bigShims)]);
    await until('the upload to start', () => tempFiles(node).length > 0);
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result.code).toBe(130);
    expect(result.stderr).toContain('interrupting: each node undoes what it started');
    expect(result.stdout).toContain('interrupted (SIGINT)');
    expect(result.stdout).toContain('the node was left as it was');
    await until('no staged file', () => tempFiles(node).length === 0, 5_000);
    expectAsBefore(node, before);
    expect(node.containerdPid()).toBe(pid);
  });

  it.each(['2.2', '2.4'] as const)('(6b) containerd %s: kill -9 of kubewasm between writing the config and restarting containerd [the restart waits on a file the test holds]: the next run completes it', async (version) => {
    const { node, before, pid } = freshNode(version);
    node.run('touch /run/hold');
    hook(node, 'restart-prehook', 'echo $$ > /run/held; while [ -e /run/hold ]; do sleep 0.05; done');
    const run = startKubewasm(['node', 'install', ...flags(node)]);
    await until('the restart to be reached', () => node.run('cat /run/held 2>/dev/null || true').trim() !== '');
    expect(readFileSync(path.join(node.dir, 'etc-containerd', 'config.toml'), 'utf8')).toContain('# BEGIN kubewasm');
    run.child.kill('SIGKILL');
    await run.result;
    // The orphaned restart on the node would race the next run: end it, as a reboot or systemd's job timeout would.
    node.run('kill -9 $(cat /run/held); rm -f /run/hold /usr/local/sbin/restart-prehook');
    expect(node.containerdPid()).toBe(pid); // still on the old config
    expect(JSON.parse(readFileSync(path.join(node.dir, 'var-lib/kubewasm/journal.json'), 'utf8'))).toMatchObject({ phase: 'config', files: [{ path: '/usr/local/bin/containerd-shim-wasmtime-v1' }] });

    const next = await kubewasm(['node', 'install', ...flags(node)]);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.stdout).toContain('! an interrupted earlier run was completed first');
    expect(node.containerdPid()).not.toBe(pid);
    expect(runtimesOf(node)).toContain('wasmtime');
    expect(Object.keys(node.snapshot()).filter((p) => p.startsWith('var-lib/kubewasm/'))).toEqual(['var-lib/kubewasm/installed.json']);
    expect((await kubewasm(['node', 'uninstall', ...sshFlags(node)])).code).toBe(0);
    expect(node.snapshot()).toEqual(before);
  });

  it('(6c) kill -9 of kubewasm mid-upload, then uninstall as the next run: nothing of the killed run remains', async () => {
    const { node, before, pid } = freshNode('1.6');
    throttle(node);
    const run = startKubewasm(['node', 'install', ...flags(node, bigShims)]);
    await until('the upload to start', () => tempFiles(node).length > 0);
    run.child.kill('SIGKILL');
    await run.result;
    await until('the node to drop the partial file', () => tempFiles(node).length === 0, 10_000);
    expectAsBefore(node, before);
    const next = await kubewasm(['node', 'uninstall', ...sshFlags(node)]);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.stdout).toContain('nothing to do');
    expectAsBefore(node, before);
    expect(node.containerdPid()).toBe(pid);
  });

  it('(7) an unknown host key is refused (nothing runs on the node); a changed one is refused even with --accept-new-host-key; a new one is recorded with it', async () => {
    const { node, before } = freshNode('2.2');
    writeFileSync(knownHosts, '');
    const unknown = await kubewasm(['node', 'install', ...flags(node)]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain(`the host key of ${node.ip} is not in ${knownHosts}: refusing to connect to an unverified host`);
    expect(unknown.stdout).toMatch(/ssh-ed25519 key SHA256:[A-Za-z0-9+/]{43}/);
    expect(unknown.stdout).toContain('--accept-new-host-key');
    expect(readFileSync(path.join(node.dir, 'ssh', 'sshd.log'), 'utf8')).not.toContain('Starting session');

    const otherKey = path.join(work, 'other_host_key');
    rmSync(otherKey, { force: true });
    rmSync(`${otherKey}.pub`, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    writeFileSync(knownHosts, `${node.ip} ${readFileSync(`${otherKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const changed = await kubewasm(['node', 'install', ...flags(node), '--accept-new-host-key']);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain(`the host key of ${node.ip} CHANGED since it was recorded (${knownHosts} line 1)`);
    expect(changed.stdout).toContain(`ssh-keygen -R '${node.ip}'`);
    expect(node.snapshot()).toEqual(before);

    writeFileSync(knownHosts, '');
    const accepted = await kubewasm(['node', 'install', ...flags(node), '--accept-new-host-key']);
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(readFileSync(knownHosts, 'utf8')).toBe(current!.sshd.knownHostsLine);
    const removed = await kubewasm(['node', 'uninstall', ...sshFlags(node)]);
    expect(removed.code, removed.stdout).toBe(0);
    expect(node.snapshot()).toEqual(before);
  });

  it('(8) a node with no containerd: refused before anything is written, saying what to install', async () => {
    const { node, before } = freshNode('1.6', { withoutContainerd: true });
    const result = await kubewasm(['node', 'install', ...flags(node), '-o', 'json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual([
      {
        node: `root@${node.ip}`,
        ok: false,
        error: {
          what: "containerd is not installed here ('containerd' not found)",
          where: `root@${node.ip}`,
          fix: 'install containerd on the node first, or point kubewasm at its binary with --containerd-binary',
        },
      },
    ]);
    expect(node.snapshot()).toEqual(before);
  });
});

function execHost(script: string): string {
  return execFileSync('sh', ['-c', script], { encoding: 'utf8' });
}
