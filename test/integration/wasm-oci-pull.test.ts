// A Wasm image as users ship it (platform wasi/wasm, /hello.wasm in a tar
// layer), pushed to a real registry (TLS, htpasswd) and pulled through CRI
// (`crictl pull`) by real containerd 2.2 and 2.4, then run by the real
// wasmtime shim (crictl runp/create/start with the wasmtime handler).
// containerd 2.4 with its defaults (and 2.2 with check_platform_supported =
// true) leaves the layer packed: the container cannot be created (the error
// users see) until `kubewasm node install` sets CRI's local pull; `node
// uninstall` gives back the config byte for byte. containerd 2.2 with its
// defaults unpacks it: kubewasm writes nothing for it. An image index whose
// one entry is wasi/wasm is refused by the pull itself.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.js';
import { smokeWasiImage, smokeWasm, SMOKE_LINE, SMOKE_WASI_IMAGE } from '../../lib/installer-image/smoke.js';
import { pushArchives } from '../../lib/oci/registry-push.js';
import { parseRegistryTarget } from '../../lib/oci/registry-ref.js';
import { buildWasmImage } from '../../lib/oci/wasm-image.js';
import { convergeNode, resetNode, type ConvergeOptions } from '../../lib/node/converge.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { CONTAINERD_BUILDS, CRICTL, testContainerd } from '../../scripts/lab/support/containerd.js';
import { startRegistry, type Registry } from '../../scripts/lab/support/registry.js';
import { containerdFixture } from '../support/fixtures.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
process.env['PATH'] = `${path.dirname(CRICTL)}:${process.env['PATH']}`;

/** A lab build's path, or an error with the command that builds it. */
function labBuild(script: string, flag: string): string {
  const full = execFileSync(path.join(root, script), [flag], { encoding: 'utf8' }).trim().split('\n').pop()!;
  if (!existsSync(full)) throw new Error(`${full} is missing: this test runs the lab's real wasmtime shim and pause image. Run \`scripts/lab/prepare\` (or \`${script}\`), then run the tests again.`);
  return full;
}

/**
 * The lab's pause image archive. Any build of it serves (its pause binary is
 * the same): the current sources' one, else the newest in the cache (the
 * lab-images hash covers lib/oci/image-archive.ts, which may be newer).
 */
function labPause(): string {
  const dir = execFileSync(path.join(root, 'scripts/lab/images/build'), ['--print-dir'], { encoding: 'utf8' }).trim().split('\n').pop()!;
  if (existsSync(path.join(dir, 'pause.tar'))) return path.join(dir, 'pause.tar');
  const cache = path.dirname(dir);
  const built = readdirSync(cache)
    .filter((d) => d.startsWith('lab-images-') && existsSync(path.join(cache, d, 'pause.tar')))
    .map((d) => path.join(cache, d, 'pause.tar'))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!built[0]) throw new Error(`no lab pause image in ${cache}: run \`scripts/lab/prepare\` (or \`scripts/lab/images/build\`), then run the tests again.`);
  return built[0];
}

const host = new LocalHost({ name: 'test-node' });

let registry: Registry;
let reference: string;
let indexReference: string;
let shimSource: string;
let pauseArchive: string;
const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-wasm-oci-'));
const creds = () => `${registry.users[0]!.user}:${registry.users[0]!.password}`;

beforeAll(async () => {
  shimSource = mkdtempSync(path.join(tmpdir(), 'kubewasm-shim-'));
  copyFileSync(labBuild('scripts/lab/build/wasmtime-shim.sh', '--print-path'), path.join(shimSource, 'containerd-shim-wasmtime-v1'));
  pauseArchive = labPause();
  registry = await startRegistry({ dir: path.join(work, 'registry') });
  const archive = (file: string, tar: Buffer) => (writeFileSync(path.join(work, file), tar), path.join(work, file));
  const index = buildWasmImage({ name: 'kubewasm.io/smoke:hello-wasi-index', module: smokeWasm(), file: 'hello.wasm', layers: 'tar' });
  const pushed = await pushArchives({
    target: parseRegistryTarget(`${registry.address}/kubewasm`),
    archives: [archive('smoke-wasi.tar', (await smokeWasiImage()).tar), archive('smoke-wasi-index.tar', index.tar)],
    credentials: { username: registry.users[0]!.user, password: registry.users[0]!.password, source: 'the test registry' },
    caFile: registry.caFile,
  });
  reference = pushed.images.find((i) => i.source === SMOKE_WASI_IMAGE)!.reference;
  indexReference = pushed.images.find((i) => i.source === index.name)!.reference;
}, 300_000);

afterAll(async () => {
  await registry?.stop();
});

/** A real containerd of this build with its `config default`, made to run here: no CAP_SYS_RESOURCE (restrict_oom_score_adj), the lab's pause, the registry's CA in a hosts dir. */
function startNode(version: '2.2' | '2.4', fixture: string) {
  const c = testContainerd(CONTAINERD_BUILDS[version]);
  const certs = path.join(c.dir, 'certs.d');
  mkdirSync(path.join(certs, registry.address), { recursive: true });
  writeFileSync(path.join(certs, registry.address, 'hosts.toml'), `server = "https://${registry.address}"\n[host."https://${registry.address}"]\n  ca = ${JSON.stringify(registry.caFile)}\n`);
  const base = readFileSync(containerdFixture(fixture), 'utf8')
    .replace('restrict_oom_score_adj = false', 'restrict_oom_score_adj = true')
    .replace(/(\[plugins\.'io\.containerd\.cri\.v1\.images'\.registry\]\n\s*config_path = )''/, `$1${JSON.stringify(certs)}`)
    .replace(/sandbox = '[^']*'/, "sandbox = 'registry.k8s.io/pause:3.10'");
  if (!base.includes(certs) || !base.includes('check_platform_supported = false')) throw new Error(`${fixture} changed: its registry config_path or check_platform_supported line was not found`);
  writeFileSync(c.configPath, base);
  c.start();
  execFileSync(c.ctr, ['--address', c.socket, '-n', 'k8s.io', 'images', 'import', pauseArchive]);

  const options = (): ConvergeOptions => ({
    containerd: { configPath: c.configPath, address: c.socket, binary: c.binary, shimDir: c.shimDir, restart: { kind: 'command', argv: ['sh', c.restartScript] } },
    stateDir: path.join(c.dir, 'state-kubewasm'),
    criTimeoutMs: 30_000,
  });
  /** crictl's answer: on success its stdout (IDs, logs), on failure everything it said. */
  const crictl = (...args: string[]) =>
    run(CRICTL, ['--runtime-endpoint', `unix://${c.socket}`, '--timeout', '60s', ...args]).then(
      (o) => ({ ok: true, out: o.stdout.trim() }),
      (e: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, out: `${e.stdout ?? ''}${e.stderr ?? e.message}`.trim() }),
    );
  /** A pod (host network: no CNI here) with the wasmtime handler, and the image's container in it: started, then its log. */
  async function runWasm(name: string): Promise<{ created: boolean; out: string }> {
    const dir = path.join(c.dir, name);
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    writeFileSync(path.join(dir, 'pod.json'), JSON.stringify({ metadata: { name, namespace: 'default', uid: name, attempt: 0 }, log_directory: path.join(dir, 'logs'), linux: { security_context: { namespace_options: { network: 2 } } } }));
    writeFileSync(path.join(dir, 'ctr.json'), JSON.stringify({ metadata: { name: 'smoke' }, image: { image: reference }, log_path: 'smoke.log', linux: {} }));
    const pod = await crictl('runp', '--runtime', 'wasmtime', path.join(dir, 'pod.json'));
    if (!pod.ok) throw new Error(`crictl runp failed: ${pod.out}`);
    const create = await crictl('create', pod.out, path.join(dir, 'ctr.json'), path.join(dir, 'pod.json'));
    if (!create.ok) return { created: false, out: create.out };
    const start = await crictl('start', create.out);
    if (!start.ok) return { created: true, out: start.out };
    for (let i = 0; i < 60; i++) {
      const state = await crictl('inspect', '-o', 'go-template', '--template', '{{.status.state}}', create.out);
      if (state.out.includes('EXITED')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    return { created: true, out: (await crictl('logs', create.out)).out };
  }
  const pull = () => crictl('pull', '--creds', creds(), reference);
  /** Back to a clean node: no pods, no pulled Wasm image. */
  const clean = async () => {
    await crictl('rmp', '-af');
    await crictl('rmi', reference);
  };
  /** The shim registered by hand (the CRI images table as the node has it): what the node runs without kubewasm's setting. */
  async function withoutKubewasm(config: string, body: () => Promise<void>): Promise<void> {
    writeFileSync(c.configPath, `${config}\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.wasmtime]\n  runtime_type = 'io.containerd.wasmtime.v1'\n`);
    const byHand = path.join(c.shimDir, 'containerd-shim-wasmtime-v1');
    copyFileSync(path.join(shimSource, 'containerd-shim-wasmtime-v1'), byHand);
    c.start();
    try {
      await body();
    } finally {
      await clean();
      rmSync(byHand);
      writeFileSync(c.configPath, config);
      c.start();
    }
  }
  /** kubewasm node install (after its dry run), the body, then node uninstall; returns the dry run's plan. */
  async function withKubewasm(body: () => Promise<void>) {
    const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime]);
    const dry = await convergeNode(host, { shims }, { ...options(), dryRun: true });
    await convergeNode(host, { shims }, options());
    try {
      await body();
    } finally {
      await clean();
      await resetNode(host, options());
    }
    return dry.plan;
  }
  return { c, base, crictl, runWasm, pull, withoutKubewasm, withKubewasm };
}

const PACKED = /parent snapshot sha256:[0-9a-f]{64} does not exist: not found/;

describe('containerd 2.4 with its default config: the Transfer Service leaves wasi/wasm layers packed', () => {
  let node: ReturnType<typeof startNode>;
  beforeAll(() => {
    node = startNode('2.4', 'containerd-2.4.2-default.toml');
  }, 120_000);
  afterAll(() => node?.c.cleanup());

  it("without kubewasm's setting: the pull succeeds, but the container cannot be created", async () => {
    await node.withoutKubewasm(node.base, async () => {
      expect(await node.pull()).toMatchObject({ ok: true });
      const result = await node.runWasm('packed');
      expect(result.created).toBe(false);
      expect(result.out).toMatch(PACKED);
    });
  }, 300_000);

  it('after kubewasm node install: the dry run says why, the image is unpacked and the wasmtime shim runs it; uninstall gives the config back byte for byte', async () => {
    const before = readFileSync(node.c.configPath);
    const plan = await node.withKubewasm(async () => {
      expect(readFileSync(node.c.configPath, 'utf8')).toContain('use_local_image_pull = true # kubewasm: replaced "    use_local_image_pull = false"');
      expect(await node.pull()).toMatchObject({ ok: true });
      expect(await node.runWasm('local')).toEqual({ created: true, out: expect.stringContaining(SMOKE_LINE) });
    });
    expect(plan.config.imagePull).toMatchObject({ decision: 'set', how: 'line', why: expect.stringContaining('containerd >= 2.3') });
    expect(readFileSync(node.c.configPath).equals(before)).toBe(true);
  }, 300_000);
});

describe('containerd 2.2: its defaults unpack every platform; check_platform_supported = true does not', () => {
  let node: ReturnType<typeof startNode>;
  beforeAll(() => {
    node = startNode('2.2', 'containerd-2.2.9-default.toml');
  }, 120_000);
  afterAll(() => node?.c.cleanup());
  const strict = () => node.base.replace('check_platform_supported = false', 'check_platform_supported = true');

  it('an index whose one entry is wasi/wasm is refused by the pull itself: CRI keeps only the host platform of an index', async () => {
    const pull = await node.crictl('pull', '--creds', creds(), indexReference);
    expect(pull.ok).toBe(false);
    expect(pull.out).toMatch(/no match for platform in manifest sha256:[0-9a-f]{64}: not found/);
  });

  // First: the defaults test leaves the image's snapshots behind (rmi does not remove them at once), which would hide the packed layer.
  it('check_platform_supported = true: the container cannot be created without kubewasm, and runs after node install; uninstall gives the config back byte for byte', async () => {
    await node.withoutKubewasm(strict(), async () => {
      expect(await node.pull()).toMatchObject({ ok: true });
      const result = await node.runWasm('packed');
      expect(result).toMatchObject({ created: false, out: expect.stringMatching(PACKED) });
    });
    expect(readFileSync(node.c.configPath, 'utf8')).toBe(strict());
    const plan = await node.withKubewasm(async () => {
      expect(await node.pull()).toMatchObject({ ok: true });
      expect(await node.runWasm('local')).toEqual({ created: true, out: expect.stringContaining(SMOKE_LINE) });
    });
    expect(plan.config.imagePull).toMatchObject({ decision: 'set', how: 'line', why: expect.stringContaining('check_platform_supported = true') });
    expect(readFileSync(node.c.configPath, 'utf8')).toBe(strict());
  }, 300_000);

  it('the defaults: kubewasm writes nothing for image pulls, and the wasmtime shim runs the image', async () => {
    writeFileSync(node.c.configPath, node.base);
    const plan = await node.withKubewasm(async () => {
      expect(readFileSync(node.c.configPath, 'utf8')).not.toContain('use_local_image_pull = true');
      expect(await node.pull()).toMatchObject({ ok: true });
      expect(await node.runWasm('defaults')).toEqual({ created: true, out: expect.stringContaining(SMOKE_LINE) });
    });
    expect(plan.config.imagePull).toMatchObject({ decision: 'not-needed' });
    expect(readFileSync(node.c.configPath, 'utf8')).toBe(node.base);
  }, 300_000);
});
