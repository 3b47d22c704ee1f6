import path from 'node:path';
import type { BootstrapEvent } from '../../lib/kube/cluster.js';
import { plainShimProgress } from '../../lib/shims/shim-lines.js';
import type { Command, CommandContext } from '../command.js';
import * as flags from '../flags.js';
import { INSTALL_SHIM_ARCHS } from './install.js';
import { mark, verifyLine } from '../progress.js';

const CREATE_FLAGS: flags.Flags = {
  config: { arg: 'FILE', help: "the provider's config (default for kind: ./kind-config.yaml when there is one)" },
  image: { arg: 'REF', help: "node image (kind --image; default: the kind CLI's own kindest/node)" },
  ...flags.SHIMS_FLAG,
  wait: { arg: 'DURATION', help: 'for the control plane, then for the nodes to converge (default 5m)' },
  'logs-dir': { arg: 'DIR', help: 'where logs go on failure (default ./kubewasm-logs/<name>-<time>)' },
  output: { arg: 'FORMAT', short: 'o', help: 'text (default: timestamped lines on stderr) or json (a summary on stdout:\ncluster, nodes, shims with versions and sha256, verify results, timings)' },
};

export const clusterCreate: Command = {
  path: ['cluster', 'create'],
  summary: 'Create a kind (or k3d) cluster, make it Wasm-capable and verify it (CI bootstrap)',
  usage: 'kubewasm cluster create [--provider kind|k3d|lab] [--name N] [--config FILE] [--image REF] [--shims LIST] [--wait DURATION] [-o json]',
  options: flags.parseConfig(flags.CLUSTER_FLAGS, CREATE_FLAGS, flags.SHIM_FLAGS),
  help: `Runs the provider's own CLI (kind create cluster; k3d cluster create), then kubewasm install on the
nodes that take pods (not the control plane) and kubewasm verify (a Wasm pod's log read back). Images
reach the nodes with kind load image-archive (k3d image import): no registry.
On failure: the cluster's logs (kind export logs, the node installer pods' logs, each node's containerd
journal) go into a folder the error names, the cluster is deleted, and the exit code is 1.

${flags.helpOf('', { ...flags.CLUSTER_FLAGS, ...CREATE_FLAGS })}

${flags.shimHelp()}

Exit codes: 0 verified, 1 failed (logs collected), 2 bad usage, 130 interrupted.`,
  async run(ctx) {
    const { options } = ctx;
    const format = flags.outputOption(options, ['text', 'json']);
    const [{ clusterSpec }, { createCluster }] = await Promise.all([import('../../lib/kube/cluster-plan.js'), import('../../lib/kube/cluster.js')]);
    const spec = clusterSpec(options);
    const shims = flags.shims(options);
    const say = stampedLines(ctx);
    say(`creating ${spec.provider} cluster '${spec.name}'${spec.image ? ` from ${spec.image}` : ''}${spec.config ? ` with ${spec.config}` : ''}`);
    const summary = await createCluster(spec, {
      install: { shims, supply: await flags.shimSupply(options, shims, INSTALL_SHIM_ARCHS, process.env, true), ...(await flags.imageDelivery(options)) },
      logsDir: flags.string(options, 'logs-dir') ?? path.resolve('kubewasm-logs', `${spec.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`),
      onEvent: eventLines(say, Boolean(options['verbose'])),
    });
    if (format === 'json') ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else say(`✓ ${spec.provider} cluster '${spec.name}' is Wasm-capable: kubectl --context ${summary.cluster.context} (${(summary.timings.totalMs / 1000).toFixed(1)}s)`);
    return 0;
  },
};

/** CI output: one line per event, timestamped off a terminal or under CI. */
function stampedLines(ctx: CommandContext): (text: string) => void {
  const stamp = !ctx.stderr.isTTY || Boolean(process.env['CI']);
  return (text) => void ctx.stderr.write(`${stamp ? `${new Date().toISOString().slice(11, 19)} ` : ''}${text}\n`);
}

function eventLines(say: (text: string) => void, verbose: boolean): (e: BootstrapEvent) => void {
  const shim = plainShimProgress((l) => say(`  ${l}`), verbose);
  const lastNode = new Map<string, string>();
  return (e) => {
    if (e.type === 'step') say(`→ ${e.what}`);
    else if (e.type === 'done') say(`✓ ${e.what} (${(e.ms / 1000).toFixed(1)}s)`);
    else if (e.type === 'output') say(`  ${e.line}`);
    else if (e.type === 'verify') say(verifyLine(e.result).trimEnd());
    else if (e.type === 'install') {
      const i = e.event;
      if (i.type === 'info') say(`  ${i.text}`);
      else if (i.type === 'shim') shim(i.event);
      else if (i.type === 'waiting') say(`  waiting for ${i.nodes.join(', ')}`);
      else if (i.type === 'node' && lastNode.get(i.node) !== i.progress.message) {
        lastNode.set(i.node, i.progress.message);
        say(`  ${i.node}: ${mark(i.progress.state)}${i.progress.message}`);
      } else if (i.type === 'verify') say(verifyLine(i.result).trimEnd());
    }
  };
}
