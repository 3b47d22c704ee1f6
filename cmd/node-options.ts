// Options shared by `kubewasm node install` and `kubewasm node uninstall`.
import type { ParseArgsOptionsConfig } from 'node:util';
import type { SetupOverrides } from '../lib/containerd/facts.js';
import type { Flavour } from '../lib/containerd/setup.js';
import { UsageError } from '../lib/errors.js';
import type { NodeHost } from '../lib/node/host.js';
import { LocalHost } from '../lib/node/transports/local.js';
import type { ConvergeOptions, ConvergeResult } from '../lib/node/converge.js';
import { describePlan } from '../lib/node/plan.js';
import { stringOption, type CommandContext, type OptionValues } from './command.js';

export const NODE_TARGET_OPTIONS: ParseArgsOptionsConfig = {
  local: { type: 'boolean' },
  root: { type: 'string' },
  'dry-run': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  config: { type: 'string' },
  'containerd-address': { type: 'string' },
  'containerd-binary': { type: 'string' },
  'restart-command': { type: 'string' },
  flavour: { type: 'string' },
  'state-dir': { type: 'string' },
};

export const NODE_TARGET_HELP = `Where:
  --local                   this machine
  --root DIR                the node's / is mounted at DIR (the installer pod); programs run via nsenter -t 1

containerd (detected; override when it runs somewhere unusual):
  --config PATH             the config file to edit (default by distribution: /etc/containerd/config.toml,
                            k3s/rke2 config(-v3).toml.tmpl, microk8s containerd-template.toml, k0s containerd.d/)
  --containerd-address SOCK containerd's socket (default /run/containerd/containerd.sock)
  --containerd-binary PATH  containerd binary, to read its version (default: containerd on PATH)
  --restart-command CMD     how to restart containerd (default: systemctl restart containerd, or the distribution's way)
  --flavour NAME            containerd, k3s, rke2, microk8s or k0s (default: detected)
  --state-dir DIR           where kubewasm keeps its record on the node (default /var/lib/kubewasm)

Output:
  --dry-run                 print the plan; change nothing
  -o, --output json         machine-readable result`;

const FLAVOURS: Flavour[] = ['containerd', 'k3s', 'rke2', 'microk8s', 'k0s'];

export function nodeHostFromOptions(options: OptionValues): NodeHost {
  if (!options['local']) throw new UsageError('say which node: --local is the only target in this version');
  const root = stringOption(options, 'root');
  return new LocalHost(root ? { root, nsenter: true } : {});
}

export function convergeOptionsFromFlags(options: OptionValues, onStep?: (message: string) => void): ConvergeOptions {
  const containerd: SetupOverrides = {};
  const config = stringOption(options, 'config');
  if (config) containerd.configPath = config;
  const address = stringOption(options, 'containerd-address');
  if (address) containerd.address = address;
  const binary = stringOption(options, 'containerd-binary');
  if (binary) containerd.binary = binary;
  const restart = stringOption(options, 'restart-command');
  if (restart) containerd.restart = { kind: 'command', argv: ['sh', '-c', restart] };
  const flavour = stringOption(options, 'flavour');
  if (flavour) {
    if (!FLAVOURS.includes(flavour as Flavour)) throw new UsageError(`unknown --flavour '${flavour}'`, `choose one of: ${FLAVOURS.join(', ')}`);
    containerd.flavour = flavour as Flavour;
  }
  const stateDir = stringOption(options, 'state-dir');
  return {
    containerd,
    ...(stateDir ? { stateDir } : {}),
    ...(options['dry-run'] ? { dryRun: true } : {}),
    ...(onStep ? { onStep } : {}),
  };
}

export function outputFormat(options: OptionValues): 'text' | 'json' {
  const output = stringOption(options, 'output') ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`unknown output format '${output}'`, 'use -o json, or leave -o out');
  return output;
}

/** Prints one node's result: the plan's lines, or the stable JSON form. */
export function printNodeResult(ctx: CommandContext, result: ConvergeResult, format: 'text' | 'json'): void {
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify(nodeResultJson(result), null, 2)}\n`);
    return;
  }
  const verb = result.applied ? 'done' : result.plan.config.changed || result.plan.uploads.length || result.plan.removals.length ? 'plan' : 'ok';
  for (const line of describePlan(result.plan)) ctx.stdout.write(`${result.plan.node}: ${verb === 'done' ? '✓' : verb === 'plan' ? '-' : '='} ${line}\n`);
}

/** The documented `-o json` shape of a node result (README: "JSON output"). */
export function nodeResultJson(result: ConvergeResult) {
  const { plan } = result;
  return {
    node: plan.node,
    applied: result.applied,
    recovered: result.recovered,
    config: { path: plan.config.path, version: plan.config.configVersion, changed: plan.config.changed, registered: plan.config.registered, adopted: plan.config.adopted, dropped: plan.config.dropped },
    uploads: plan.uploads.map((u) => ({ shim: u.shim, path: u.to, sha256: u.sha256 })),
    removals: plan.removals.map((r) => r.path),
    keptModified: plan.keptModified,
    restart: plan.restart,
  };
}
