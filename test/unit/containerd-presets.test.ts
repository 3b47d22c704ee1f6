// The one table of distributions: each preset made concrete for a node, and
// the facts it encodes (which file, which socket, how to restart).
import { describe, expect, it } from 'vitest';
import { FLAVOURS, isFlavour, PRESETS, presetFor } from '../../lib/containerd/presets.js';
import { restartArgv, setupFor, type NodeInit } from '../../lib/containerd/setup.js';
import { planConfig } from '../../lib/containerd/config-plan.js';
import { errorOf } from '../support/errors.js';

const systemdNode = (containerdMajor: number, units: string[] = []): NodeInit => ({ systemd: true, openrc: false, units, containerdMajor });

describe('presets', () => {
  it('one preset per flavour, plain containerd last (it matches every node)', () => {
    expect(PRESETS.map((p) => p.flavour).sort()).toEqual([...FLAVOURS].sort());
    expect(PRESETS.at(-1)!.flavour).toBe('containerd');
    expect(PRESETS.at(-1)!.detectedBy).toBeUndefined();
    expect(PRESETS.slice(0, -1).every((p) => p.detectedBy)).toBe(true);
    expect(isFlavour('eks')).toBe(true);
    expect(isFlavour('docker')).toBe(false);
  });

  it('k3s: the template by containerd major, rendered to config.toml, the agent unit when it exists', () => {
    expect(setupFor('k3s', systemdNode(1)).configPath).toBe('/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl');
    const k3s2 = setupFor('k3s', systemdNode(2, ['k3s-agent']));
    expect(k3s2).toMatchObject({
      configPath: '/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl',
      configKind: 'k3s-template',
      renderedConfigPath: '/var/lib/rancher/k3s/agent/etc/containerd/config.toml',
      address: '/run/k3s/containerd/containerd.sock',
      shimDir: '/usr/local/bin',
      registersShimsOnPath: true,
    });
    expect(restartArgv(k3s2.restart)).toEqual(['systemctl', 'restart', 'k3s-agent']);
    expect(restartArgv(setupFor('k3s', systemdNode(2)).restart)).toEqual(['systemctl', 'restart', 'k3s']);
    expect(restartArgv(setupFor('rke2', systemdNode(2)).restart)).toEqual(['systemctl', 'restart', 'rke2-server']);
  });

  it('plain containerd: systemd, or openrc without systemd', () => {
    expect(restartArgv(setupFor('containerd', systemdNode(2)).restart)).toEqual(['systemctl', 'restart', 'containerd']);
    expect(restartArgv(setupFor('containerd', { systemd: false, openrc: true, units: [], containerdMajor: 1 }).restart)).toEqual(['/etc/init.d/containerd', 'restart']);
  });

  it('microk8s restarts through snap; k0s edits a drop-in of its own', () => {
    expect(restartArgv(setupFor('microk8s', systemdNode(1)).restart)).toEqual(['snap', 'restart', 'microk8s.daemon-containerd']);
    expect(setupFor('k0s', systemdNode(2, ['k0sworker'])).configPath).toBe('/etc/k0s/containerd.d/kubewasm.toml');
    expect(restartArgv(setupFor('k0s', systemdNode(2, ['k0sworker'])).restart)).toEqual(['systemctl', 'restart', 'k0sworker']);
  });

  it('EKS: edits the bootstrap source and keeps the file containerd reads a copy of it', () => {
    expect(setupFor('eks', systemdNode(1))).toMatchObject({ configPath: '/etc/eks/containerd/containerd-config.toml', copiedConfigPath: '/etc/containerd/config.toml', configKind: 'toml' });
    expect(presetFor('eks').detectedBy).toBe('/etc/eks/containerd/containerd-config.toml');
  });
});

describe('planConfig with a bootstrap copy (EKS)', () => {
  const source = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5"\n';
  const eks = (content: string, copied: string | undefined) => ({
    path: '/etc/eks/containerd/containerd-config.toml',
    kind: 'toml' as const,
    content: Buffer.from(content),
    containerd: { major: 1, minor: 7, patch: 27 },
    copiedTo: { path: '/etc/containerd/config.toml', content: copied === undefined ? undefined : Buffer.from(copied) },
  });

  it('writes the source and names the copy to write the same bytes to', () => {
    const plan = planConfig(eks(source, source), [{ name: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1' }]);
    expect(plan.copies).toEqual(['/etc/containerd/config.toml']);
    expect(plan.after!.toString().startsWith(source)).toBe(true);
  });

  it('refuses when the copy was edited by hand (kubewasm would lose that edit)', () => {
    const error = errorOf(() => planConfig(eks(source, `${source}# hand edit\n`), [{ name: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1' }]));
    expect(error.what).toContain('/etc/containerd/config.toml differs from its bootstrap source');
    expect(error.fix).toContain('--config /etc/containerd/config.toml');
  });
});
