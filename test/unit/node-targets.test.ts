// Which nodes a fleet run reaches, and how: ssh specs and inventory files.
import { describe, expect, it } from 'vitest';
import { KubewasmError, UsageError } from '../../lib/errors.js';
import { inventoryTargets, parseInventoryText, parseSshSpec, sshTargetName } from '../../lib/node/targets.js';

describe('ssh specs', () => {
  it('user@host[:port], IPv6 in brackets, defaults for what is not written', () => {
    expect(parseSshSpec('root@10.0.0.1')).toEqual({ host: '10.0.0.1', user: 'root' });
    expect(parseSshSpec('admin@node-1.example:2222', { identityFile: '/k' })).toEqual({ host: 'node-1.example', port: 2222, user: 'admin', identityFile: '/k' });
    expect(parseSshSpec('[fd00::5]:2200', { user: 'ubuntu', port: 22 })).toEqual({ host: 'fd00::5', port: 2200, user: 'ubuntu' });
    expect(parseSshSpec('node', { port: 2022 })).toEqual({ host: 'node', port: 2022 });
    expect(sshTargetName({ host: 'fd00::5', port: 2200, user: 'u' })).toBe('u@[fd00::5]:2200');
    expect(() => parseSshSpec('a@b@c')).toThrow(UsageError);
    expect(() => parseSshSpec('root@host:99999')).toThrow(/bad port/);
  });
});

describe('inventory', () => {
  const yaml = `
defaults:
  user: root
  identity: ~/.ssh/fleet
nodes:
  - host: 10.0.0.11
  - ssh: admin@10.0.0.12:2222
    name: edge
    installDir: /opt/kubewasm/bin
    containerd: { restartCommand: "rc-service containerd restart", config: /etc/containerd/custom.toml, flavour: containerd }
  - docker: kind-worker
  - local: true
    root: /host
`;

  it('reads YAML: defaults, ssh in two forms, docker, local, per-node settings over the command line', async () => {
    const targets = inventoryTargets(await parseInventoryText(yaml, 'inv.yaml'), 'inv.yaml', { knownHostsFile: '/kh', stateDir: '/var/lib/kw' }, (p) => p.replace('~', '/home/me'));
    expect(targets).toEqual([
      { kind: 'ssh', name: 'root@10.0.0.11', ssh: { host: '10.0.0.11', user: 'root', identityFile: '/home/me/.ssh/fleet', knownHostsFile: '/kh' }, stateDir: '/var/lib/kw' },
      {
        kind: 'ssh',
        name: 'edge',
        ssh: { host: '10.0.0.12', port: 2222, user: 'admin', identityFile: '/home/me/.ssh/fleet', knownHostsFile: '/kh' },
        installDir: '/opt/kubewasm/bin',
        stateDir: '/var/lib/kw',
        containerd: { restart: { kind: 'command', argv: ['sh', '-c', 'rc-service containerd restart'] }, configPath: '/etc/containerd/custom.toml', flavour: 'containerd' },
      },
      { kind: 'docker', name: 'kind-worker', container: 'kind-worker', stateDir: '/var/lib/kw' },
      { kind: 'local', name: 'local', root: '/host', stateDir: '/var/lib/kw' },
    ]);
  });

  it('reads JSON, and a plain list of ssh strings', async () => {
    expect(inventoryTargets(await parseInventoryText('["root@a", {"host": "b", "port": 2200}]', 'inv.json'), 'inv.json').map((t) => t.name)).toEqual(['root@a', `${process.env['USER'] ?? 'root'}@b:2200`]);
  });

  it('refuses what it does not understand, naming the node and the key (bad usage, exit 2)', async () => {
    const bad = (text: string) => {
      try {
        inventoryTargets(JSON.parse(text), 'inv.json');
      } catch (err) {
        expect(err).toBeInstanceOf(KubewasmError);
        expect((err as KubewasmError).exitCode).toBe(2);
        return (err as KubewasmError).message;
      }
      throw new Error('accepted');
    };
    expect(bad('[]')).toContain('no nodes');
    expect(bad('[{"host": "a", "docker": "b"}]')).toContain('node 1: choose one of host, docker');
    expect(bad('[{"name": "a"}]')).toContain('node 1: say how to reach it');
    expect(bad('[{"host": "a"}, {"hots": "b"}]')).toContain("node 2: unknown key 'hots'");
    expect(bad('[{"host": "a", "containerd": {"restart": "x"}}]')).toContain("unknown containerd key 'restart'");
    expect(bad('[{"host": "a", "containerd": {"flavour": "k8s"}}]')).toContain("unknown containerd.flavour 'k8s'");
    expect(bad('[{"host": "a"}, {"ssh": "a"}]')).toContain("two nodes are named");
    expect(bad('{"nodes": [{"host": "a"}], "extra": 1}')).toContain('unknown top-level key(s) extra');
    await expect(parseInventoryText('nodes: [unclosed', 'inv.yaml')).rejects.toThrow('inv.yaml: not valid YAML or JSON');
  });
});
