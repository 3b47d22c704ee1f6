// The fleet benchmark (run by ./fleet; see the usage line there). N nodes as
// network namespaces (own sshd, real containerd), a release server behind a
// shaped "internet" link, each node behind a shaped LAN link (fleet-net.ts).
// Contenders on the same nodes, one run, order rotating from repetition to
// repetition, the nodes reset to their snapshot before each:
//   manual loop   per node in turn: curl the archive, sha256sum, extract, append
//                 to config.toml, restart containerd, wait for the CRI
//   kwasm-style   the same on every node at once, each fetching its own copy
//                 (kwasm-operator ran one Job per node)
//   kubewasm K    `kubewasm node install --ssh … --max-unavailable K`
// Columns: wall time, bytes over the internet link and over the LAN links
// (veth counters), most containerd restarts at once (from each node's
// systemctl), CPU seconds of the controller and of the nodes (cpuacct cgroups).
// The floor is measured in the same network: one download of the archive over
// the internet link + the archive's transfer to every node over the
// controller's link + ceil(N/K) x the median time a wave of K nodes takes to
// restart containerd until the CRI answers.
// Working on kubewasm alone: --contenders kubewasm; FLEET_CPU_PROF=DIR writes
// kubewasm's V8 CPU profile there, FLEET_KUBEWASM_LOG=FILE keeps its stderr.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONTAINERD_BUILDS } from '../lab/support/containerd.ts';
import { createNet, createNode, snapshot, type ContainerdVersion, type TestNode } from '../lab/support/netns.ts';
import { clientKey, startSshd } from '../lab/support/sshd.ts';
import { createInternet, linkBytes, shapeController, shapeNodeLink, type Shape } from './fleet-net.ts';
import { maxOverlap, showSpread, spread, table, type Spread } from './fleet-stats.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repo, 'dist/cmd/kubewasm.js');
const cache = process.env['KUBEWASM_CACHE'] ?? '/var/cache/kubewasm-lab';
const TAG = 'containerd-shim-wasmtime/v0.6.1';
const SHIM_VERSION = '0.6.1';
const SHIM = 'containerd-shim-wasmtime-v1';
const ENDPOINT = 'unix:///run/containerd/containerd.sock';
const CGROUP = '/sys/fs/cgroup/cpuacct/kwbench';

// ---- options ----------------------------------------------------------------
const USAGE = 'usage: scripts/bench/fleet [--nodes 20] [--runs 3] [--max-unavailable 1,N/5] [--internet-mbit 100] [--first-byte-ms 100] [--lan-mbit 1000] [--containerd 2.2[,1.6…]] [--contenders manual,kwasm,kubewasm]';
function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const n = Number(option('nodes', '20'));
const runs = Number(option('runs', '3'));
const shape: Shape = { internetMbit: Number(option('internet-mbit', '100')), firstByteMs: Number(option('first-byte-ms', '100')), lanMbit: Number(option('lan-mbit', '1000')) };
const ks = [...new Set(option('max-unavailable', '1,N/5').split(',').map((k) => (k === 'N/5' ? Math.max(1, Math.round(n / 5)) : Number(k))))];
const versions = option('containerd', '2.2').split(',') as ContainerdVersion[];
// A subset for working on one contender; the table's ratios need the manual loop.
const picked = option('contenders', 'manual,kwasm,kubewasm').split(',');
if (picked.some((c) => !['manual', 'kwasm', 'kubewasm'].includes(c)) || !(n >= 1 && n <= 40) || !(runs >= 1 && runs <= 10) || ks.some((k) => !(k >= 1 && k <= n)) || !(shape.internetMbit > 0 && shape.lanMbit > 0 && shape.firstByteMs >= 0) || versions.some((v) => !CONTAINERD_BUILDS[v])) {
  console.error(USAGE);
  process.exit(2);
}

const log = (line: string) => process.stderr.write(`[fleet ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

// ---- processes --------------------------------------------------------------
interface Ran {
  code: number;
  out: string;
  err: string;
  ms: number;
}
function run(argv: readonly string[], options: { input?: Buffer; timeoutMs: number }): Promise<Ran> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, timeout: options.timeoutMs, killSignal: 'SIGKILL' }, (err, out, errOut) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out, err: errOut + (err && (err as { killed?: boolean }).killed ? `\n(killed after ${options.timeoutMs} ms)` : ''), ms: performance.now() - started });
    });
    if (options.input) child.stdin!.end(options.input);
    else child.stdin?.end();
  });
}
const must = (r: Ran, what: string): Ran => {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.err.trim().slice(-600)} ${r.out.trim().slice(-300)}`);
  return r;
};
/** Runs argv inside the controller's cpuacct cgroup (its CPU is the controller's column). */
const asController = (argv: readonly string[]) => ['sh', '-c', `echo $$ > ${CGROUP}/controller/cgroup.procs && exec "$@"`, 'sh', ...argv];

// ---- CPU accounting -----------------------------------------------------------
function cgroupUsageSeconds(group: string): number {
  return Number(readFileSync(path.join(CGROUP, group, 'cpuacct.usage'), 'utf8')) / 1e9;
}
/** Moves every process of each node's PID namespace into that node's cgroup (a containerd restarted from here starts in this bench's). */
function sweepIntoCgroups(nodes: readonly TestNode[]): void {
  const byNs = new Map<string, string>();
  for (const node of nodes) byNs.set(readlinkSync(`/proc/${node.pid}/ns/pid`), node.name);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const name = byNs.get(readlinkSync(`/proc/${entry}/ns/pid`));
      if (name) writeFileSync(path.join(CGROUP, 'nodes', name, 'cgroup.procs'), entry);
    } catch {
      // gone meanwhile
    }
  }
}

// ---- what runs on a node ------------------------------------------------------
const WAIT_CRI = (want: string) =>
  `for i in $(seq 1500); do crictl --runtime-endpoint ${ENDPOINT} info 2>/dev/null | grep -q '${want}' && break; sleep 0.02; done; crictl --runtime-endpoint ${ENDPOINT} info 2>/dev/null | grep -q '${want}'`;

/** The manual install, as a person (or kwasm's node installer) does it on one node. */
const INSTALL_BY_HAND = (url: string, sha: string) => `set -e
d=/var/lib/kwbench-dl; rm -rf $d; mkdir -p $d
curl -fsSL --max-time 300 -o $d/shim.tar.gz '${url}'
echo '${sha}  '$d/shim.tar.gz | sha256sum -c --quiet -
tar -xzf $d/shim.tar.gz -C /usr/local/bin ${SHIM}
rm -rf $d
cfg=/etc/containerd/config.toml
if ! grep -q 'runtimes.wasmtime' $cfg; then
  if grep -q '^version = [34]' $cfg; then t='plugins."io.containerd.cri.v1.runtime".containerd.runtimes.wasmtime'
  else t='plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmtime'; fi
  printf '\\n[%s]\\n  runtime_type = "io.containerd.wasmtime.v1"\\n' "$t" >> $cfg
fi
systemctl restart containerd
${WAIT_CRI('"wasmtime"')} || { echo "the CRI does not list wasmtime after the restart" >&2; exit 1; }
`;

/** One restart until the CRI answers, timed on the node (ms). */
const TIMED_RESTART = `s=$(date +%s%N); systemctl restart containerd && ${WAIT_CRI('RuntimeReady')} || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`;

/** Wraps the node's systemctl so each restart leaves "start end" (ns) in /var/lib/kwbench-restarts.log. */
function recordRestarts(node: TestNode): void {
  const sbin = path.join(node.dir, 'usr-local-sbin');
  renameSync(path.join(sbin, 'systemctl'), path.join(sbin, 'systemctl.stand-in'));
  writeFileSync(
    path.join(sbin, 'systemctl'),
    `#!/bin/sh
# fleet bench: times each restart of containerd (the most at once is a column)
[ "$1" = restart ] || exec /usr/local/sbin/systemctl.stand-in "$@"
s=$(date +%s%N); /usr/local/sbin/systemctl.stand-in "$@"; rc=$?
echo "$s $(date +%s%N)" >> /var/lib/kwbench-restarts.log
exit $rc
`,
    { mode: 0o755 },
  );
}
function restartIntervals(node: TestNode): Array<[number, number]> {
  const file = path.join(node.dir, 'var-lib/kwbench-restarts.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ').map((ns) => Number(BigInt(ns) / 1000n) / 1000) as [number, number]);
}

// ---- the run ------------------------------------------------------------------
interface Sample {
  contender: string;
  wallS: number;
  internetBytes: number;
  lanBytes: number;
  restartsAtOnce: number;
  restarts: number;
  controllerCpuS: number;
  nodesCpuS: number;
}

async function main(): Promise<void> {
  const archiveFile = findArchive();
  const archive = readFileSync(archiveFile);
  const sha = createHash('sha256').update(archive).digest('hex');
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-fleet-'));
  const net = createNet('10.247.131');
  const internet = createInternet('10.250.131', shape, net.bridge);
  const controllerLink = shapeController(net.bridge, shape.lanMbit);
  const nodes: TestNode[] = [];
  let server: ReturnType<typeof execFile> | undefined;
  const cleanup = () => {
    server?.stdin?.end();
    server?.kill('SIGKILL');
    for (const node of nodes) node.destroy();
    controllerLink.cleanup();
    internet.cleanup();
    net.cleanup();
    for (const group of [...nodes.map((node) => `nodes/${node.name}`), 'nodes', 'controller', '']) {
      try {
        rmdirSync(path.join(CGROUP, group));
      } catch {
        // still has a process for a moment, or never made
      }
    }
    rmSync(work, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    log('interrupted: removing the nodes and the network');
    cleanup();
    process.exit(130);
  });
  try {
    // The release server, inside the internet namespace.
    server = execFile('ip', ['netns', 'exec', internet.netns, process.execPath, '--import', path.join(repo, 'scripts/ts-resolve.mjs'), path.join(import.meta.dirname, 'fleet-server.ts'), archiveFile, internet.apiIp, internet.downloadIp, String(shape.firstByteMs), TAG]);
    const served = await firstLine(server, 20_000);
    const { apiUrl, asset } = JSON.parse(served) as { apiUrl: string; asset: string };
    log(`release server ${apiUrl} (in netns ${internet.netns}); asset ${asset}`);

    for (const dir of ['controller', 'nodes']) mkdirSync(path.join(CGROUP, dir), { recursive: true });
    const key = clientKey(work);
    const knownHosts = path.join(work, 'known_hosts');
    let known = '';
    const benchStarted = performance.now();
    log(`creating ${n} nodes (${versions.map((v) => CONTAINERD_BUILDS[v].label).join(', ')}), each with its own sshd and a ${shape.lanMbit} Mbit/s link`);
    const setupStarted = performance.now();
    for (let i = 1; i <= n; i++) {
      const node = createNode(net, i, versions[(i - 1) % versions.length]!);
      nodes.push(node);
      mkdirSync(path.join(CGROUP, 'nodes', node.name), { recursive: true });
      known += startSshd(node, key).knownHostsLine;
      recordRestarts(node);
      shapeNodeLink(node.veth, node.run, net.hostIp, shape.lanMbit);
      node.startContainerd();
    }
    writeFileSync(knownHosts, known);
    sweepIntoCgroups(nodes);
    const originals = nodes.map((node) => ({ config: readFileSync(path.join(node.dir, 'etc-containerd/config.toml')), files: snapshot(node.dir) }));
    const setupS = (performance.now() - setupStarted) / 1000;
    const memory = nodeMemory(nodes);
    log(`${n} nodes up in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s: node processes' RSS ${memory.totalMb} MB (containerd ${memory.containerdMb} MB); ${memAvailableMb()} MB available`);

    const ssh = (node: TestNode, command: string, input?: Buffer, timeoutMs = 300_000) =>
      run(asController(['ssh', '-i', key.privateKey, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', `root@${node.ip}`, command]), { ...(input ? { input } : {}), timeoutMs });
    const inNode = (node: TestNode, script: string, timeoutMs = 60_000) => run(['nsenter', '-t', String(node.pid), '-m', '-n', '-p', '--', 'sh', '-c', script], { timeoutMs });

    const reset = async () => {
      await Promise.all(
        nodes.map(async (node, i) => {
          // Empty the bind-mounted directories (never remove them: the node's mount would point at a deleted one).
          for (const file of readdirSync(path.join(node.dir, 'etc-containerd'))) rmSync(path.join(node.dir, 'etc-containerd', file), { recursive: true, force: true });
          writeFileSync(path.join(node.dir, 'etc-containerd/config.toml'), originals[i]!.config);
          for (const file of readdirSync(path.join(node.dir, 'usr-local-bin'))) rmSync(path.join(node.dir, 'usr-local-bin', file), { recursive: true, force: true });
          for (const dir of ['var-lib/kubewasm', 'var-lib/kwbench-dl']) rmSync(path.join(node.dir, dir), { recursive: true, force: true });
          must(await inNode(node, `systemctl.stand-in restart containerd && ${WAIT_CRI('RuntimeReady')}`), `resetting ${node.name}`);
          rmSync(path.join(node.dir, 'var-lib/kwbench-restarts.log'), { force: true });
          const now = snapshot(node.dir);
          if (JSON.stringify(now) !== JSON.stringify(originals[i]!.files)) throw new Error(`reset left ${node.name} different from its snapshot: ${JSON.stringify(now)}`);
        }),
      );
      sweepIntoCgroups(nodes);
    };

    // ---- the network as shaped, and the floor's parts, measured the same way ----
    const downloads: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = must(await run(['curl', '-fsSL', '-o', '/dev/null', '-w', '%{time_total}', asset], { timeoutMs: 120_000 }), 'downloading the archive over the internet link');
      downloads.push(Number(r.out));
    }
    const download = spread(downloads);
    const internetRate = (archive.length * 8) / 1e6 / Math.max(0.001, download.median - (2 * shape.firstByteMs) / 1000);
    log(`one download: ${download.median.toFixed(2)} s (≈ ${internetRate.toFixed(0)} Mbit/s past the two first-byte delays)`);

    const transfers: number[] = [];
    for (let i = 0; i < 3; i++) {
      const connect = await Promise.all(nodes.map((node) => ssh(node, 'true')));
      connect.forEach((r, j) => must(r, `ssh ${nodes[j]!.name} true`));
      const t0 = performance.now();
      const upload = await Promise.all(nodes.map((node) => ssh(node, 'cat > /dev/null', archive)));
      const uploadMs = performance.now() - t0;
      upload.forEach((r, j) => must(r, `upload to ${nodes[j]!.name}`));
      transfers.push(Math.max(0, uploadMs - Math.max(...connect.map((r) => r.ms))) / 1000);
    }
    const sshTransfer = spread(transfers);
    // The floor's LAN part: the archive to every node at once over plain TCP (no ssh, no disk), through the same shaped links.
    const rawTransfers: number[] = [];
    for (let i = 0; i < 3; i++) rawTransfers.push(await pushToAll(nodes, archive, inNode));
    const lanTransfer = spread(rawTransfers);
    const lanTransferAtRate = (n * archive.length * 8) / (shape.lanMbit * 1e6);
    log(`the archive to all ${n} nodes at once: plain TCP ${lanTransfer.median.toFixed(2)} s, over ssh ${sshTransfer.median.toFixed(2)} s (the link rate alone: ${lanTransferAtRate.toFixed(2)} s)`);

    const waves = new Map<number, Spread>();
    for (const k of ks) {
      const times: number[] = [];
      for (let i = 0; i < n; i += k) {
        const wave = await Promise.all(nodes.slice(i, i + k).map((node) => ssh(node, TIMED_RESTART, undefined, 120_000)));
        wave.forEach((r, j) => must(r, `timed restart on ${nodes[i + j]!.name}`));
        times.push(Math.max(...wave.map((r) => Number(r.out.trim()))) / 1000);
      }
      waves.set(k, spread(times));
      log(`restart until the CRI answers, waves of ${k}: median ${spread(times).median.toFixed(2)} s over ${times.length} waves`);
    }
    await reset();

    // ---- the contenders ----
    const all: Array<{ name: string; go: () => Promise<void> }> = [
      {
        name: 'manual loop',
        go: async () => {
          for (const node of nodes) must(await ssh(node, INSTALL_BY_HAND(asset, sha)), `the manual install on ${node.name}`);
        },
      },
      {
        name: 'kwasm-style',
        go: async () => {
          const all = await Promise.all(nodes.map((node) => ssh(node, INSTALL_BY_HAND(asset, sha))));
          all.forEach((r, i) => must(r, `the kwasm-style install on ${nodes[i]!.name}`));
        },
      },
      ...ks.map((k) => ({
        name: `kubewasm K=${k}`,
        go: async () => {
          const cacheDir = mkdtempSync(path.join(work, 'cache-'));
          const r = must(
            await run(
              asController([
                process.execPath, ...(process.env['FLEET_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['FLEET_CPU_PROF']}`] : []), cli, 'node', 'install',
                '--ssh', nodes.map((node) => `root@${node.ip}`).join(','),
                '--identity', key.privateKey, '--known-hosts', knownHosts,
                '--shims', 'wasmtime', '--shim-version', `wasmtime=${SHIM_VERSION}`, '--mirror', apiUrl, '--sha256', `wasmtime/amd64=${sha}`, '--cache-dir', cacheDir,
                '--max-unavailable', String(k), '-o', 'json',
              ]),
              { timeoutMs: 600_000 },
            ),
            `kubewasm node install --max-unavailable ${k}`,
          );
          if (process.env['FLEET_KUBEWASM_LOG']) writeFileSync(process.env['FLEET_KUBEWASM_LOG'], r.err);
          const results = JSON.parse(r.out) as Array<{ node: string; ok: boolean; error?: { what: string }; timings?: Record<string, number> }>;
          const slowest = (key: string) => (Math.max(...results.map((x) => x.timings?.[key] ?? 0)) / 1000).toFixed(2);
          const total = (key: string) => (results.reduce((a, x) => a + (x.timings?.[key] ?? 0), 0) / 1000).toFixed(1);
          log(`  kubewasm K=${k} per node, slowest: lock ${slowest('lockMs')} s, plan ${slowest('planMs')} s, upload ${slowest('uploadMs')} s, gate ${slowest('gateMs')} s, restart ${slowest('restartMs')} s, total ${slowest('totalMs')} s; summed over nodes: plan ${total('planMs')} s, upload ${total('uploadMs')} s, restart ${total('restartMs')} s`);
          const failed = results.filter((x) => !x.ok);
          if (failed.length || results.length !== n) throw new Error(`kubewasm: ${failed.map((x) => `${x.node}: ${x.error?.what}`).join('; ') || `${results.length} results for ${n} nodes`}`);
          const listed = await Promise.all(nodes.map((node) => inNode(node, `crictl --runtime-endpoint ${ENDPOINT} info | grep -q '"wasmtime"'`)));
          listed.forEach((x, i) => must(x, `the CRI of ${nodes[i]!.name} listing wasmtime after kubewasm`));
          rmSync(cacheDir, { recursive: true, force: true });
        },
      })),
    ];
    const contenders = all.filter((c) => picked.includes(c.name.split(/[ -]/)[0]!));

    const samples: Sample[] = [];
    for (let rep = 0; rep < runs; rep++) {
      const order = contenders.map((_, i) => contenders[(i + rep) % contenders.length]!);
      for (const contender of order) {
        await reset();
        const before = { inet: linkBytes(internet.hostDev), lan: nodes.reduce((a, node) => a + linkBytes(node.veth), 0), ctl: cgroupUsageSeconds('controller'), nodes: cgroupUsageSeconds('nodes') };
        const t0 = performance.now();
        const startedAt = Date.now();
        await contender.go();
        const wallS = (performance.now() - t0) / 1000;
        const intervals = nodes.flatMap((node) => restartIntervals(node));
        const sample: Sample = {
          contender: contender.name,
          wallS,
          internetBytes: linkBytes(internet.hostDev) - before.inet,
          lanBytes: nodes.reduce((a, node) => a + linkBytes(node.veth), 0) - before.lan,
          restartsAtOnce: maxOverlap(intervals),
          restarts: intervals.length,
          controllerCpuS: cgroupUsageSeconds('controller') - before.ctl,
          nodesCpuS: cgroupUsageSeconds('nodes') - before.nodes,
        };
        samples.push(sample);
        // Where the wall time went: before the first restart, the restarts, after the last one.
        const starts = intervals.map(([s]) => (s - startedAt) / 1000).sort((a, b) => a - b);
        const ends = intervals.map(([, e]) => (e - startedAt) / 1000).sort((a, b) => a - b);
        if (starts.length) log(`  ${contender.name} timeline: first restart began at ${starts[0]!.toFixed(1)} s, last restart ended at ${ends.at(-1)!.toFixed(1)} s, end ${wallS.toFixed(1)} s; each restart command ${spread(intervals.map(([s, e]) => (e - s) / 1000)).median.toFixed(2)} s median`);
        log(`run ${rep + 1}/${runs} ${contender.name}: ${wallS.toFixed(1)} s, internet ${mb(sample.internetBytes)} MB, LAN ${mb(sample.lanBytes)} MB, ${sample.restarts} restarts (${sample.restartsAtOnce} at once), CPU controller ${sample.controllerCpuS.toFixed(1)} s, nodes ${sample.nodesCpuS.toFixed(1)} s`);
      }
    }
    await reset();

    // ---- the report ----
    const floorOf = (k: number) => download.median + lanTransfer.median + Math.ceil(n / k) * waves.get(k)!.median;
    const of = (name: string) => samples.filter((s) => s.contender === name);
    const col = (name: string, pick: (s: Sample) => number) => spread(of(name).map(pick));
    console.log(`\nkubewasm fleet benchmark: ${n} nodes (network namespaces on this machine, ${versions.map((v) => CONTAINERD_BUILDS[v].label).join(', ')}, real restarts), ${runs} runs, contender order rotating per run`);
    console.log(`network: internet link ${shape.internetMbit} Mbit/s each way (tbf on both veth ends) + ${shape.firstByteMs} ms first-byte delay per answer at the release server (a download is a redirect and the object: 2 delays);`);
    console.log(`         LAN: ${shape.lanMbit} Mbit/s per node link (tbf on both veth ends); controller link ${shape.lanMbit} Mbit/s (tbf egress${controllerLink.ingressShaped ? ', ingress via ifb' : '; ingress unshaped: no ifb'}); this machine routes between them`);
    console.log(`measured: one archive download ${showSpread(download, 2, ' s')} (≈ ${internetRate.toFixed(0)} Mbit/s past the delays); the archive to all ${n} nodes at once over plain TCP ${showSpread(lanTransfer, 2, ' s')}, over ssh ${showSpread(sshTransfer, 2, ' s')} (the link rate alone ${lanTransferAtRate.toFixed(2)} s)`);
    console.log(`release: ${path.basename(archiveFile)} ${mb(archive.length)} MB (the lab's real wasmtime shim release; the shim inside ${mb(Number(tarEntrySize(archiveFile)))} MB)`);
    console.log(`memory with ${n} nodes up: the node processes' RSS ${memory.totalMb} MB (containerd ${memory.containerdMb} MB); this machine: ${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs, ${memAvailableMb()} MB available; setup ${setupS.toFixed(0)} s, the whole bench ${((performance.now() - benchStarted) / 1000).toFixed(0)} s`);
    console.log('archives: internet bytes (frames, as the veth counts them) over the archive\'s size; each cell: median (min–max) over the runs; CPU = cpuacct of the controller\'s processes (ssh clients or kubewasm) and of every node process (sshd, curl, tar, containerd …)\n');
    const rows = contenders.map((c) => {
      const wall = col(c.name, (s) => s.wallS);
      const k = /K=(\d+)/.exec(c.name)?.[1];
      return [
        c.name,
        showSpread(wall, 1, ' s'),
        showSpread(col(c.name, (s) => s.internetBytes / 1e6), 1, ''),
        (col(c.name, (s) => s.internetBytes).median / archive.length).toFixed(2),
        showSpread(col(c.name, (s) => s.lanBytes / 1e6), 1, ''),
        showSpread(col(c.name, (s) => s.restartsAtOnce), 0, ''),
        showSpread(col(c.name, (s) => s.restarts), 0, ''),
        showSpread(col(c.name, (s) => s.controllerCpuS), 1, ''),
        showSpread(col(c.name, (s) => s.nodesCpuS), 1, ''),
        k ? `${(wall.median / floorOf(Number(k))).toFixed(2)}x` : '',
        of('manual loop').length ? `${(col('manual loop', (s) => s.wallS).median / wall.median).toFixed(2)}x` : '',
      ];
    });
    console.log(table(['contender', 'wall', 'internet MB', 'archives', 'LAN MB', 'restarts at once', 'restarts', 'controller CPU s', 'nodes CPU s', 'vs floor', 'manual/this'], rows));
    console.log('');
    console.log(table(
      ['floor', 'total', 'download', 'LAN transfer (plain TCP, all nodes at once)', 'waves x median wave (restart until CRI answers)'],
      ks.map((k) => [`K=${k}`, `${floorOf(k).toFixed(1)} s`, `${download.median.toFixed(2)} s`, `${lanTransfer.median.toFixed(2)} s`, `${Math.ceil(n / k)} x ${waves.get(k)!.median.toFixed(2)} s (waves ${waves.get(k)!.min.toFixed(2)}–${waves.get(k)!.max.toFixed(2)} s)`]),
    ));
    // The nodes and the controller share this machine's CPUs: the leanest contender's CPU seconds over the CPUs bound every wall time from below too.
    const cpus = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
    const cpuOf = (name: string) => col(name, (x) => x.controllerCpuS + x.nodesCpuS).median;
    const leanest = contenders.map((c) => c.name).sort((a, b) => cpuOf(a) - cpuOf(b))[0]!;
    const cpuBound = cpuOf(leanest) / cpus;
    console.log(`\nCPU bound on this machine: the leanest contender (${leanest}) used ${cpuOf(leanest).toFixed(1)} CPU s (controller + nodes) on ${cpus} CPUs: no contender can finish under ${cpuBound.toFixed(1)} s here; the network floor above ignores CPU.`);
    for (const c of contenders.filter((x) => x.name.startsWith('kubewasm'))) console.log(`${c.name}: ${(col(c.name, (x) => x.wallS).median / Math.max(cpuBound, floorOf(Number(/K=(\d+)/.exec(c.name)![1])))).toFixed(2)}x max(floor, CPU bound); its own CPU ${cpuOf(c.name).toFixed(1)} s`);
  } finally {
    cleanup();
  }
}

function findArchive(): string {
  const dirs = existsSync(cache) ? readdirSync(cache).filter((d) => d.startsWith('wasmtime-shim-release-') && existsSync(path.join(cache, d, '.done'))) : [];
  for (const dir of dirs.sort().reverse()) {
    const file = path.join(cache, dir, 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz');
    if (existsSync(file)) return file;
  }
  throw new Error(`no wasmtime shim release archive under ${cache}: run scripts/setup --lab (it builds the lab's shim release)`);
}

function tarEntrySize(file: string): number {
  const listing = execFileSync('tar', ['-tzvf', file, SHIM], { encoding: 'utf8' });
  return Number(listing.trim().split(/\s+/)[2] ?? 0);
}

function firstLine(child: ReturnType<typeof execFile>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let errText = '';
    const timer = setTimeout(() => reject(new Error(`the release server did not start within ${timeoutMs} ms: ${errText}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (errText += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, nl));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the release server exited (${code}): ${errText}`));
    });
  });
}

function memAvailableMb(): number {
  const kb = Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** RSS of every process in the nodes' PID namespaces, and of their containerds. */
function nodeMemory(nodes: readonly TestNode[]): { totalMb: number; containerdMb: number } {
  const namespaces = new Set(nodes.map((node) => readlinkSync(`/proc/${node.pid}/ns/pid`)));
  let total = 0;
  let containerd = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!namespaces.has(readlinkSync(`/proc/${entry}/ns/pid`))) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      total += kb;
      if (/^Name:\s+containerd$/m.test(status)) containerd += kb;
    } catch {
      // gone meanwhile
    }
  }
  return { totalMb: Math.round(total / 1024), containerdMb: Math.round(containerd / 1024) };
}

/**
 * Sends `data` to every node at once over plain TCP (a receiver in each node
 * that reads to the end and answers "ok"); seconds from the first byte sent to
 * the last answer. The receivers are started first and not timed.
 */
async function pushToAll(nodes: readonly TestNode[], data: Buffer, inNode: (node: TestNode, script: string, timeoutMs?: number) => Promise<Ran>): Promise<number> {
  const port = 9999;
  // perl: the node sees this machine's /usr/bin but not its /usr/local/bin (where Node may live).
  const receiver = `use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => ${port}, Listen => 8, ReuseAddr => 1) or die "listen: $!"; while (my $c = $s->accept) { my ($n, $b) = (0, ""); while (my $r = sysread($c, $b, 1 << 20)) { $n += $r } if ($n > 0) { syswrite($c, "ok"); close $c; exit 0 } close $c }`;
  const running = nodes.map((node) => inNode(node, `timeout 60 perl -e '${receiver}' ${node.ip}`, 70_000));
  for (const node of nodes) {
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const probe = net.connect(port, node.ip, () => {
          probe.destroy();
          resolve(true);
        });
        probe.on('error', () => resolve(false));
      });
      if (up) break;
      if (i > 300) throw new Error(`the TCP receiver on ${node.name} did not listen`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  // The probes sent nothing: the receivers still wait for the stream.
  const t0 = performance.now();
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve, reject) => {
          const c = net.connect(port, node.ip, () => c.end(data));
          let answer = '';
          c.on('data', (d: Buffer) => (answer += d.toString()));
          c.on('end', () => (answer === 'ok' ? resolve() : reject(new Error(`${node.name} answered ${JSON.stringify(answer)}`))));
          c.on('error', reject);
        }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(running);
  return seconds;
}

main().catch((err: unknown) => {
  console.error(`fleet: ${(err as Error).message}`);
  process.exitCode = 1;
});
