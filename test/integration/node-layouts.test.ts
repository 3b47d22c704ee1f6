// The node engine on real containerd (2.2 unless said otherwise), for what a
// user's node really looks like: k3s rendering config.toml from a template
// over its base, run after run; a shim binary that was already there; what
// an uninstall leaves; microk8s-, k0s- and EKS-shaped layouts; a node without
// crictl; and an interrupted run's journal undone, completed or refused on a
// real node. The restart script stands in for the distribution's service:
// it renders (k3s, microk8s) the way the distribution does, then starts
// containerd on the result.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SetupOverrides } from '../../lib/containerd/facts.js';
import { LocalHost } from '../../lib/host/local.js';
import type { NodeHost } from '../../lib/host/host.js';
import { convergeNode, resetNode, type ConvergeOptions } from '../../lib/node/converge.js';
import { acquireNodeLock, lockPathFor } from '../../lib/node/node-lock.js';
import { observeNode } from '../../lib/node/observe.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { CONTAINERD_BUILDS, CRICTL, standInScript, testContainerd, writeStandInShim, type ContainerdBuild, type TestContainerd } from '../../scripts/lab/support/containerd.js';
import { containerdFixture } from '../support/fixtures.js';

process.env['PATH'] = `${path.dirname(CRICTL)}:${process.env['PATH']}`;
const shimSource = mkdtempSync(path.join(tmpdir(), 'kubewasm-shims-'));
for (const shim of Object.values(SHIMS)) writeStandInShim(shimSource, shim.binaryName);
const wasmtime = () => shimsFromDir(shimSource, [SHIMS.wasmtime]);
const host = new LocalHost({ name: 'test-node' });
const runtimes = (c: TestContainerd) => Object.keys(c.criInfo().config.containerd.runtimes);

function optionsFor(c: TestContainerd, containerd: SetupOverrides = {}): ConvergeOptions {
  return {
    containerd: { configPath: c.configPath, address: c.socket, binary: c.binary, shimDir: c.shimDir, restart: { kind: 'command', argv: ['sh', c.restartScript] }, ...containerd },
    stateDir: path.join(c.dir, 'state-kubewasm'),
    criTimeoutMs: 30_000,
  };
}

/** k3s's rendering, the one action a user template has: the template with {{ template "base" . }} replaced by the base; no template, the base. */
function writeK3sRenderer(dir: string): string {
  const file = path.join(dir, 'k3s-render.mjs');
  writeFileSync(
    file,
    `import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const [template, base, out] = process.argv.slice(2);
const baseText = readFileSync(base, 'utf8');
writeFileSync(out, existsSync(template) ? readFileSync(template, 'utf8').replace('{{ template "base" . }}', baseText) : baseText);
`,
  );
  return file;
}


/** A real containerd 2.2 with its default config, started. */
function defaultContainerd22(): TestContainerd {
  const c = testContainerd(CONTAINERD_BUILDS['2.2']);
  copyFileSync(containerdFixture('containerd-2.2.9-default.toml'), c.configPath);
  c.start();
  return c;
}

describe('k3s with a shim off its PATH: the template rendered over the base, run after run (containerd 2.2)', () => {
  let c: TestContainerd;
  let dir: string;
  let template: string;
  let userTemplate: Buffer;
  let firstRender: Buffer;
  const installDir = () => path.join(dir, 'opt-wasm');
  const k3s = () => optionsFor(c, { flavour: 'k3s', configPath: template, configKind: 'k3s-template', renderedConfigPath: path.join(c.dir, 'rendered.toml') });

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-k3s-'));
    const base = path.join(dir, 'base.toml');
    copyFileSync(containerdFixture('containerd-2.2.9-default.toml'), base);
    template = path.join(dir, 'config-v3.toml.tmpl');
    userTemplate = Buffer.from('{{ template "base" . }}\n\n# Added by the cluster admin: a GPU runtime.\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.nvidia]\n  runtime_type = "io.containerd.runc.v2"\n');
    writeFileSync(template, userTemplate);
    const renderer = writeK3sRenderer(dir);
    // The restart script renders into its own directory's rendered.toml, which containerd then loads.
    c = testContainerd(CONTAINERD_BUILDS['2.2'], { configFile: template, render: `${process.execPath} ${renderer} ${template} ${base} "$(dirname "$0")/rendered.toml"` });
    c.start();
    firstRender = readFileSync(path.join(c.dir, 'rendered.toml'));
  });
  afterAll(() => c?.cleanup());

  it('install: kubewasm writes its block into the template, k3s renders it, containerd lists the runtime', async () => {
    const result = await convergeNode(host, { shims: await wasmtime(), installDir: installDir() }, k3s());
    expect(result.applied).toBe(true);
    expect(result.plan.config.registered).toEqual(['wasmtime']);
    expect(readFileSync(template, 'utf8').startsWith(userTemplate.toString())).toBe(true);
    expect(readFileSync(path.join(c.dir, 'rendered.toml'), 'utf8')).toContain('# BEGIN kubewasm');
    expect(runtimes(c)).toEqual(expect.arrayContaining(['runc', 'nvidia', 'wasmtime']));
  });

  it('install again, twice: nothing changes, nothing adopted, no restart', async () => {
    const pid = readFileSync(path.join(c.dir, 'containerd.pid'), 'utf8');
    const before = readFileSync(template);
    for (let run = 0; run < 2; run++) {
      const result = await convergeNode(host, { shims: await wasmtime(), installDir: installDir() }, k3s());
      expect(result.applied).toBe(false);
      expect(result.plan.config.adopted).toEqual([]);
      expect(result.plan.config.registered).toEqual(['wasmtime']);
    }
    expect(readFileSync(template).equals(before)).toBe(true);
    expect(readFileSync(path.join(c.dir, 'containerd.pid'), 'utf8')).toBe(pid);
    expect(runtimes(c)).toContain('wasmtime');
  });

  it('uninstall: the template and the render are byte for byte what they were, the install dir is gone', async () => {
    const result = await resetNode(host, k3s());
    expect(result.applied).toBe(true);
    expect(readFileSync(template).equals(userTemplate)).toBe(true);
    expect(readFileSync(path.join(c.dir, 'rendered.toml')).equals(firstRender)).toBe(true);
    expect(runtimes(c)).not.toContain('wasmtime');
    expect(existsSync(installDir())).toBe(false);
  });
});

describe('a shim binary that was already at the install path, and what uninstall leaves (containerd 2.2)', () => {
  let c: TestContainerd;
  beforeAll(() => {
    c = defaultContainerd22();
  });
  afterAll(() => c?.cleanup());

  it("someone's own binary is replaced, kept in kubewasm's state dir, and given back byte for byte at uninstall", async () => {
    const theirs = path.join(c.shimDir, 'containerd-shim-wasmtime-v1');
    const original = Buffer.from(`${standInScript('containerd-shim-wasmtime-v1')}# the user's own build\n`);
    writeFileSync(theirs, original, { mode: 0o750 });
    const dry = await convergeNode(host, { shims: await wasmtime() }, { ...optionsFor(c), dryRun: true });
    expect(dry.plan.uploads[0]).toMatchObject({ keep: true });
    const installed = await convergeNode(host, { shims: await wasmtime() }, optionsFor(c));
    expect(installed.applied).toBe(true);
    expect(readFileSync(theirs).equals(readFileSync(path.join(shimSource, 'containerd-shim-wasmtime-v1')))).toBe(true);
    const record = JSON.parse(readFileSync(path.join(c.dir, 'state-kubewasm', 'installed.json'), 'utf8'));
    expect(record.shims[0]).toMatchObject({ name: 'wasmtime', version: '0.0.0', ran: 'containerd-shim-wasmtime-v1:' });
    expect(readdirSync(path.join(c.dir, 'state-kubewasm', 'kept'))).toEqual([record.shims[0].kept]);

    await resetNode(host, optionsFor(c));
    expect(readFileSync(theirs).equals(original)).toBe(true);
    expect(existsSync(path.join(c.dir, 'state-kubewasm'))).toBe(false);
  });

  it('uninstall leaves no directory kubewasm created and no lock file in /run/lock', async () => {
    const installDir = path.join(c.dir, 'made', 'by', 'kubewasm');
    const lock = lockPathFor(optionsFor(c).stateDir!);
    await convergeNode(host, { shims: await wasmtime(), installDir }, optionsFor(c));
    expect(existsSync(path.join(installDir, 'containerd-shim-wasmtime-v1'))).toBe(true);
    expect(existsSync(lock)).toBe(false);
    await resetNode(host, optionsFor(c));
    expect(existsSync(path.join(c.dir, 'made'))).toBe(false);
    expect(existsSync(lock)).toBe(false);
    expect(readFileSync(c.configPath).equals(readFileSync(containerdFixture('containerd-2.2.9-default.toml')))).toBe(true);
  });

  // An ELF header for another machine (aarch64 on this x86_64 host, or the reverse), and a real program cut short.
  const otherArch = () => {
    const elf = Buffer.alloc(64);
    elf.write('\x7fELF', 0, 'latin1');
    elf[4] = 2;
    elf[5] = 1;
    elf[6] = 1;
    elf.writeUInt16LE(2, 16);
    elf.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18);
    return elf;
  };
  it.each([
    { what: 'built for another architecture', bytes: otherArch },
    { what: 'truncated', bytes: () => readFileSync('/usr/bin/true').subarray(0, 4096) },
  ])('a binary $what is refused by its own -v before containerd is restarted', async ({ bytes }) => {
    const broken = mkdtempSync(path.join(tmpdir(), 'kubewasm-broken-'));
    writeFileSync(path.join(broken, 'containerd-shim-wasmtime-v1'), bytes(), { mode: 0o755 });
    const pid = readFileSync(path.join(c.dir, 'containerd.pid'), 'utf8');
    const config = readFileSync(c.configPath);
    const target = path.join(c.shimDir, 'containerd-shim-wasmtime-v1');
    const there = existsSync(target) ? readFileSync(target) : undefined; // the user's own binary, given back by the test above
    const run = convergeNode(host, { shims: await shimsFromDir(broken, [SHIMS.wasmtime]) }, optionsFor(c));
    await expect(run).rejects.toThrow(/the wasmtime shim does not run on this node: .*containerd was not restarted; the node was left as it was \(nothing was restarted\)/s);
    expect(readFileSync(path.join(c.dir, 'containerd.pid'), 'utf8')).toBe(pid);
    expect(readFileSync(c.configPath).equals(config)).toBe(true);
    expect(existsSync(target) ? readFileSync(target) : undefined).toEqual(there);
    expect(existsSync(path.join(c.dir, 'state-kubewasm'))).toBe(false);
  });
});

describe('distribution layouts over real containerd', () => {
  const started: TestContainerd[] = [];
  afterEach(() => {
    for (const c of started.splice(0)) c.cleanup();
  });
  const start = (build: ContainerdBuild, options: Parameters<typeof testContainerd>[1] = {}) => {
    const c = testContainerd(build, options);
    started.push(c);
    return c;
  };

  it('EKS: kubewasm edits the bootstrap source and its copy; a re-bootstrap keeps the runtime; uninstall gives both back', async () => {
    const c = start(CONTAINERD_BUILDS['2.2']);
    const source = path.join(c.dir, 'eks', 'containerd-config.toml');
    mkdirSync(path.dirname(source));
    copyFileSync(containerdFixture('containerd-2.2.9-default.toml'), source);
    copyFileSync(source, c.configPath);
    const original = readFileSync(source);
    c.start();
    const eks = optionsFor(c, { flavour: 'eks', configPath: source, copiedConfigPath: c.configPath });
    await convergeNode(host, { shims: await wasmtime() }, eks);
    expect(readFileSync(source, 'utf8')).toContain('# BEGIN kubewasm');
    expect(readFileSync(c.configPath).equals(readFileSync(source))).toBe(true);
    expect(runtimes(c)).toContain('wasmtime');
    // bootstrap.sh: `cmp -s source live || cp source live`, then containerd restarts
    execFileSync('sh', ['-c', `cmp -s ${source} ${c.configPath} || cp ${source} ${c.configPath}`]);
    c.start();
    expect(runtimes(c)).toContain('wasmtime');
    await resetNode(host, eks);
    expect(readFileSync(source).equals(original)).toBe(true);
    expect(readFileSync(c.configPath).equals(original)).toBe(true);
    expect(runtimes(c)).not.toContain('wasmtime');
  });

  it('microk8s (containerd 1.6): the snap template, rendered with its variables, gets the runtime; bytes back', async () => {
    const c = start(CONTAINERD_BUILDS['1.6']);
    const templatePath = path.join(c.dir, 'containerd-template.toml');
    copyFileSync(containerdFixture('microk8s-containerd-template.toml'), templatePath);
    const original = readFileSync(templatePath);
    // The snap's start script: substitute ${SNAP_DATA}, ${RUNTIME}, ${SNAPSHOTTER} into the file containerd reads.
    writeFileSync(c.restartScript, readFileSync(c.restartScript, 'utf8').replace('# A missing config file', `sed -e 's|\${SNAP_DATA}|${c.dir}|g; s|\${RUNTIME}|runc|g; s|\${SNAPSHOTTER}|overlayfs|g' ${templatePath} > ${c.configPath}\n# A missing config file`));
    c.start();
    const microk8s = optionsFor(c, { flavour: 'microk8s', configPath: templatePath });
    await convergeNode(host, { shims: await wasmtime() }, microk8s);
    expect(runtimes(c)).toEqual(expect.arrayContaining(['runc', 'wasmtime']));
    await resetNode(host, microk8s);
    expect(readFileSync(templatePath).equals(original)).toBe(true);
    expect(runtimes(c)).not.toContain('wasmtime');
  });

  it("k0s (containerd 2.2): kubewasm's own drop-in, imported by the generated config, created and removed", async () => {
    const c = start(CONTAINERD_BUILDS['2.2']);
    const dropIns = path.join(c.dir, 'containerd.d');
    mkdirSync(dropIns);
    writeFileSync(c.configPath, `version = 3\nimports = ["${dropIns}/*.toml"]\n`);
    c.start();
    const dropIn = path.join(dropIns, 'kubewasm.toml');
    const k0s = optionsFor(c, { flavour: 'k0s', configPath: dropIn });
    await convergeNode(host, { shims: await wasmtime() }, k0s);
    expect(readFileSync(dropIn, 'utf8')).toContain('(kubewasm created this file)');
    expect(runtimes(c)).toEqual(expect.arrayContaining(['runc', 'wasmtime']));
    await resetNode(host, k0s);
    expect(existsSync(dropIn)).toBe(false);
    expect(runtimes(c)).not.toContain('wasmtime');
  });

  it('a node without crictl: the CRI is checked through ctr, and the install still converges', async () => {
    const c = start(CONTAINERD_BUILDS['2.2']);
    c.start();
    const saved = process.env['PATH']!;
    process.env['PATH'] = saved.split(':').filter((dir) => dir !== path.dirname(CRICTL)).join(':');
    try {
      expect(() => execFileSync('sh', ['-c', 'command -v crictl'])).toThrow();
      await convergeNode(host, { shims: await wasmtime() }, optionsFor(c));
      const seen = await observeNode(host, { shims: await wasmtime() }, optionsFor(c));
      expect(seen.cri.runtimes).toBeUndefined(); // ctr cannot list the CRI's runtimes: only its plugin state
      expect(seen.cri.ready).toBe(true);
      expect(seen.cri.detail).toMatch(/io\.containerd\.grpc\.v1 cri .*ok/);
    } finally {
      process.env['PATH'] = saved;
    }
    expect(runtimes(c)).toContain('wasmtime'); // asked with the test's own crictl
  });
});

/** The real local transport, which loses its connection for good once `when` matches an exec (as an SSH session that drops). */
function droppingAt(real: NodeHost, when: (argv: string[]) => boolean): NodeHost {
  let dropped = false;
  return new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop === 'exec' && when(args[0] as string[])) dropped = true;
        if (dropped && prop !== 'close' && prop !== 'start') return Promise.reject(new Error('the connection to the node was lost'));
        return value.apply(target, args);
      };
    },
  });
}

describe("an interrupted run's journal on a real node (containerd 2.2)", () => {
  let c: TestContainerd;
  beforeAll(() => {
    c = defaultContainerd22();
  });
  afterAll(() => c?.cleanup());
  const original = () => readFileSync(containerdFixture('containerd-2.2.9-default.toml'));
  const journal = () => path.join(c.dir, 'state-kubewasm', 'journal.json');

  it('undo: cut off after placing the shim, before the config; the next run takes it all back', async () => {
    const cut = droppingAt(host, (argv) => argv[1] === '-v');
    await expect(convergeNode(cut, { shims: await wasmtime() }, optionsFor(c))).rejects.toThrow(/the connection to the node was lost.*the next run finds .*journal\.json and finishes the undo first/s);
    expect(JSON.parse(readFileSync(journal(), 'utf8'))).toMatchObject({ phase: 'files' });
    expect(existsSync(path.join(c.shimDir, 'containerd-shim-wasmtime-v1'))).toBe(true);
    const next = await resetNode(host, optionsFor(c));
    expect(next.recovery).toBe('undone');
    expect(existsSync(path.join(c.shimDir, 'containerd-shim-wasmtime-v1'))).toBe(false);
    expect(readFileSync(c.configPath).equals(original())).toBe(true);
    expect(existsSync(path.join(c.dir, 'state-kubewasm'))).toBe(false);
  });

  it('complete: cut off after writing the config, before the restart; the next run restarts containerd and finishes', async () => {
    const cut = droppingAt(host, (argv) => argv.includes(c.restartScript));
    await expect(convergeNode(cut, { shims: await wasmtime() }, optionsFor(c))).rejects.toThrow(/the connection to the node was lost/);
    expect(JSON.parse(readFileSync(journal(), 'utf8'))).toMatchObject({ phase: 'config' });
    expect(runtimes(c)).not.toContain('wasmtime');
    const next = await convergeNode(host, { shims: await wasmtime() }, optionsFor(c));
    expect(next.recovery).toBe('completed');
    expect(next.applied).toBe(false);
    expect(runtimes(c)).toContain('wasmtime');
    expect(existsSync(journal())).toBe(false);
    await resetNode(host, optionsFor(c));
  });

  it('conflict: the config was edited by hand since; the next run refuses and says how to proceed', async () => {
    const cut = droppingAt(host, (argv) => argv.includes(c.restartScript));
    await expect(convergeNode(cut, { shims: await wasmtime() }, optionsFor(c))).rejects.toThrow(/the connection to the node was lost/);
    writeFileSync(c.configPath, `${readFileSync(c.configPath, 'utf8')}# edited by hand\n`);
    const edited = readFileSync(c.configPath);
    const next = convergeNode(host, { shims: await wasmtime() }, optionsFor(c));
    await expect(next).rejects.toThrow(/did not finish: .*config\.toml is neither the config it started from nor the one it wrote: someone changed it since/);
    await expect(next).rejects.toMatchObject({ fix: expect.stringContaining(`then remove ${journal()}`) });
    expect(readFileSync(c.configPath).equals(edited)).toBe(true);
  });
});

describe('the node lock file in /run/lock', () => {
  const lockPath = `/run/lock/kubewasm-test-${process.pid}.lock`;

  it('is removed on release, and never held by two runs at once, even when one releases while the other opens it', async () => {
    const first = await acquireNodeLock(host, lockPath, 'first');
    await expect(acquireNodeLock(host, lockPath, 'second')).rejects.toThrow(/another kubewasm run is changing this node: first node-pid=\d+/);
    await first.release();
    expect(existsSync(lockPath)).toBe(false);
    // Many rounds of two runs racing for the lock while each releases at once: at most one holds it at any time.
    let holders = 0;
    let most = 0;
    const contender = async (name: string) => {
      for (let round = 0; round < 15; round++) {
        const lock = await acquireNodeLock(host, lockPath, name).catch(() => undefined);
        if (!lock) continue;
        holders += 1;
        most = Math.max(most, holders);
        await new Promise((resolve) => setTimeout(resolve, 5));
        holders -= 1;
        await lock.release();
      }
    };
    await Promise.all([contender('a'), contender('b'), contender('c')]);
    expect(most).toBe(1);
    expect(existsSync(lockPath)).toBe(false);
  });
});
