// Where a node's containerd keeps its config, which file kubewasm edits, how
// containerd is restarted and reached. Distributions differ; this decides
// from what is on the node, and every field can be overridden.
import type { ConfigFileKind } from './config-plan.js';

export type Flavour = 'containerd' | 'k3s' | 'rke2' | 'microk8s' | 'k0s';

export type RestartMethod =
  | { kind: 'systemd'; unit: string }
  | { kind: 'openrc'; service: string }
  | { kind: 'snap'; service: string }
  /** A command the user (or a test) gives, e.g. for a containerd run by hand. */
  | { kind: 'command'; argv: string[] };

export interface ContainerdSetup {
  flavour: Flavour;
  /** The file kubewasm edits. */
  configPath: string;
  configKind: ConfigFileKind;
  /** For templates: the config the distribution generated from it (read-only for kubewasm). */
  renderedConfigPath?: string;
  /** The containerd binary, to read its version. */
  binary: string;
  /** containerd's gRPC socket. */
  address: string;
  restart: RestartMethod;
  /** Directory on containerd's PATH where shims go. */
  shimDir: string;
}

/** Marker files that tell the distributions apart, checked in this order. */
export const FLAVOUR_MARKERS: ReadonlyArray<{ flavour: Flavour; path: string }> = [
  { flavour: 'microk8s', path: '/var/snap/microk8s/current/args/containerd-template.toml' },
  { flavour: 'k3s', path: '/var/lib/rancher/k3s/agent/etc/containerd/config.toml' },
  { flavour: 'rke2', path: '/var/lib/rancher/rke2/agent/etc/containerd/config.toml' },
  { flavour: 'k0s', path: '/etc/k0s/containerd.d' },
];

export interface SetupFacts {
  flavour: Flavour;
  /** Does the node run systemd (/run/systemd/system exists)? */
  systemd: boolean;
  /** Does the node have an openrc script for containerd? */
  openrc: boolean;
  /** For k3s/rke2: the systemd unit that runs it (k3s or k3s-agent, rke2-server or rke2-agent). */
  serviceUnit?: string;
  /** containerd major version (k3s/rke2 with containerd 2 read config-v3.toml.tmpl). */
  containerdMajor: number;
}

/** The default setup for a flavour. Pure. */
export function defaultSetup(facts: SetupFacts): ContainerdSetup {
  switch (facts.flavour) {
    case 'k3s':
    case 'rke2': {
      const dir = `/var/lib/rancher/${facts.flavour}/agent/etc/containerd`;
      const template = facts.containerdMajor >= 2 ? 'config-v3.toml.tmpl' : 'config.toml.tmpl';
      return {
        flavour: facts.flavour,
        configPath: `${dir}/${template}`,
        configKind: 'k3s-template',
        renderedConfigPath: `${dir}/config.toml`,
        binary: `/var/lib/rancher/${facts.flavour}/data/current/bin/containerd`,
        address: `/run/k3s/containerd/containerd.sock`,
        restart: { kind: 'systemd', unit: facts.serviceUnit ?? (facts.flavour === 'k3s' ? 'k3s' : 'rke2-server') },
        // On the service's PATH, and not in data/current, which an upgrade replaces.
        shimDir: '/usr/local/bin',
      };
    }
    case 'microk8s':
      return {
        flavour: 'microk8s',
        configPath: '/var/snap/microk8s/current/args/containerd-template.toml',
        configKind: 'toml',
        binary: '/snap/microk8s/current/bin/containerd',
        address: '/var/snap/microk8s/common/run/containerd.sock',
        restart: { kind: 'snap', service: 'microk8s.daemon-containerd' },
        shimDir: '/var/snap/microk8s/common/bin',
      };
    case 'k0s':
      return {
        flavour: 'k0s',
        configPath: '/etc/k0s/containerd.d/kubewasm.toml',
        configKind: 'toml',
        binary: '/var/lib/k0s/bin/containerd',
        address: '/run/k0s/containerd.sock',
        restart: { kind: 'systemd', unit: 'k0sworker' },
        shimDir: '/var/lib/k0s/bin',
      };
    case 'containerd':
      return {
        flavour: 'containerd',
        configPath: '/etc/containerd/config.toml',
        configKind: 'toml',
        binary: 'containerd',
        address: '/run/containerd/containerd.sock',
        restart: facts.systemd || !facts.openrc ? { kind: 'systemd', unit: 'containerd' } : { kind: 'openrc', service: 'containerd' },
        shimDir: '/usr/local/bin',
      };
  }
}

export function restartArgv(method: RestartMethod): string[] {
  switch (method.kind) {
    case 'systemd':
      return ['systemctl', 'restart', method.unit];
    case 'openrc':
      return [`/etc/init.d/${method.service}`, 'restart'];
    case 'snap':
      return ['snap', 'restart', method.service];
    case 'command':
      return method.argv;
  }
}

export function describeRestart(method: RestartMethod): string {
  return restartArgv(method).join(' ');
}
