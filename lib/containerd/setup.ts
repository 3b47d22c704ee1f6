// A node's containerd setup: the preset of its distribution (presets.ts)
// made concrete for this node (containerd major, init system, unit), every
// field overridable by the user.
import type { ConfigFileKind } from './config-plan.js';
import { presetFor, type Flavour } from './presets.js';

export type { Flavour } from './presets.js';

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
  /** For templates: the config the distribution generates from it (an output; kubewasm only reads it). */
  renderedConfigPath?: string;
  /** For a bootstrap source (EKS): the file containerd reads, which kubewasm keeps a byte-for-byte copy of the source. */
  copiedConfigPath?: string;
  /** The containerd binary, to read its version. */
  binary: string;
  /** containerd's gRPC socket. */
  address: string;
  restart: RestartMethod;
  /** Directory on containerd's PATH where shims go. */
  shimDir: string;
  /** The distribution registers Wasm shims found on its PATH itself (k3s, rke2). */
  registersShimsOnPath: boolean;
}

export interface NodeInit {
  /** Does the node run systemd (/run/systemd/system exists)? */
  systemd: boolean;
  /** Does the node have an openrc script for containerd? */
  openrc: boolean;
  /** systemd units whose unit file exists on the node. */
  units: readonly string[];
  containerdMajor: number;
}

/** The preset of a flavour made concrete for one node. Pure. */
export function setupFor(flavour: Flavour, node: NodeInit): ContainerdSetup {
  const p = presetFor(flavour);
  return {
    flavour,
    configPath: p.config[node.containerdMajor >= 2 ? 1 : 0],
    configKind: p.configKind,
    ...(p.renderedTo ? { renderedConfigPath: p.renderedTo } : {}),
    ...(p.copiedTo ? { copiedConfigPath: p.copiedTo } : {}),
    binary: p.binary,
    address: p.address,
    restart: restartFor(p.restart, node),
    shimDir: p.shimDir,
    registersShimsOnPath: p.registersShimsOnPath,
  };
}

function restartFor(preset: ReturnType<typeof presetFor>['restart'], node: NodeInit): RestartMethod {
  switch (preset.kind) {
    case 'systemd':
      return { kind: 'systemd', unit: preset.units.find((u) => node.units.includes(u)) ?? preset.units.at(-1)! };
    case 'systemd-or-openrc':
      return node.systemd || !node.openrc ? { kind: 'systemd', unit: preset.unit } : { kind: 'openrc', service: preset.service };
    case 'snap':
      return { kind: 'snap', service: preset.service };
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
