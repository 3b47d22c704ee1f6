// Gathers what the config engine needs to know about a node's containerd,
// through a NodeHost. Only reads; never changes the node.
import { KubewasmError } from '../errors.js';
import type { NodeHost } from '../host/host.js';
import type { ConfigFacts } from './config-plan.js';
import { presetFor, PRESETS, type Flavour } from './presets.js';
import { setupFor, type ContainerdSetup } from './setup.js';
import { parseContainerdVersion, type ContainerdVersion } from './version.js';

/** Anything the user (or a test) sets explicitly wins over detection. */
export type SetupOverrides = Partial<ContainerdSetup>;

export interface ContainerdFacts {
  setup: ContainerdSetup;
  version: ContainerdVersion;
  config: ConfigFacts;
}

export async function readContainerdFacts(host: NodeHost, overrides: SetupOverrides = {}): Promise<ContainerdFacts> {
  const flavour = overrides.flavour ?? (await detectFlavour(host));
  const preset = presetFor(flavour);
  const guess = setupFor(flavour, { systemd: true, openrc: false, units: [], containerdMajor: 1 });
  // The running daemon knows its version best: a node may have several
  // containerd binaries (a distribution's and one its service really runs).
  const running = overrides.binary ? undefined : await runningVersion(host, overrides.address ?? guess.address);
  const version = running ?? (await readVersion(host, overrides.binary ?? guess.binary));
  const units = preset.restart.kind === 'systemd' ? preset.restart.units : [];
  const [systemd, openrc, ...unitFiles] = await Promise.all([
    host.stat('/run/systemd/system'),
    host.stat('/etc/init.d/containerd'),
    ...units.map(async (u) => ((await host.stat(`/etc/systemd/system/${u}.service`)) ?? (await host.stat(`/lib/systemd/system/${u}.service`))) !== undefined),
  ]);
  const detected = setupFor(flavour, { systemd: systemd !== undefined, openrc: openrc !== undefined, units: units.filter((_, i) => unitFiles[i]), containerdMajor: version.major });
  const setup: ContainerdSetup = { ...detected, ...definedOnly(overrides) };

  const [content, rendered, copied] = await Promise.all([
    readConfig(host, setup.configPath),
    setup.renderedConfigPath ? readConfig(host, setup.renderedConfigPath) : Promise.resolve(undefined),
    setup.copiedConfigPath ? readConfig(host, setup.copiedConfigPath) : Promise.resolve(undefined),
  ]);
  const config: ConfigFacts = {
    path: setup.configPath,
    kind: setup.configKind,
    content,
    containerd: version,
    ...(rendered ? { rendered: rendered.toString('utf8') } : {}),
    ...(setup.copiedConfigPath ? { copiedTo: { path: setup.copiedConfigPath, content: copied } } : {}),
    ...(setup.registersShimsOnPath ? { autoRegistersShims: true } : {}),
  };
  return { setup, version, config };
}

async function detectFlavour(host: NodeHost): Promise<Flavour> {
  for (const preset of PRESETS) {
    if (!preset.detectedBy || (await host.stat(preset.detectedBy))) return preset.flavour;
  }
  return 'containerd';
}

/** `ctr version`'s Server part, or undefined when no containerd answers on the socket. */
async function runningVersion(host: NodeHost, address: string): Promise<ContainerdVersion | undefined> {
  if (!(await host.stat(address))) return undefined; // ctr would wait for its dial timeout
  const result = await host.exec(['ctr', '--address', address, '--connect-timeout', '5s', 'version'], { timeoutMs: 15_000 });
  if (result.code !== 0) return undefined;
  const server = /Server:\s*\n\s*Version:\s*(\S+)/.exec(result.stdout);
  return server ? parseContainerdVersion(`containerd ${server[1]}`) : undefined;
}

async function readVersion(host: NodeHost, binary: string): Promise<ContainerdVersion> {
  const result = await host.exec([binary, '--version'], { timeoutMs: 20_000 });
  if (result.code === 127) {
    throw new KubewasmError({
      what: `containerd is not installed here ('${binary}' not found)`,
      where: host.name,
      fix: 'install containerd on the node first, or point kubewasm at its binary with --containerd-binary',
    });
  }
  if (result.code !== 0) {
    throw new KubewasmError({ what: `'${binary} --version' failed: ${(result.stderr || result.stdout).trim()}`, where: host.name, fix: 'check the containerd binary on the node' });
  }
  return parseContainerdVersion(result.stdout);
}

async function readConfig(host: NodeHost, path: string): Promise<Buffer | undefined> {
  try {
    return await host.readFile(path);
  } catch (err) {
    throw new KubewasmError({ what: `cannot read the containerd config: ${(err as Error).message}`, where: `${host.name}:${path}`, fix: 'run kubewasm as root on the node (or with sudo over SSH)', cause: err });
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
