// Which nodes a fleet run works on and how each is reached: ssh specs
// (user@host[:port]), docker containers, this machine, or an inventory file
// (YAML or JSON) that lists them with per-node settings. Parsing is pure; the
// only I/O is opening the transport.
import { homedir } from 'node:os';
import type { SetupOverrides } from '../containerd/facts.js';
import { FLAVOURS, isFlavour } from '../containerd/presets.js';
import { KubewasmError, UsageError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import type { DockerApi } from '../host/docker-api.js';
import type { SshTarget } from '../host/ssh.js';

/** Settings a node may carry beside how it is reached. */
export interface NodeSettings {
  containerd?: SetupOverrides;
  stateDir?: string;
  installDir?: string;
}

export type NodeTarget =
  | ({ kind: 'ssh'; name: string; ssh: SshTarget } & NodeSettings)
  | ({ kind: 'docker'; name: string; container: string } & NodeSettings)
  | ({ kind: 'local'; name: string; root?: string } & NodeSettings);

export const INVENTORY_HELP = `Inventory file (--inventory FILE), YAML or JSON: a list of nodes, or an object with
"nodes" and optional "defaults" applied to every node. Each node is reached one way:
  host: 10.0.0.11            over SSH; with user (default: you), port (22), identity, knownHosts
  ssh: ubuntu@10.0.0.12:2222  the same, in one string
  docker: kind-worker         a node container (name or id), through the Docker API
  local: true                 this machine
and may set name, installDir, stateDir and containerd: { config, address, binary,
restartCommand, flavour } for that node. Command-line options are the defaults;
the file's settings win. Example:
  defaults: { user: root, identity: ~/.ssh/fleet_ed25519 }
  nodes:
    - host: 10.0.0.11
    - ssh: admin@10.0.0.12:2222
      containerd: { restartCommand: "rc-service containerd restart" }
    - docker: kind-worker`;

/** user@host[:port], [v6addr]:port, host. */
export function parseSshSpec(spec: string, defaults: Partial<SshTarget> = {}): SshTarget {
  const match = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d+))?$/.exec(spec.trim());
  if (!match) throw new UsageError(`'${spec}' is not an SSH address`, 'write user@host or user@host:port (IPv6: user@[addr]:port)');
  const port = match[3] ? Number(match[3]) : defaults.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`bad port in '${spec}'`);
  const user = match[1] ?? defaults.user;
  return { ...defaults, host: match[2]!.replace(/^\[|\]$/g, ''), ...(port !== undefined ? { port } : {}), ...(user ? { user } : {}) };
}

export function sshTargetName(ssh: SshTarget): string {
  const host = ssh.host.includes(':') ? `[${ssh.host}]` : ssh.host;
  return `${ssh.user ?? process.env['USER'] ?? 'root'}@${host}${ssh.port && ssh.port !== 22 ? `:${ssh.port}` : ''}`;
}

const NODE_KEYS = new Set(['name', 'host', 'ssh', 'user', 'port', 'identity', 'knownHosts', 'acceptNewHostKey', 'docker', 'local', 'root', 'installDir', 'stateDir', 'containerd']);
const CONTAINERD_KEYS = new Set(['config', 'address', 'binary', 'restartCommand', 'flavour']);

/** Pure: an inventory's parsed content -> targets. `defaults` come from the command line; the file's defaults and nodes win over them. */
export function inventoryTargets(content: unknown, file: string, defaults: Partial<SshTarget> & NodeSettings = {}, expandHome: (p: string) => string = (p) => p): NodeTarget[] {
  const bad = (what: string, index?: number) =>
    new KubewasmError({ what: `${index === undefined ? '' : `node ${index + 1}: `}${what}`, where: file, fix: 'see `kubewasm node install --help` for the inventory format', exitCode: 2 });
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  let list: unknown;
  let fileDefaults: Record<string, unknown> = {};
  if (Array.isArray(content)) list = content;
  else if (isObject(content)) {
    list = content['nodes'];
    if (content['defaults'] !== undefined) {
      if (!isObject(content['defaults'])) throw bad('"defaults" must be a mapping');
      fileDefaults = content['defaults'];
    }
    const unknown = Object.keys(content).filter((k) => k !== 'nodes' && k !== 'defaults');
    if (unknown.length) throw bad(`unknown top-level key(s) ${unknown.join(', ')}`);
  }
  if (!Array.isArray(list) || list.length === 0) throw bad('no nodes: expected a list of nodes, or "nodes:" with one');
  const names = new Set<string>();
  return list.map((raw, index) => {
    if (typeof raw === 'string') raw = { ssh: raw };
    if (!isObject(raw)) throw bad('each node must be a mapping (host:, ssh:, docker: or local:) or an ssh string', index);
    const entry: Record<string, unknown> = { ...fileDefaults, ...raw };
    for (const key of Object.keys(entry)) if (!NODE_KEYS.has(key)) throw bad(`unknown key '${key}'`, index);
    const str = (key: string): string | undefined => {
      const v = entry[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string' && typeof v !== 'number') throw bad(`'${key}' must be a string`, index);
      return String(v);
    };
    const ways = ['host', 'ssh', 'docker', 'local'].filter((k) => raw && (raw as Record<string, unknown>)[k] !== undefined && (raw as Record<string, unknown>)[k] !== false);
    if (ways.length !== 1) throw bad(ways.length === 0 ? 'say how to reach it: host:, ssh:, docker: or local: true' : `choose one of ${ways.join(', ')}`, index);
    const settings: NodeSettings = {};
    const containerd = containerdSettings(entry['containerd'], (what) => bad(what, index), defaults.containerd);
    if (containerd) settings.containerd = containerd;
    const installDir = str('installDir') ?? defaults.installDir;
    if (installDir) settings.installDir = installDir;
    const stateDir = str('stateDir') ?? defaults.stateDir;
    if (stateDir) settings.stateDir = stateDir;
    let target: NodeTarget;
    if (ways[0] === 'docker') {
      const container = str('docker')!;
      target = { kind: 'docker', name: str('name') ?? container, container, ...settings };
    } else if (ways[0] === 'local') {
      const root = str('root');
      target = { kind: 'local', name: str('name') ?? 'local', ...(root ? { root } : {}), ...settings };
    } else {
      const sshDefaults: Partial<SshTarget> = { ...defaults };
      delete (sshDefaults as NodeSettings).containerd;
      delete (sshDefaults as NodeSettings).installDir;
      delete (sshDefaults as NodeSettings).stateDir;
      const user = str('user');
      if (user) sshDefaults.user = user;
      const port = str('port');
      if (port) sshDefaults.port = Number(port);
      const identity = str('identity');
      if (identity) sshDefaults.identityFile = expandHome(identity);
      const knownHosts = str('knownHosts');
      if (knownHosts) sshDefaults.knownHostsFile = expandHome(knownHosts);
      if (entry['acceptNewHostKey'] !== undefined) sshDefaults.acceptNewHostKey = entry['acceptNewHostKey'] === true;
      let ssh: SshTarget;
      try {
        ssh = ways[0] === 'ssh' ? parseSshSpec(str('ssh')!, sshDefaults) : parseSshSpec(str('host')!, sshDefaults);
      } catch (err) {
        throw bad((err as Error).message.split('\n')[0]!, index);
      }
      target = { kind: 'ssh', name: str('name') ?? sshTargetName(ssh), ssh, ...settings };
    }
    if (names.has(target.name)) throw bad(`two nodes are named '${target.name}'`, index);
    names.add(target.name);
    return target;
  });
}

/** The containerd settings a user may give, by their inventory names (flags use the same, as --config, --containerd-address, …). */
export interface ContainerdSettings {
  config?: string | undefined;
  address?: string | undefined;
  binary?: string | undefined;
  restartCommand?: string | undefined;
  flavour?: string | undefined;
}

/**
 * The one parser of containerd overrides, for flags and inventory files alike:
 * `label` names a key the way the user wrote it (--flavour, containerd.flavour).
 */
export function containerdOverrides(settings: ContainerdSettings, label: (key: string) => string, bad: (what: string) => Error): SetupOverrides {
  const out: SetupOverrides = {};
  for (const [key, v] of Object.entries(settings)) {
    if (v === undefined) continue;
    if (!CONTAINERD_KEYS.has(key)) throw bad(`unknown ${label('')}key '${key}' (known: ${[...CONTAINERD_KEYS].join(', ')})`);
    if (typeof v !== 'string') throw bad(`${label(key)} must be a string`);
    if (key === 'config') out.configPath = v;
    else if (key === 'address') out.address = v;
    else if (key === 'binary') out.binary = v;
    else if (key === 'restartCommand') out.restart = { kind: 'command', argv: ['sh', '-c', v] };
    else if (key === 'flavour') {
      if (!isFlavour(v)) throw bad(`unknown ${label(key)} '${v}' (choose one of ${FLAVOURS.join(', ')})`);
      out.flavour = v;
    }
  }
  return out;
}

function containerdSettings(value: unknown, bad: (what: string) => KubewasmError, base: SetupOverrides = {}): SetupOverrides | undefined {
  if (value === undefined || value === null) return Object.keys(base).length ? base : undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw bad('"containerd" must be a mapping');
  return { ...base, ...containerdOverrides(value as ContainerdSettings, (key) => (key ? `containerd.${key}` : 'containerd '), bad) };
}

/** The converge options of one node: the command line's, with the node's own settings over them. */
export function targetOptions<O extends NodeSettings>(base: O, target: NodeTarget): O {
  return { ...base, containerd: { ...base.containerd, ...target.containerd }, ...(target.stateDir ? { stateDir: target.stateDir } : {}) };
}

/** Parses an inventory file's text: JSON, else YAML. */
export async function parseInventoryText(text: string, file: string): Promise<unknown> {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch {
      // YAML flow style also starts with { or [: fall through
    }
  }
  try {
    // js-yaml (not the Kubernetes client, which costs a second to load), only for inventories.
    const { load } = await import('js-yaml');
    return load(text);
  } catch (err) {
    throw new KubewasmError({ what: `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, where: file, fix: 'fix the inventory file', exitCode: 2 });
  }
}

/** Opens the transport of a target (each transport's module is loaded only when a target needs it). */
export async function openTarget(target: NodeTarget, docker?: DockerApi): Promise<NodeHost> {
  switch (target.kind) {
    case 'ssh': {
      const { SshHost } = await import('../host/ssh.js');
      return SshHost.connect({ ...target.ssh, name: target.name });
    }
    case 'docker': {
      const [{ DockerHost }, { DockerApi }] = await Promise.all([import('../host/docker.js'), import('../host/docker-api.js')]);
      return new DockerHost(docker ?? new DockerApi(), { id: target.container, name: target.name });
    }
    case 'local': {
      const { LocalHost } = await import('../host/local.js');
      return new LocalHost({ name: target.name, ...(target.root ? { root: target.root, nsenter: true } : {}) });
    }
  }
}

/** How the user chose nodes: this machine, SSH addresses, a kind/k3d cluster's containers, an inventory. */
export interface TargetSelection {
  local?: { root?: string | undefined };
  ssh?: readonly string[];
  /** Settings for every SSH node (the inventory's own settings win). */
  sshDefaults?: Partial<SshTarget>;
  docker?: { cluster?: string | undefined };
  inventory?: string | undefined;
}

export const expandHome = (p: string, home = homedir()): string => (p === '~' || p.startsWith('~/') ? `${home}${p.slice(1)}` : p);

/** The targets a selection names, each once (reads the inventory, asks Docker for the cluster's nodes). */
export async function findTargets(sel: TargetSelection): Promise<NodeTarget[]> {
  if (sel.local) return [{ kind: 'local', name: 'local', ...(sel.local.root ? { root: sel.local.root } : {}) }];
  const defaults = sel.sshDefaults ?? {};
  const targets: NodeTarget[] = (sel.ssh ?? []).map((spec) => {
    const ssh = parseSshSpec(spec, defaults);
    return { kind: 'ssh', name: sshTargetName(ssh), ssh };
  });
  if (sel.docker) {
    const [{ findClusterNodes }, { DockerApi }] = await Promise.all([import('../host/docker.js'), import('../host/docker-api.js')]);
    for (const node of await findClusterNodes(new DockerApi(), sel.docker.cluster)) targets.push({ kind: 'docker', name: node.name, container: node.id });
  }
  if (sel.inventory) {
    const { readFile } = await import('node:fs/promises');
    const file = sel.inventory;
    const text = await readFile(file, 'utf8').catch((err: Error) => {
      throw new UsageError(`cannot read the inventory: ${err.message}`);
    });
    targets.push(...inventoryTargets(await parseInventoryText(text, file), file, defaults, (p) => expandHome(p)));
  }
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) throw new UsageError(`the node ${t.name} is named twice`);
    seen.add(t.name);
  }
  return targets;
}
