// Options shared by `kubewasm node install` and `kubewasm node uninstall`:
// which nodes (this machine, SSH, docker node containers, an inventory), how
// to find their containerd, and how the results are shown (a listr2 tree with
// one line per node on a terminal, plain lines otherwise, -o json).
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { ParseArgsOptionsConfig } from 'node:util';
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import type { SetupOverrides } from '../lib/containerd/facts.js';
import type { Flavour } from '../lib/containerd/setup.js';
import { UsageError } from '../lib/errors.js';
import type { ConvergeOptions, ConvergeResult } from '../lib/node/converge.js';
import { runFleet, type FleetOutcome, type NodeAction } from '../lib/node/fleet.js';
import type { NodeHost } from '../lib/host/host.js';
import { describePlan } from '../lib/node/plan.js';
import { INVENTORY_HELP, inventoryTargets, openTarget, parseInventoryText, parseSshSpec, sshTargetName, type NodeTarget } from '../lib/node/targets.js';
import { DockerApi } from '../lib/host/docker-api.js';
import { findClusterNodes } from '../lib/host/docker.js';
import { LocalHost } from '../lib/host/local.js';
import type { SshTarget } from '../lib/host/ssh.js';
import { listOption, stringOption, type CommandContext, type OptionValues } from './command.js';

export const NODE_TARGET_OPTIONS: ParseArgsOptionsConfig = {
  local: { type: 'boolean' },
  root: { type: 'string' },
  ssh: { type: 'string', multiple: true },
  identity: { type: 'string' },
  'known-hosts': { type: 'string' },
  'accept-new-host-key': { type: 'boolean' },
  port: { type: 'string' },
  via: { type: 'string' },
  cluster: { type: 'string' },
  inventory: { type: 'string' },
  'max-unavailable': { type: 'string' },
  parallel: { type: 'string' },
  'dry-run': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  config: { type: 'string' },
  'containerd-address': { type: 'string' },
  'containerd-binary': { type: 'string' },
  'restart-command': { type: 'string' },
  flavour: { type: 'string' },
  'state-dir': { type: 'string' },
  'cri-timeout': { type: 'string' },
};

export const NODE_TARGET_HELP = `Which nodes (one of --local, or any of --ssh, --via docker, --inventory):
  --local                   this machine
  --root DIR                with --local: the node's / is mounted at DIR (the installer pod); programs run via nsenter -t 1
  --ssh USER@HOST[:PORT]    nodes over SSH; repeatable or comma-separated. Commands run through sudo -n when USER is not root
  --identity FILE           SSH private key (default: ssh-agent via SSH_AUTH_SOCK, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)
  --known-hosts FILE        host keys to check (default ~/.ssh/known_hosts); an unknown or changed key is refused
  --accept-new-host-key     record the key of a host not yet in known_hosts (a changed key is still refused)
  --port N                  SSH port when HOST has none (default 22)
  --via docker              the node containers of a kind or k3d cluster, through the Docker API (DOCKER_HOST honoured)
  --cluster NAME            with --via docker: which cluster (default: the only one running)
  --inventory FILE          nodes listed in a file (format below)
  --max-unavailable K       at most K nodes restart containerd at once (default 1); the rest of the work overlaps
  --parallel N              at most N nodes worked on at once (default max(4, 2K+2): enough to keep the restart
                            slots busy without every node competing for this machine's CPU and link)

containerd (detected; override when it runs somewhere unusual):
  --config PATH             the config file to edit (default by distribution: /etc/containerd/config.toml,
                            k3s/rke2 config(-v3).toml.tmpl, microk8s containerd-template.toml, k0s containerd.d/)
  --containerd-address SOCK containerd's socket (default /run/containerd/containerd.sock)
  --containerd-binary PATH  containerd binary, to read its version (default: containerd on PATH)
  --restart-command CMD     how to restart containerd (default: systemctl restart containerd, or the distribution's way)
  --flavour NAME            containerd, k3s, rke2, microk8s or k0s (default: detected)
  --state-dir DIR           where kubewasm keeps its record on the node (default /var/lib/kubewasm)
  --cri-timeout SECONDS     how long to wait for containerd's CRI after a restart before rolling back (default 60)

Output:
  --dry-run                 print the plan; change nothing
  -o, --output json         machine-readable: --local prints one result object; the other targets print an
                            array with one object per node, in the order given: a result
                            {"node", "ok": true, "applied", "recovered", "config", "uploads", "removals",
                            "keptModified", "restart", "timings"} or a failure {"node", "ok": false,
                            "error": {"what", "where", "fix"}}

Safety: each node is locked while kubewasm changes it; what a run is about to do is journaled on the node
first, and a run that fails or is interrupted (Ctrl-C, a lost connection, kill -9) leaves the node as it
was or fully converged: the next run completes or undoes what the journal says before anything else.
Exit codes: 0 every node ok, 1 any node failed (a summary says which), 2 bad usage, 130 interrupted.

${INVENTORY_HELP}`;

const FLAVOURS: Flavour[] = ['containerd', 'k3s', 'rke2', 'microk8s', 'k0s'];

/** --local: this machine (or the host mounted at --root). */
export function isLocal(options: OptionValues): boolean {
  const fleet = ['ssh', 'via', 'inventory'].filter((k) => options[k] !== undefined);
  if (options['local'] && fleet.length) throw new UsageError(`--local and --${fleet[0]} name different nodes`, 'choose --local, or any of --ssh, --via docker, --inventory');
  if (!options['local'] && !fleet.length) throw new UsageError('say which nodes: --local, --ssh USER@HOST…, --via docker or --inventory FILE');
  if (options['root'] !== undefined && !options['local']) throw new UsageError('--root goes with --local');
  for (const flag of ['identity', 'known-hosts', 'accept-new-host-key', 'port']) {
    if (options[flag] !== undefined && !options['ssh'] && !options['inventory']) throw new UsageError(`--${flag} goes with --ssh or --inventory`);
  }
  if (options['cluster'] !== undefined && options['via'] === undefined) throw new UsageError('--cluster goes with --via docker');
  if (options['via'] !== undefined && options['via'] !== 'docker') throw new UsageError(`unknown --via '${String(options['via'])}'`, 'the only one is --via docker');
  return Boolean(options['local']);
}

export function nodeHostFromOptions(options: OptionValues): NodeHost {
  if (!isLocal(options)) throw new UsageError('this command works on --local only');
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
  const criTimeout = stringOption(options, 'cri-timeout');
  return {
    containerd,
    ...(stateDir ? { stateDir } : {}),
    ...(criTimeout ? { criTimeoutMs: positiveInt(criTimeout, '--cri-timeout') * 1000 } : {}),
    ...(options['dry-run'] ? { dryRun: true } : {}),
    ...(onStep ? { onStep } : {}),
  };
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number, got '${value}'`);
  return n;
}

const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? `${homedir()}${p.slice(1)}` : p);

/** The nodes of a fleet run, from --ssh, --via docker and --inventory. */
export async function fleetTargets(options: OptionValues): Promise<{ targets: NodeTarget[]; docker?: DockerApi }> {
  const identity = stringOption(options, 'identity');
  const knownHosts = stringOption(options, 'known-hosts');
  const port = stringOption(options, 'port');
  const sshDefaults: Partial<SshTarget> = {
    ...(identity ? { identityFile: expandHome(identity) } : {}),
    ...(knownHosts ? { knownHostsFile: expandHome(knownHosts) } : {}),
    ...(options['accept-new-host-key'] ? { acceptNewHostKey: true } : {}),
    ...(port ? { port: positiveInt(port, '--port') } : {}),
  };
  const targets: NodeTarget[] = listOption(options, 'ssh').map((spec) => {
    const ssh = parseSshSpec(spec, sshDefaults);
    return { kind: 'ssh', name: sshTargetName(ssh), ssh };
  });
  let docker: DockerApi | undefined;
  if (options['via'] === 'docker') {
    docker = new DockerApi();
    const cluster = stringOption(options, 'cluster');
    for (const node of await findClusterNodes(docker, cluster)) targets.push({ kind: 'docker', name: node.name, container: node.id });
  }
  const inventory = stringOption(options, 'inventory');
  if (inventory) {
    const text = await readFile(inventory, 'utf8').catch((err: Error) => {
      throw new UsageError(`cannot read the inventory: ${err.message}`);
    });
    targets.push(...inventoryTargets(await parseInventoryText(text, inventory), inventory, sshDefaults, expandHome));
  }
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) throw new UsageError(`the node ${t.name} is named twice`);
    seen.add(t.name);
  }
  return { targets, ...(docker ? { docker } : {}) };
}

/** The converge options of one node: the command line's, with the node's own settings over them. */
export function nodeOptions(base: ConvergeOptions, target: NodeTarget): ConvergeOptions {
  return {
    ...base,
    containerd: { ...base.containerd, ...target.containerd },
    ...(target.stateDir ? { stateDir: target.stateDir } : {}),
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
  for (const line of resultLines(result)) ctx.stdout.write(`${result.plan.node}: ${line}\n`);
}

function resultLines(result: ConvergeResult): string[] {
  const verb = result.applied ? 'done' : result.plan.config.changed || result.plan.uploads.length || result.plan.removals.length ? 'plan' : 'ok';
  const mark = verb === 'done' ? '✓' : verb === 'plan' ? '-' : '=';
  return [
    ...(result.recovery ? [`! an interrupted earlier run was ${result.recovery === 'completed' ? 'completed' : 'undone'} first`] : []),
    ...(result.pendingRecovery ? [`! ${result.pendingRecovery}`] : []),
    ...describePlan(result.plan).map((line) => `${mark} ${line}`),
  ];
}

/** The documented `-o json` shape of a node result (see NODE_TARGET_HELP). */
export function nodeResultJson(result: ConvergeResult) {
  const { plan } = result;
  return {
    node: plan.node,
    applied: result.applied,
    recovered: result.recovered,
    ...(result.recovery ? { recovery: result.recovery } : {}),
    config: { path: plan.config.path, version: plan.config.configVersion, changed: plan.config.changed, registered: plan.config.registered, adopted: plan.config.adopted, dropped: plan.config.dropped },
    uploads: plan.uploads.map((u) => ({ shim: u.shim, path: u.to, sha256: u.sha256 })),
    removals: plan.removals.map((r) => r.path),
    keptModified: plan.keptModified,
    restart: plan.restart,
    timings: result.timings,
  };
}

export function outcomeJson(outcome: FleetOutcome) {
  if (outcome.ok) return { ...nodeResultJson(outcome.result), node: outcome.node, ok: true };
  const { what, where, fix } = outcome.error;
  return { node: outcome.node, ok: false, error: { what, ...(where ? { where } : {}), ...(fix ? { fix } : {}) } };
}

// ---------------------------------------------------------------------------
// Running a fleet with progress

export interface FleetRun {
  /** Work on one node (its host is connected); throws to fail that node. */
  action: (host: NodeHost, target: NodeTarget, options: ConvergeOptions) => Promise<ConvergeResult>;
  /** Before the nodes are worked on, with every node that connected (e.g. fetch shims once per architecture). */
  prepare?: (connected: Array<{ target: NodeTarget; host: NodeHost }>) => Promise<Map<string, Error>>;
}

/** Runs a fleet command end to end: connect, prepare, converge with progress, print, summarize. Returns the exit code. */
export async function runFleetCommand(ctx: CommandContext, run: FleetRun): Promise<number> {
  const format = outputFormat(ctx.options);
  const base = convergeOptionsFromFlags(ctx.options);
  const maxUnavailable = positiveInt(stringOption(ctx.options, 'max-unavailable') ?? '1', '--max-unavailable');
  const parallelFlag = stringOption(ctx.options, 'parallel');
  const parallel = parallelFlag ? positiveInt(parallelFlag, '--parallel') : undefined;
  const { targets, docker } = await fleetTargets(ctx.options);
  const tty = format === 'text' && Boolean(ctx.stderr.isTTY) && !process.env['CI'];
  const plain = (node: string, message: string) => {
    if (format === 'text' && !tty) ctx.stderr.write(`${node}: ${message}\n`);
  };

  // Ctrl-C: nodes stop at their next safe point and undo; a node restarting containerd finishes that step.
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) {
      ctx.stderr.write('\ninterrupted again: quitting now; the next run completes or undoes what each node journaled\n');
      process.exit(130);
    }
    ctx.stderr.write('\ninterrupting: each node undoes what it started, or finishes its containerd restart (Ctrl-C again to quit at once)\n');
    abort.abort(new Error('SIGINT'));
  };
  process.on('SIGINT', onSigint);
  try {
    // Connect to every node at once; a node that cannot be reached fails alone.
    const connected = await Promise.all(
      targets.map(async (target) => {
        plain(target.name, 'connect');
        try {
          return { target, host: await openTarget(target, docker) };
        } catch (err) {
          return { target, error: err as Error };
        }
      }),
    );
    const failedEarly = new Map<string, Error>();
    for (const c of connected) if ('error' in c && c.error) failedEarly.set(c.target.name, c.error);
    const ready = connected.filter((c): c is { target: NodeTarget; host: NodeHost } => 'host' in c && c.host !== undefined);
    if (run.prepare && ready.length) for (const [name, err] of await run.prepare(ready)) failedEarly.set(name, err);

    const hosts = new Map(ready.map((c) => [c.target.name, c.host]));
    const byName = new Map(targets.map((t) => [t.name, t]));
    const nodes = targets.map((target) => ({
      name: target.name,
      connect: async () => {
        const early = failedEarly.get(target.name);
        if (early) throw early;
        return hosts.get(target.name)!;
      },
    }));
    const action: NodeAction = (host, fleetOptions) => {
      const target = byName.get(host.name) ?? targets.find((t) => hosts.get(t.name) === host)!;
      return run.action(host, target, { ...nodeOptions(base, target), ...fleetOptions });
    };

    const outcomes = tty
      ? await withListr(ctx, nodes.map((n) => n.name), (onStep, onDone) => runFleet(nodes, action, { maxUnavailable, ...(parallel ? { parallel } : {}), onStep, onDone, signal: abort.signal }))
      : await runFleet(nodes, action, { maxUnavailable, ...(parallel ? { parallel } : {}), onStep: plain, signal: abort.signal });
    for (const host of hosts.values()) await host.close().catch(() => {});

    if (format === 'json') ctx.stdout.write(`${JSON.stringify(outcomes.map(outcomeJson), null, 2)}\n`);
    else {
      for (const outcome of outcomes) {
        if (outcome.ok) for (const line of resultLines(outcome.result)) ctx.stdout.write(`${outcome.node}: ${line}\n`);
        else ctx.stdout.write(`${outcome.node}: ✗ ${outcome.error.message.replace(/\n/g, `\n${outcome.node}:   `)}\n`);
      }
    }
    const failed = outcomes.filter((o) => !o.ok);
    const changed = outcomes.filter((o) => o.ok && o.result.applied).length;
    const summary = `${outcomes.length} node${outcomes.length === 1 ? '' : 's'}: ${outcomes.length - failed.length} ok (${changed} changed)${failed.length ? `, ${failed.length} failed: ${failed.map((f) => f.node).join(', ')}` : ''}`;
    ctx.stderr.write(`${summary}\n`);
    if (abort.signal.aborted) return 130;
    if (failed.length && failed.every((f) => !f.ok && f.error.exitCode === 2)) return 2;
    return failed.length ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** A listr2 tree with one line per node, fed by the fleet's events. */
async function withListr(
  ctx: CommandContext,
  names: string[],
  start: (onStep: (node: string, message: string) => void, onDone: (o: FleetOutcome) => void) => Promise<FleetOutcome[]>,
): Promise<FleetOutcome[]> {
  const stream = ctx.stderr as NodeJS.WriteStream;
  const tasks = new Map<string, { output: string; title: string }>();
  const pendingOutput = new Map<string, string>();
  const done = new Map<string, (o: FleetOutcome) => void>();
  const finished = new Map(names.map((n) => [n, new Promise<FleetOutcome>((resolve) => done.set(n, resolve))]));
  const onStep = (node: string, message: string) => {
    const task = tasks.get(node);
    if (task) task.output = message;
    else pendingOutput.set(node, message);
  };
  const outcomes = start(onStep, (o) => done.get(o.node)?.(o));
  const list = new Listr(
    names.map((name) => ({
      title: name,
      task: async (_ctx: unknown, task: { output: string; title: string }) => {
        tasks.set(name, task);
        const pending = pendingOutput.get(name);
        if (pending) task.output = pending;
        const outcome = await finished.get(name)!;
        if (!outcome.ok) throw new Error(`${name}: ${outcome.error.what}`);
        const r = outcome.result;
        task.title = `${name}: ${r.applied ? `${describeChange(r)} in ${(r.timings.totalMs / 1000).toFixed(1)}s` : 'already converged'}`;
      },
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }), collapseErrors: false } },
  );
  await list.run().catch(() => {});
  return outcomes;
}

function describeChange(r: ConvergeResult): string {
  const parts = [
    r.plan.uploads.length ? `installed ${r.plan.uploads.map((u) => u.shim).join(', ')}` : '',
    r.plan.config.registered.length && r.plan.config.changed ? `registered ${r.plan.config.registered.join(', ')}` : '',
    r.plan.config.dropped.length ? `unregistered ${r.plan.config.dropped.join(', ')}` : '',
    r.plan.removals.length ? `removed ${r.plan.removals.length} file(s)` : '',
    r.plan.restart ? 'restarted containerd' : '',
  ].filter(Boolean);
  return parts.join(', ') || 'converged';
}
