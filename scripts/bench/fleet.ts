// The fleet benchmark (run by ./fleet). See the usage line there.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createNet, createNode, type TestNode } from '../lab/support/netns.ts';
import { clientKey, startSshd } from '../lab/support/sshd.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repo, 'dist/cmd/kubewasm.js');
const cache = process.env['KUBEWASM_CACHE'] ?? '/var/cache/kubewasm-lab';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const sizes = option('nodes', '10,20').split(',').map(Number);
const ks = option('max-unavailable', '1').split(',').map(Number);
if (sizes.some((n) => !(n >= 1 && n <= 40)) || ks.some((k) => !(k >= 1))) {
  console.error('usage: scripts/bench/fleet [--nodes 10,20] [--max-unavailable 1[,K…]]  (1 to 40 nodes)');
  process.exit(2);
}
const maxNodes = Math.max(...sizes);

const log = (line: string) => process.stderr.write(`[fleet] ${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

// ---------------------------------------------------------------------------
// The release: the lab's wasmtime shim tarball (scripts/lab/shim-tarball), laid out
// as runwasi publishes it; a random stand-in of the same size when the lab has none.
function releaseTarball(work: string): { bytes: Buffer; from: string } {
  const dirs = existsSync(cache) ? readdirSync(cache).filter((d) => d.startsWith('wasmtime-shim-release-') && existsSync(path.join(cache, d, '.done'))) : [];
  for (const dir of dirs.sort().reverse()) {
    const file = path.join(cache, dir, 'containerd-shim-wasmtime-x86_64-linux-musl.tar.gz');
    if (existsSync(file)) return { bytes: readFileSync(file), from: file };
  }
  const bin = path.join(work, 'containerd-shim-wasmtime-v1');
  execFileSync('sh', ['-c', `head -c 26000000 /dev/urandom > ${bin} && chmod 755 ${bin}`]);
  const tar = path.join(work, 'shim.tar.gz');
  execFileSync('tar', ['-C', work, '-czf', tar, 'containerd-shim-wasmtime-v1']);
  return { bytes: readFileSync(tar), from: 'a random 26 MB stand-in (no lab shim release found)' };
}

const ASSET_PATH = '/containerd/runwasi/releases/download/containerd-shim-wasmtime/v0.6.0/containerd-shim-wasmtime-x86_64-linux-musl.tar.gz';

interface Server {
  url: string;
  served(): number;
  close(): void;
}

function releaseServer(ip: string, tarball: Buffer): Promise<Server> {
  let served = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== ASSET_PATH) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(tarball.length) });
    res.end(tarball, () => (served += tarball.length));
  });
  return new Promise((resolve) => {
    server.listen(0, ip, () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://${ip}:${port}`, served: () => served, close: () => server.close() });
    });
  });
}

// ---------------------------------------------------------------------------

function sh(args: string[], input?: Buffer): Promise<{ code: number; out: string; err: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(args[0]!, args.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, out, errOut) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut, ms: Date.now() - started });
    });
    if (input) child.stdin!.end(input);
    else child.stdin?.end();
  });
}

// A kwasm-style installer, node after node: download the release on the node,
// unpack it next to containerd, append the runtime to config.toml, restart.
const KWASM_STYLE = (url: string) => `set -e
cd /tmp
curl -fsS -o kwasm-shim.tar.gz ${url}${ASSET_PATH}
tar -xzf kwasm-shim.tar.gz -C /usr/local/bin containerd-shim-wasmtime-v1
rm -f kwasm-shim.tar.gz
if ! grep -q 'runtimes.wasmtime' /etc/containerd/config.toml; then
  if grep -q '^version = 3' /etc/containerd/config.toml; then table='plugins."io.containerd.cri.v1.runtime".containerd.runtimes.wasmtime'
  else table='plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmtime'; fi
  printf '\\n[%s]\\n  runtime_type = "io.containerd.wasmtime.v1"\\n' "$table" >> /etc/containerd/config.toml
fi
systemctl restart containerd
`;

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-bench-'));
  const net = createNet('10.247.123');
  const nodes: TestNode[] = [];
  const cleanup = () => {
    for (const n of nodes) n.destroy();
    net.cleanup();
  };
  process.on('SIGINT', () => {
    log('interrupted: removing the nodes');
    cleanup();
    process.exit(130);
  });
  let server: Server | undefined;
  try {
    const { bytes: tarball, from } = releaseTarball(work);
    const tarSha = createHash('sha256').update(tarball).digest('hex');
    const binary = path.join(work, 'shim-binary');
    execFileSync('sh', ['-c', `tar -xzOf - containerd-shim-wasmtime-v1 > ${binary}`], { input: tarball });
    const binarySize = readFileSync(binary).length;
    log(`release: ${from} (${mb(tarball.length)} compressed, ${mb(binarySize)} shim)`);
    server = await releaseServer(net.hostIp, tarball);

    const freeBefore = memUsedMb();
    const key = clientKey(work);
    const knownHosts = path.join(work, 'known_hosts');
    let known = '';
    log(`creating ${maxNodes} nodes (containerd 1.6 and 2.2.9, alternating), each with its own sshd`);
    for (let i = 1; i <= maxNodes; i++) {
      const node = createNode(net, i, i % 2 ? '1.6' : '2.2');
      nodes.push(node);
      known += startSshd(node, key).knownHostsLine;
      node.startContainerd();
    }
    writeFileSync(knownHosts, known);
    const originals = nodes.map((n) => readFileSync(path.join(n.dir, 'etc-containerd/config.toml')));
    const memory = { usedMb: memUsedMb() - freeBefore, containerdRssMb: nodes.map((n) => rssMb(n)).reduce((a, b) => a + b, 0) };
    log(`${maxNodes} nodes up: +${memory.usedMb} MB used on this machine (containerd RSS total ${memory.containerdRssMb} MB)`);

    const ssh = (node: TestNode, command: string, input?: Buffer) =>
      sh(['ssh', '-i', key.privateKey, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'BatchMode=yes', `root@${node.ip}`, command], input);
    const check = async (r: { code: number; err: string }, what: string) => {
      if (r.code !== 0) throw new Error(`${what} failed: ${r.err.trim()}`);
    };

    // Floor components, each measured on its own (OpenSSH, curl-free): one download, each
    // node's upload of the shim and its containerd restart until the CRI answers.
    const download = await timeDownload(`${server.url}${ASSET_PATH}`);
    const perNode = [];
    for (const node of nodes) {
      const connect = await ssh(node, 'true');
      const upload = await ssh(node, 'cat > /dev/null', readFileSync(binary));
      const restart = await ssh(node, 'systemctl restart containerd && crictl --runtime-endpoint unix:///run/containerd/containerd.sock info > /dev/null');
      await check(restart, `restart on ${node.name}`);
      perNode.push({ upload: Math.max(0, upload.ms - connect.ms), restart: Math.max(0, restart.ms - connect.ms) });
    }
    const reset = async (subset: TestNode[]) => {
      await Promise.all(
        subset.map(async (node) => {
          const i = nodes.indexOf(node);
          writeFileSync(path.join(node.dir, 'etc-containerd/config.toml'), originals[i]!);
          rmSync(path.join(node.dir, 'usr-local-bin/containerd-shim-wasmtime-v1'), { force: true });
          rmSync(path.join(node.dir, 'var-lib/kubewasm'), { recursive: true, force: true });
          node.startContainerd();
        }),
      );
    };

    const rows = [];
    for (const n of sizes) {
      const subset = nodes.slice(0, n);
      // The serial script.
      let served = server.served();
      let started = Date.now();
      for (const node of subset) await check(await ssh(node, KWASM_STYLE(server.url)), `the kwasm-style script on ${node.name}`);
      const scriptMs = Date.now() - started;
      const scriptBytes = server.served() - served;
      for (const node of subset) if (!Object.keys(node.criInfo().config.containerd.runtimes).includes('wasmtime')) throw new Error(`the script did not register wasmtime on ${node.name}`);
      await reset(subset);

      for (const k of ks) {
        served = server.served();
        const cacheDir = mkdtempSync(path.join(work, 'cache-'));
        started = Date.now();
        const run = await sh([
          process.execPath, cli, 'node', 'install',
          '--ssh', subset.map((node) => `root@${node.ip}`).join(','),
          '--identity', key.privateKey, '--known-hosts', knownHosts,
          '--shims', 'wasmtime', '--shim-version', 'wasmtime=0.6.0', '--mirror', server.url, '--sha256', `wasmtime/amd64=${tarSha}`, '--cache-dir', cacheDir,
          '--max-unavailable', String(k), ...(process.env['BENCH_PARALLEL'] ? ['--parallel', process.env['BENCH_PARALLEL']] : []), '-o', 'json',
        ]);
        const kubewasmMs = Date.now() - started;
        const kubewasmBytes = server.served() - served;
        if (run.code !== 0) throw new Error(`kubewasm failed (exit ${run.code}): ${run.out}\n${run.err}`);
        const results = JSON.parse(run.out) as Array<{ ok: boolean; timings: Record<string, number> }>;
        if (!results.every((r) => r.ok)) throw new Error(`kubewasm: a node failed: ${run.out}`);
        for (const node of subset) if (!Object.keys(node.criInfo().config.containerd.runtimes).includes('wasmtime')) throw new Error(`kubewasm did not register wasmtime on ${node.name}`);
        const uninstall = await sh([process.execPath, cli, 'node', 'uninstall', '--ssh', subset.map((node) => `root@${node.ip}`).join(','), '--identity', key.privateKey, '--known-hosts', knownHosts, '--max-unavailable', String(n)]);
        if (uninstall.code !== 0) throw new Error(`kubewasm uninstall failed: ${uninstall.err}`);
        subset.forEach((node, i) => {
          if (!readFileSync(path.join(node.dir, 'etc-containerd/config.toml')).equals(originals[i]!)) throw new Error(`uninstall did not give back ${node.name}'s config`);
        });

        const slice = perNode.slice(0, n);
        const waves = Math.ceil(n / k);
        const maxUpload = Math.max(...slice.map((p) => p.upload));
        const maxRestart = Math.max(...slice.map((p) => p.restart));
        const floor = download + maxUpload + waves * maxRestart;
        const phase = (key: string) => Math.max(...results.map((r) => r.timings[key] ?? 0));
        if (process.env['BENCH_VERBOSE']) log(`restartMs per node: ${results.map((r) => r.timings['restartMs']).join(' ')}; uploadMs: ${results.map((r) => r.timings['uploadMs']).join(' ')}`);
        const sum = (key: string) => results.reduce((a, r) => a + (r.timings[key] ?? 0), 0);
        const phases = `per node, slowest: lock ${seconds(phase('lockMs'))}, plan ${seconds(phase('planMs'))}, upload ${seconds(phase('uploadMs'))}, restart step ${seconds(phase('restartMs'))}, node total ${seconds(phase('totalMs'))}; all restart steps together ${seconds(sum('restartMs'))} (serial at K=1), all uploads together ${seconds(sum('uploadMs'))}`;
        rows.push({ n, k, scriptMs, kubewasmMs, floor, download, maxUpload, maxRestart, waves, scriptBytes, kubewasmBytes, phases });
        log(`N=${n} K=${k}: script ${seconds(scriptMs)}, kubewasm ${seconds(kubewasmMs)}, floor ${seconds(floor)}`);
      }
    }

    console.log(`\nkubewasm fleet benchmark: ${maxNodes} namespace nodes on this machine (${process.env['HOSTNAME'] ?? 'local'}), release ${mb(tarball.length)} (shim ${mb(binarySize)})`);
    console.log(`floor = one download + slowest node's upload + ceil(N/K) x slowest node's containerd restart (until its CRI answers), each measured alone`);
    console.log(`memory with ${maxNodes} nodes up: +${memory.usedMb} MB used (containerd RSS total ${memory.containerdRssMb} MB)\n`);
    const header = ['N', 'K', 'script', 'kubewasm', 'script/kubewasm', 'floor', 'kubewasm/floor', 'floor parts (download + upload + waves x restart)', 'script fetched', 'kubewasm fetched'];
    const lines = rows.map((r) => [
      String(r.n),
      String(r.k),
      seconds(r.scriptMs),
      seconds(r.kubewasmMs),
      `${(r.scriptMs / r.kubewasmMs).toFixed(2)}x`,
      seconds(r.floor),
      `${(r.kubewasmMs / r.floor).toFixed(2)}x`,
      `${seconds(r.download)} + ${seconds(r.maxUpload)} + ${r.waves} x ${seconds(r.maxRestart)}`,
      mb(r.scriptBytes),
      mb(r.kubewasmBytes),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    for (const line of [header, ...lines]) console.log(line.map((c, i) => c.padEnd(widths[i]!)).join('  '));
    console.log('');
    for (const r of rows) console.log(`N=${r.n} K=${r.k} kubewasm ${r.phases}`);
  } finally {
    server?.close();
    cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

async function timeDownload(url: string): Promise<number> {
  const started = Date.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  return Date.now() - started;
}

function memUsedMb(): number {
  const info = readFileSync('/proc/meminfo', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return Math.round((kb('MemTotal') - kb('MemAvailable')) / 1024);
}

function rssMb(node: TestNode): number {
  const kb = node.run('pid=$(cat /run/containerd.pid) && grep VmRSS /proc/$pid/status | tr -s " " | cut -d" " -f2').trim();
  return Math.round(Number(kb || 0) / 1024);
}

main().catch((err) => {
  console.error(`fleet: ${(err as Error).message}`);
  process.exitCode = 1;
});
