// One table of what kubewasm knows about each distribution's containerd, in
// the spirit of spinkube runtime-class-manager's internal/preset: how it is
// recognised, which file kubewasm edits (by containerd major), whether that
// file is a template the distribution renders or a source it copies, the
// socket, the binary, how it restarts, where shims go, and whether it
// registers the Wasm shims it finds on its PATH by itself. Data, read by
// setupFor() (pure) and facts.ts (detection); nothing else switches on a
// distribution.
import type { ConfigFileKind } from './config-plan.js';

export const FLAVOURS = ['containerd', 'k3s', 'rke2', 'microk8s', 'k0s', 'eks'] as const;
export type Flavour = (typeof FLAVOURS)[number];

export function isFlavour(value: string): value is Flavour {
  return (FLAVOURS as readonly string[]).includes(value);
}

/** How the distribution restarts its containerd. */
export type RestartPreset =
  /** The first unit whose file exists under /etc/systemd/system or /lib/systemd/system; else the last one listed. */
  | { kind: 'systemd'; units: readonly string[] }
  /** systemd when the node runs it, else this openrc service (/etc/init.d/<service>). */
  | { kind: 'systemd-or-openrc'; unit: string; service: string }
  | { kind: 'snap'; service: string };

export interface Preset {
  flavour: Flavour;
  /** A path that exists only on this distribution's nodes; absent: the fallback. The table's order decides. */
  detectedBy?: string;
  /** The file kubewasm edits: [for containerd 1.x, for containerd 2.x]. */
  config: readonly [string, string];
  configKind: ConfigFileKind;
  /** For a template: the file the distribution renders from it at start (an output, never a second input). */
  renderedTo?: string;
  /** For a source file the distribution copies over containerd's config at bootstrap: where kubewasm copies it too. */
  copiedTo?: string;
  binary: string;
  address: string;
  restart: RestartPreset;
  /** Where shim binaries go: on containerd's PATH, outside what an upgrade replaces. */
  shimDir: string;
  /** The distribution registers containerd-shim-{spin-v2,wasmtime-v1,wasmedge-v1,wasmer-v1} found on its PATH itself. */
  registersShimsOnPath: boolean;
  /** Why this layout, for the reader. */
  note: string;
}

const rancher = (name: 'k3s' | 'rke2', units: readonly string[]): Preset => {
  const dir = `/var/lib/rancher/${name}/agent/etc/containerd`;
  return {
    flavour: name,
    detectedBy: `${dir}/config.toml`,
    config: [`${dir}/config.toml.tmpl`, `${dir}/config-v3.toml.tmpl`],
    configKind: 'k3s-template',
    renderedTo: `${dir}/config.toml`,
    binary: `/var/lib/rancher/${name}/data/current/bin/containerd`,
    address: '/run/k3s/containerd/containerd.sock',
    restart: { kind: 'systemd', units },
    shimDir: '/usr/local/bin',
    registersShimsOnPath: true,
    note: `${name} renders config.toml from the template at each start; /usr/local/bin is on its PATH and not in data/current, which an upgrade replaces`,
  };
};

/** Checked in this order; the last entry (plain containerd) matches every node. */
export const PRESETS: readonly Preset[] = [
  {
    flavour: 'microk8s',
    detectedBy: '/var/snap/microk8s/current/args/containerd-template.toml',
    config: ['/var/snap/microk8s/current/args/containerd-template.toml', '/var/snap/microk8s/current/args/containerd-template.toml'],
    configKind: 'toml',
    binary: '/snap/microk8s/current/bin/containerd',
    address: '/var/snap/microk8s/common/run/containerd.sock',
    restart: { kind: 'snap', service: 'microk8s.daemon-containerd' },
    shimDir: '/var/snap/microk8s/common/bin',
    registersShimsOnPath: false,
    note: 'the snap substitutes ${SNAP}/${SNAP_DATA} in containerd-template.toml into the config it starts containerd with; kubewasm writes plain TOML without those variables',
  },
  rancher('k3s', ['k3s-agent', 'k3s']),
  rancher('rke2', ['rke2-agent', 'rke2-server']),
  {
    flavour: 'k0s',
    detectedBy: '/etc/k0s/containerd.d',
    config: ['/etc/k0s/containerd.d/kubewasm.toml', '/etc/k0s/containerd.d/kubewasm.toml'],
    configKind: 'toml',
    binary: '/var/lib/k0s/bin/containerd',
    address: '/run/k0s/containerd.sock',
    restart: { kind: 'systemd', units: ['k0scontroller', 'k0sworker'] },
    shimDir: '/var/lib/k0s/bin',
    registersShimsOnPath: false,
    note: 'k0s imports every file in /etc/k0s/containerd.d into the config it generates; a file of kubewasm\'s own is the drop-in',
  },
  {
    flavour: 'eks',
    detectedBy: '/etc/eks/containerd/containerd-config.toml',
    config: ['/etc/eks/containerd/containerd-config.toml', '/etc/eks/containerd/containerd-config.toml'],
    configKind: 'toml',
    copiedTo: '/etc/containerd/config.toml',
    binary: 'containerd',
    address: '/run/containerd/containerd.sock',
    restart: { kind: 'systemd', units: ['containerd'] },
    shimDir: '/usr/local/bin',
    registersShimsOnPath: false,
    note: "the EKS AMI's bootstrap.sh copies /etc/eks/containerd/containerd-config.toml over /etc/containerd/config.toml whenever they differ: kubewasm edits the source and copies it the same way, so a re-bootstrap keeps the runtime",
  },
  {
    flavour: 'containerd',
    config: ['/etc/containerd/config.toml', '/etc/containerd/config.toml'],
    configKind: 'toml',
    binary: 'containerd',
    address: '/run/containerd/containerd.sock',
    restart: { kind: 'systemd-or-openrc', unit: 'containerd', service: 'containerd' },
    shimDir: '/usr/local/bin',
    registersShimsOnPath: false,
    note: 'containerd as packaged (Debian, Ubuntu, kind, kubeadm nodes): /etc/containerd/config.toml, a missing file meaning the defaults',
  },
];

export function presetFor(flavour: Flavour): Preset {
  return PRESETS.find((p) => p.flavour === flavour)!;
}
