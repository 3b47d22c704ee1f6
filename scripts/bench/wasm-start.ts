// Wasm start at the runtime, per containerd version (run by ./wasm-start; usage there).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchResult } from '../../lib/kube/verify-bench.ts';
import type { FineSummary, RuntimeSummary } from '../../lib/kube/verify-bench-times.ts';
import { table } from './fleet-stats.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const lab = path.join(repo, 'scripts/lab/lab');
const cli = path.join(repo, 'dist/cmd/kubewasm.js');
const CONTAINERDS = '1.6,2.2,2.4';
const argv = process.argv.slice(2);
const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 10;
const keepLab = argv.includes('--keep-lab');
/** --capture DIR: also keep one Wasm verify pod per node and save `crictl inspect` of their containers there (the unit test's fixtures). */
const capture = argv.includes('--capture') ? argv[argv.indexOf('--capture') + 1] : undefined;
if (!Number.isInteger(runs) || runs < 3 || runs > 100) {
  console.error('usage: scripts/bench/wasm-start [--runs 10 (3 to 100)] [--keep-lab]');
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`[wasm-start ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function labEnv(): Record<string, string> | undefined {
  try {
    const lines = execFileSync(lab, ['env'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n');
    const env = Object.fromEntries(lines.filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    return env['KUBEWASM_LAB_NODES'] ? env : undefined;
  } catch {
    return undefined;
  }
}
const kubewasm = (args: string[], timeoutMs: number) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, env: { ...process.env, CI: '1' }, maxBuffer: 64 << 20 });

let env = labEnv();
const nodesOf = (e: Record<string, string> | undefined) => (e?.['KUBEWASM_LAB_NODES'] ?? '').split(/[ ,]+/).filter(Boolean);
let broughtUp = false;
if (!env || !['1.6', '2.2', '2.4'].every((v) => nodesOf(env).some((n) => n.endsWith(`:${v}`)))) {
  log(`bringing the lab up: scripts/lab/lab up --containerd ${CONTAINERDS}`);
  execFileSync(lab, ['up', '--containerd', CONTAINERDS], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  broughtUp = true;
  env = labEnv();
}
if (!env) throw new Error('scripts/lab/lab env printed no nodes after lab up');
const kubeconfig = env['KUBEWASM_LAB_KUBECONFIG']!;
const nodes = nodesOf(env).map((n) => ({ name: n.split(':')[0]!, containerd: n.split(':')[1] ?? '?' }));
const results: BenchResult[] = [];
try {
  log(`kubewasm install ${nodes.map((n) => n.name).join(' ')}`);
  kubewasm(['install', ...nodes.map((n) => n.name), '--shim-dir', path.dirname(env['KUBEWASM_LAB_SHIM_BINARY']!), '--kubeconfig', kubeconfig, '--timeout', '5m'], 400_000);
  for (const node of nodes) {
    log(`verify --bench --node ${node.name} --runs ${runs} (containerd ${node.containerd})`);
    results.push(JSON.parse(kubewasm(['verify', '--bench', '--node', node.name, '--runs', String(runs), '-o', 'json', '--kubeconfig', kubeconfig], 600_000)) as BenchResult);
    if (capture) captureInspect(node.name, node.containerd);
  }
} finally {
  log('kubewasm uninstall');
  try {
    kubewasm(['uninstall', '--force', '--kubeconfig', kubeconfig, '--timeout', '3m'], 240_000);
  } catch (err) {
    log(`uninstall failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
  if (broughtUp && !keepLab) execFileSync(lab, ['down'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
}

function captureInspect(node: string, containerd: string): void {
  const kubectl = (args: string[]) => execFileSync(env!['KUBEWASM_LAB_KUBECTL']!, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  kubewasm(['verify', '--node', node, '--keep', '--kubeconfig', kubeconfig], 180_000);
  const list = JSON.parse(kubectl(['get', 'pods', '-A', '-l', 'kubewasm.io/verify=true', '--field-selector', `spec.nodeName=${node}`, '-o', 'json'])) as { items: Array<{ metadata: { name: string; namespace: string }; status?: { containerStatuses?: Array<{ containerID?: string }> } }> };
  for (const pod of list.items) {
    const id = pod.status?.containerStatuses?.[0]?.containerID?.replace(/^[a-z]+:\/\//, '');
    if (id) {
      const json = execFileSync('docker', ['exec', `kubewasm-lab-${node}`, 'crictl', 'inspect', '-o', 'json', id], { encoding: 'utf8' });
      writeFileSync(path.join(capture!, `crictl-inspect-wasm-containerd-${containerd}.json`), json);
      log(`captured crictl inspect of ${pod.metadata.name} (${node}) into ${capture}`);
    }
    kubectl(['delete', 'pod', '-n', pod.metadata.namespace, pod.metadata.name, '--grace-period=0', '--wait=false']);
  }
}

const ms = (s: FineSummary | null | undefined) => (s ? `${s.medianMs >= 100 ? s.medianMs.toFixed(0) : s.medianMs.toFixed(2)} (${s.minMs >= 100 ? s.minMs.toFixed(0) : s.minMs.toFixed(2)}–${s.maxMs >= 100 ? s.maxMs.toFixed(0) : s.maxMs.toFixed(2)})` : 'n/a');
const step = (r: RuntimeSummary, key: keyof RuntimeSummary) => ms(r[key]);
console.log(`\nWasm start at the runtime, ${runs} runs per side per node after one warm-up each, Wasm and runc alternating (ms, median (min–max))`);
console.log('pod: create request -> Succeeded seen by a watch (ms clock, but moves only with the kubelet\'s status writes)');
console.log('create -> start, start -> exit, create -> exit: containerd\'s own timestamps through CRI (crictl inspect on the node, via the installer pod; 1 ns resolution);');
console.log('start is stamped when containerd\'s Start call returns, exit when the process exited: a program done within a millisecond can show start -> exit below zero\n');
const rows = results.flatMap((r) => [
  [r.node, r.containerRuntime ?? '?', `wasm (${r.runtimeClass})`, ms({ ...r.wasm }), step(r.runtime.wasm, 'createToStart'), step(r.runtime.wasm, 'startToExit'), step(r.runtime.wasm, 'createToExit'), `${r.runtime.source} (${r.runtime.resolution})`],
  ['', '', 'runc', ms({ ...r.runc }), step(r.runtime.runc, 'createToStart'), step(r.runtime.runc, 'startToExit'), step(r.runtime.runc, 'createToExit'), `${r.runtime.source} (${r.runtime.resolution})`],
]);
console.log(table(['node', 'runtime', 'side', 'pod', 'create -> start', 'start -> exit', 'create -> exit', 'source'], rows));
for (const r of results) if (r.runtime.source !== 'cri') console.log(`${r.node}: no CRI timestamps: ${r.runtime.via}`);
