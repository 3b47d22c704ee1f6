import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { planConfig, renderedBase, renderK3sTemplate, type ConfigFacts } from '../../lib/containerd/config-plan.js';
import type { RuntimeSpec } from '../../lib/containerd/runtime.js';
import { restoreMarkedLines } from '../../lib/containerd/block.js';
import { getPath } from '../../lib/containerd/toml.js';
import { errorOf } from '../support/errors.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/containerd/${name}`, import.meta.url));
const V1_6 = { major: 1, minor: 6, patch: 20 };
const V2_2 = { major: 2, minor: 2, patch: 9 };
const V2_4 = { major: 2, minor: 4, patch: 2 };

const wasmtime: RuntimeSpec = { name: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1' };
const spin: RuntimeSpec = { name: 'spin', runtimeType: 'io.containerd.spin.v2' };
const V2_TABLE = ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes'];
const V3_TABLE = ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'];

function facts(content: Buffer | string | undefined, containerd = V2_2, extra: Partial<ConfigFacts> = {}): ConfigFacts {
  return { path: '/etc/containerd/config.toml', kind: 'toml', content: typeof content === 'string' ? Buffer.from(content) : content, containerd, ...extra };
}


const realConfigs = [
  { file: 'containerd-1.6.20-default.toml', containerd: V1_6, version: 2, table: V2_TABLE, systemd: undefined },
  { file: 'containerd-2.2.9-default.toml', containerd: V2_2, version: 3, table: V3_TABLE, systemd: false },
  { file: 'containerd-2.4.2-default.toml', containerd: V2_4, version: 4, table: V3_TABLE, systemd: false },
  { file: 'kind-node-config.toml', containerd: V2_2, version: 2, table: V2_TABLE, systemd: true },
  { file: 'microk8s-containerd-template.toml', containerd: V1_6, version: 2, table: V2_TABLE, systemd: undefined },
  { file: 'kind-node-config.toml', containerd: V1_6, version: 2, table: V2_TABLE, systemd: undefined, configBody: 'SystemdCgroup = true\n' },
];

describe.each(realConfigs)('planConfig on $file for containerd $containerd.major.$containerd.minor', ({ file, containerd, version, table, systemd, configBody }) => {
  const original = fixture(file);
  const plan = planConfig(facts(original, containerd), [wasmtime, spin]);
  const after = plan.after!;

  it('registers the runtimes under the table of the version the file declares', () => {
    expect(plan.changed).toBe(true);
    expect(plan.configVersion).toBe(version);
    expect(plan.registered).toEqual(['wasmtime', 'spin']);
    const parsed = parse(after.toString()) as Record<string, unknown>;
    expect(getPath(parsed, [...table, 'wasmtime', 'runtime_type'])).toBe('io.containerd.wasmtime.v1');
    expect(getPath(parsed, [...table, 'spin', 'runtime_type'])).toBe('io.containerd.spin.v2');
  });

  // containerd >= 2.3 also gets its use_local_image_pull = false line marked and set true (see the image-pull tests below).
  const userPart = Buffer.from(restoreMarkedLines(after.toString(), 'test').text);

  it("keeps every byte of the user's file (but a line kubewasm marked) and only appends kubewasm's block", () => {
    expect(userPart.subarray(0, original.length).equals(original)).toBe(true);
    expect(userPart.toString().slice(original.length)).toMatch(/^\n# BEGIN kubewasm[^\n]*\n[\s\S]*\n# END kubewasm\n$/);
    expect(userPart.equals(after)).toBe(containerd.minor < 3 || containerd.major < 2);
  });

  it("copies runc's SystemdCgroup setting into each Wasm runtime", () => {
    const parsed = parse(after.toString()) as Record<string, unknown>;
    expect(getPath(parsed, [...table, 'wasmtime', 'options', 'SystemdCgroup'])).toBe(systemd);
    // containerd 1.x hands runtime options to the shim only as ConfigBody TOML.
    expect(getPath(parsed, [...table, 'wasmtime', 'options', 'ConfigBody'])).toBe(configBody);
  });

  it('changes nothing when applied a second time', () => {
    const again = planConfig(facts(after, containerd), [wasmtime, spin]);
    expect(again.changed).toBe(false);
    expect(again.after!.equals(after)).toBe(true);
  });

  it('gives back the original bytes exactly on removal', () => {
    const removal = planConfig(facts(after, containerd), []);
    expect(removal.changed).toBe(true);
    expect(removal.dropped.sort()).toEqual(['spin', 'wasmtime']);
    expect(removal.after!.equals(original)).toBe(true);
  });

  it('drops one runtime and keeps the other when the wanted set shrinks', () => {
    const shrink = planConfig(facts(after, containerd), [wasmtime]);
    expect(shrink.dropped).toEqual(['spin']);
    expect(Buffer.from(restoreMarkedLines(shrink.after!.toString(), 'test').text).subarray(0, original.length).equals(original)).toBe(true);
    const parsed = parse(shrink.after!.toString()) as Record<string, unknown>;
    expect(getPath(parsed, [...table, 'spin'])).toBeUndefined();
    expect(getPath(parsed, [...table, 'wasmtime', 'runtime_type'])).toBe('io.containerd.wasmtime.v1');
  });
});

describe('planConfig: missing file', () => {
  it('creates a minimal file of the version the binary writes, and removes it again', () => {
    for (const [containerd, version] of [[V1_6, 2], [V2_2, 3], [V2_4, 4]] as const) {
      const plan = planConfig(facts(undefined, containerd), [wasmtime]);
      expect(plan.configVersion).toBe(version);
      expect(plan.after!.toString()).toMatch(new RegExp(`^version = ${version}\\n\\n# BEGIN kubewasm[^\\n]*kubewasm created this file`));
      const removal = planConfig(facts(plan.after, containerd), []);
      expect(removal.after).toBeUndefined();
      expect(removal.changed).toBe(true);
    }
  });

  it("carries containerd's default runc on 1.x, which would otherwise lose it, and not on 2.x", () => {
    const v1 = parse(planConfig(facts('version = 2\n', V1_6), [wasmtime]).after!.toString()) as Record<string, unknown>;
    expect(getPath(v1, [...V2_TABLE, 'runc', 'runtime_type'])).toBe('io.containerd.runc.v2');
    const v2 = parse(planConfig(facts('version = 2\n', V2_2), [wasmtime]).after!.toString()) as Record<string, unknown>;
    expect(getPath(v2, [...V2_TABLE, 'runc'])).toBeUndefined();
    const defined = parse(planConfig(facts(fixture('kind-node-config.toml'), V1_6), [wasmtime]).after!.toString()) as Record<string, unknown>;
    expect(getPath(defined, [...V2_TABLE, 'runc', 'base_runtime_spec'])).toBe('/etc/containerd/cri-base.json');
  });

  it('leaves a missing file missing when nothing is wanted', () => {
    const plan = planConfig(facts(undefined), []);
    expect(plan.changed).toBe(false);
    expect(plan.after).toBeUndefined();
  });

  it('keeps a created file whose user part was edited since', () => {
    const created = planConfig(facts(undefined), [wasmtime]).after!.toString();
    const edited = created.replace('version = 3\n', 'version = 3\nroot = "/data/containerd"\n');
    const removal = planConfig(facts(edited), []);
    expect(removal.after!.toString()).toBe('version = 3\nroot = "/data/containerd"\n');
  });
});

describe('planConfig: what is already there', () => {
  it('adopts a runtime the user registered identically and writes nothing for it', () => {
    const text = `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmtime]\n  runtime_type = "io.containerd.wasmtime.v1"\n  runtime_path = ""\n`;
    const plan = planConfig(facts(text, V1_6), [wasmtime]);
    expect(plan.adopted).toEqual(['wasmtime']);
    expect(plan.changed).toBe(false);
    expect(plan.after!.toString()).toBe(text);
  });

  it('refuses a runtime of the same name that the user registered differently', () => {
    const text = `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmtime]\n  runtime_type = "io.containerd.runc.v2"\n`;
    const error = errorOf(() => planConfig(facts(text, V1_6), [wasmtime]));
    expect(error.what).toContain(`runtime 'wasmtime' is already registered with runtime_type "io.containerd.runc.v2"`);
    expect(error.where).toBe('/etc/containerd/config.toml');
    expect(error.fix).toContain('remove or rename');
  });

  it('keeps text the user added after the block, and replaces the block in place', () => {
    const first = planConfig(facts('version = 3\n'), [wasmtime]).after!.toString();
    const withTail = `${first}# user tail\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.other]\n  runtime_type = "io.containerd.runc.v2"\n`;
    const second = planConfig(facts(withTail), [wasmtime, spin]).after!.toString();
    expect(second.endsWith('# user tail\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.other]\n  runtime_type = "io.containerd.runc.v2"\n')).toBe(true);
    expect(planConfig(facts(second), []).after!.toString()).toBe(`version = 3\n# user tail\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.other]\n  runtime_type = "io.containerd.runc.v2"\n`);
  });

  it('restores a file that had no final newline', () => {
    const text = 'version = 3\nroot = "/var/lib/containerd"';
    const after = planConfig(facts(text), [wasmtime]).after!;
    expect(planConfig(facts(after), []).after!.toString()).toBe(text);
  });

  it('keeps CRLF line endings of the user part', () => {
    const text = 'version = 3\r\nroot = "/var/lib/containerd"\r\n';
    const after = planConfig(facts(text), [wasmtime]).after!;
    expect(planConfig(facts(after), []).after!.toString()).toBe(text);
  });

  it('registers an install directory off the PATH with runtime_path', () => {
    const plan = planConfig(facts('version = 3\n'), [{ ...wasmtime, runtimePath: '/home/kubernetes/bin/containerd-shim-wasmtime-v1' }]);
    const parsed = parse(plan.after!.toString()) as Record<string, unknown>;
    expect(getPath(parsed, [...V3_TABLE, 'wasmtime', 'runtime_path'])).toBe('/home/kubernetes/bin/containerd-shim-wasmtime-v1');
  });

  it('names a shim off the PATH by its absolute path as runtime_type on containerd 1.x, which ignores runtime_path', () => {
    const shim = '/opt/kubewasm/bin/containerd-shim-wasmtime-v1';
    const plan = planConfig(facts(fixture('containerd-1.6.20-default.toml'), V1_6), [{ ...wasmtime, runtimePath: shim }]);
    const parsed = parse(plan.after!.toString()) as Record<string, unknown>;
    expect(getPath(parsed, [...V2_TABLE, 'wasmtime', 'runtime_type'])).toBe(shim);
    expect(getPath(parsed, [...V2_TABLE, 'wasmtime', 'runtime_path'])).toBeUndefined();
    expect(planConfig(facts(plan.after, V1_6), [{ ...wasmtime, runtimePath: shim }]).changed).toBe(false);
  });

  it('writes a version 2 table for a version 2 file on containerd 2.x, which migrates it', () => {
    const plan = planConfig(facts(fixture('kind-node-config.toml'), V2_4), [wasmtime]);
    expect(plan.configVersion).toBe(2);
    expect(plan.after!.toString()).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmtime]');
  });
});

describe('planConfig: bad input leaves the file untouched with a clear error', () => {
  it('malformed TOML: says the line', () => {
    const error = errorOf(() => planConfig(facts('version = 3\n[plugins\nfoo = 1\n'), [wasmtime]));
    expect(error.what).toMatch(/not valid TOML at line 2/);
    expect(error.fix).toContain('untouched');
  });

  it('version 1 (no version key): refused with how to migrate', () => {
    const error = errorOf(() => planConfig(facts('[plugins.cri.containerd]\n  snapshotter = "overlayfs"\n', V1_6), [wasmtime]));
    expect(error.what).toContain('version 1');
    expect(error.fix).toContain('containerd config migrate');
  });

  it('a version this containerd cannot read (kind v0.31 wrote 4 for a 2.2)', () => {
    const error = errorOf(() => planConfig(facts(fixture('containerd-2.4.2-default.toml'), V2_2), [wasmtime]));
    expect(error.what).toBe("the file declares config version 4, but this node's containerd 2.2.9 reads only up to version 3; containerd will not start with it");
  });

  it('plugins written as an inline table', () => {
    const text = 'version = 2\nplugins = { "io.containerd.grpc.v1.cri" = { sandbox_image = "pause:3.9" } }\n';
    const error = errorOf(() => planConfig(facts(text, V1_6), [wasmtime]));
    expect(error.what).toContain("'plugins' is written as an inline table");
    expect(error.fix).toContain('[plugins]');
  });

  it('a deeper inline table (containerd = { … })', () => {
    const text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  containerd = { snapshotter = "overlayfs" }\n';
    const error = errorOf(() => planConfig(facts(text, V1_6), [wasmtime]));
    expect(error.what).toContain(`'plugins."io.containerd.grpc.v1.cri".containerd' is written as an inline table`);
  });

  it('not UTF-8', () => {
    const error = errorOf(() => planConfig(facts(Buffer.from([0x76, 0x65, 0x72, 0xff, 0x0a])), [wasmtime]));
    expect(error.what).toContain('not valid UTF-8');
  });

  it("a damaged kubewasm block (END line deleted by hand)", () => {
    const after = planConfig(facts('version = 3\n'), [wasmtime]).after!.toString().replace('# END kubewasm\n', '');
    const error = errorOf(() => planConfig(facts(after), []));
    expect(error.what).toContain("kubewasm's block is damaged");
  });

  it('an unknown config version', () => {
    expect(errorOf(() => planConfig(facts('version = 7\n'), [wasmtime])).what).toContain('unknown config version 7');
  });

  it('the same runtime asked for twice with different settings is bad usage', () => {
    const error = errorOf(() => planConfig(facts('version = 3\n'), [wasmtime, { ...wasmtime, runtimeType: 'io.containerd.wasmer.v1' }]));
    expect(error.exitCode).toBe(2);
  });
});

describe('planConfig: k3s templates', () => {
  const k3s = (content: string | undefined, rendered: string, extra: Partial<ConfigFacts> = {}): ConfigFacts => ({
    path: '/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl',
    kind: 'k3s-template',
    content: content === undefined ? undefined : Buffer.from(content),
    containerd: { major: 1, minor: 7, patch: 23 },
    rendered,
    ...extra,
  });
  const base = fixture('k3s-config.toml').toString();
  const baseWithWasmtime = fixture('k3s-config-with-wasmtime.toml').toString();
  const userTemplate = fixture('k3s-config.toml.tmpl').toString();

  it('lets k3s register a shim on its PATH itself: no template, a restart', () => {
    const plan = planConfig(k3s(undefined, base, { autoRegistersShims: true }), [wasmtime]);
    expect(plan.autoRegistered).toEqual(['wasmtime']);
    expect(plan.changed).toBe(false);
    expect(plan.after).toBeUndefined();
  });

  it('adopts what k3s already registered', () => {
    const plan = planConfig(k3s(undefined, baseWithWasmtime, { autoRegistersShims: true }), [wasmtime]);
    expect(plan.adopted).toEqual(['wasmtime']);
    expect(plan.autoRegistered).toEqual([]);
  });

  it('creates a template from the base template for a runtime off the PATH, and removes it again', () => {
    const plan = planConfig(k3s(undefined, base, { autoRegistersShims: true }), [{ ...wasmtime, runtimePath: '/opt/wasm/containerd-shim-wasmtime-v1' }]);
    expect(plan.after!.toString()).toMatch(/^\{\{ template "base" \. \}\}\n\n# BEGIN kubewasm/);
    expect(planConfig(k3s(plan.after!.toString(), base), []).after).toBeUndefined();
  });

  it("appends to the admin's template and keeps it byte for byte", () => {
    const plan = planConfig(k3s(userTemplate, base), [spin]);
    expect(plan.after!.toString().startsWith(userTemplate)).toBe(true);
    expect(planConfig(k3s(plan.after!.toString(), base), []).after!.toString()).toBe(userTemplate);
  });

  it('refuses a frozen copy of a generated config as template', () => {
    const error = errorOf(() => planConfig(k3s(base, base), [spin]));
    expect(error.what).toContain('frozen copy');
    expect(error.fix).toContain('{{ template "base" . }}');
  });

  // k3s renders config.toml as its base followed by the template's text around {{ template "base" . }}.
  const render = (template: string | undefined, baseText: string) => (template === undefined ? baseText : template.replace('{{ template "base" . }}', baseText));
  const offPath: RuntimeSpec = { ...wasmtime, runtimePath: '/opt/wasm/containerd-shim-wasmtime-v1' };

  it.each([
    { label: 'containerd 1.7', containerd: { major: 1, minor: 7, patch: 23 } },
    { label: 'containerd 2.2', containerd: V2_2 },
  ])('a shim off the PATH over repeated k3s renders ($label): no table counted twice, kubewasm never adopts its own runtime, bytes back', ({ containerd }) => {
    let template: string | undefined = userTemplate;
    let rendered = render(template, base);
    const install = planConfig(k3s(template, rendered, { containerd, autoRegistersShims: true }), [offPath]);
    expect(install.registered).toEqual(['wasmtime']);
    for (let run = 0; run < 3; run++) {
      template = install.after!.toString();
      rendered = render(template, base); // k3s restarted and rendered kubewasm's block into config.toml
      const again = planConfig(k3s(template, rendered, { containerd, autoRegistersShims: true }), [offPath]);
      expect(again.changed).toBe(false);
      expect(again.registered).toEqual(['wasmtime']);
      expect(again.adopted).toEqual([]);
    }
    const uninstall = planConfig(k3s(template, rendered, { containerd, autoRegistersShims: true }), []);
    expect(uninstall.dropped).toEqual(['wasmtime']);
    expect(uninstall.after!.toString()).toBe(userTemplate);
    expect(render(uninstall.after!.toString(), base)).toBe(render(userTemplate, base));
  });

  it('a template kubewasm created, rendered by k3s, is removed again whole', () => {
    const install = planConfig(k3s(undefined, base, { autoRegistersShims: true }), [offPath]);
    const template = install.after!.toString();
    const again = planConfig(k3s(template, render(template, base), { autoRegistersShims: true }), [offPath]);
    expect(again.changed).toBe(false);
    expect(again.adopted).toEqual([]);
    expect(planConfig(k3s(template, render(template, base)), []).after).toBeUndefined();
  });

  it('recovers the base from a render; a render it cannot explain loses only kubewasm\'s block', () => {
    expect(renderedBase(render(userTemplate, base), [userTemplate], 'x')).toBe(base);
    expect(renderK3sTemplate(userTemplate, base)).toBe(render(userTemplate, base));
    expect(renderK3sTemplate('{{ template "base" . }}\n{{ if .X }}y{{ end }}\n', base)).toBeUndefined();
    const withBlock = planConfig(k3s(undefined, base, { autoRegistersShims: true }), [offPath]).after!.toString();
    const stale = render(withBlock, base) + '# edited by hand since\n';
    expect(renderedBase(stale, ['{{ template "base" . }}\n'], 'x')).not.toContain('wasmtime');
  });
});

// The transfer plugin's setting that makes containerd >= 2.1 leave wasi/wasm layers packed (see lib/containerd/image-pull.ts).
const STRICT_TRANSFER = "\n[plugins.'io.containerd.transfer.v1.local']\n  check_platform_supported = true\n";
const CRI_IMAGES = ['plugins', 'io.containerd.cri.v1.images'];
const localPull = (text: Buffer | string) => getPath(parse(text.toString()) as Record<string, unknown>, [...CRI_IMAGES, 'use_local_image_pull']);

describe('planConfig: CRI pulls that unpack wasi/wasm images (use_local_image_pull on containerd >= 2.1)', () => {
  it("the 2.2 defaults need nothing: containerd 2.1 and 2.2's Transfer Service unpacks every platform (check_platform_supported = false)", () => {
    const plan = planConfig(facts(fixture('containerd-2.2.9-default.toml'), V2_2), [wasmtime]);
    expect(plan.imagePull).toMatchObject({ decision: 'not-needed', why: expect.stringContaining('check_platform_supported is false') });
    expect(plan.after!.toString()).not.toContain('use_local_image_pull = true');
  });

  it("the 2.4 defaults: containerd >= 2.3's Transfer Service unpacks only linux images, so their use_local_image_pull = false line becomes true, and comes back byte for byte", () => {
    const original = fixture('containerd-2.4.2-default.toml');
    const plan = planConfig(facts(original, V2_4), [wasmtime]);
    expect(plan.imagePull).toMatchObject({ decision: 'set', how: 'line', why: expect.stringMatching(/containerd >= 2.3 .*only images of its unpack_config's OS.*parent snapshot/) });
    expect(plan.after!.toString().split('\n')).toContain("    use_local_image_pull = true # kubewasm: replaced \"    use_local_image_pull = false\"; 'kubewasm node uninstall' puts it back");
    expect(localPull(plan.after!)).toBe(true);
    expect(planConfig(facts(plan.after!, V2_4), []).after!.equals(original)).toBe(true);
  });

  it('the 2.2 and 2.4 defaults with check_platform_supported = true: their use_local_image_pull = false line becomes true, marked with what it was, and comes back byte for byte', () => {
    for (const [file, containerd] of [['containerd-2.2.9-default.toml', V2_2], ['containerd-2.4.2-default.toml', V2_4]] as const) {
      const original = Buffer.from(fixture(file).toString().replace('check_platform_supported = false', 'check_platform_supported = true'));
      const plan = planConfig(facts(original, containerd), [wasmtime]);
      expect(plan.imagePull).toMatchObject({ decision: 'set', how: 'line', why: expect.stringMatching(/Transfer Service.*check_platform_supported = true.*parent snapshot/) });
      expect(localPull(plan.after!)).toBe(true);
      const lines = plan.after!.toString().split('\n');
      expect(lines).toContain("    use_local_image_pull = true # kubewasm: replaced \"    use_local_image_pull = false\"; 'kubewasm node uninstall' puts it back");
      expect(lines).not.toContain('    use_local_image_pull = false');
      expect(restoreMarkedLines(plan.after!.toString(), 'test').text.startsWith(original.toString())).toBe(true);
      expect(planConfig(facts(plan.after!, containerd), [wasmtime]).changed).toBe(false);
      expect(planConfig(facts(plan.after!, containerd), []).after!.equals(original)).toBe(true);
    }
  });

  it("the lab's 2.2 node config (only the pinned_images subtable): the table goes into kubewasm's block", () => {
    const original = Buffer.from(`version = 3\n\n[plugins]\n  [plugins.'io.containerd.cri.v1.images'.pinned_images]\n    sandbox = 'registry.k8s.io/pause:3.10'\n${STRICT_TRANSFER}`);
    const plan = planConfig(facts(original, V2_2), [wasmtime]);
    expect(plan.imagePull).toMatchObject({ decision: 'set', how: 'block' });
    expect(plan.after!.subarray(0, original.length).equals(original)).toBe(true);
    expect(plan.after!.toString()).toContain('[plugins."io.containerd.cri.v1.images"]\n  use_local_image_pull = true\n# END kubewasm');
    expect(localPull(plan.after!)).toBe(true);
    expect(planConfig(facts(plan.after!, V2_2), []).after!.equals(original)).toBe(true);
  });

  it('a table the user wrote without the key: one marked line added under its header, removed again', () => {
    const original = Buffer.from(`version = 3\n\n[plugins."io.containerd.cri.v1.images"]\n  snapshotter = "overlayfs"\n${STRICT_TRANSFER}`);
    const plan = planConfig(facts(original, V2_2), [wasmtime]);
    expect(plan.imagePull).toMatchObject({ decision: 'set', how: 'line' });
    expect(plan.after!.toString()).toContain('[plugins."io.containerd.cri.v1.images"]\n  use_local_image_pull = true # kubewasm: added;');
    expect(localPull(plan.after!)).toBe(true);
    expect(planConfig(facts(plan.after!, V2_2), []).after!.equals(original)).toBe(true);
  });

  it("kind's config on containerd 2.x: discard_unpacked_layers = true already makes containerd pull CRI images locally", () => {
    const original = Buffer.from(fixture('kind-node-config.toml').toString() + STRICT_TRANSFER);
    const plan = planConfig(facts(original, V2_2), [wasmtime]);
    expect(plan.imagePull).toEqual({ decision: 'already', why: expect.stringContaining('discard_unpacked_layers = true') });
    expect(plan.after!.subarray(0, original.length).equals(original)).toBe(true);
    expect(plan.after!.toString()).not.toContain('use_local_image_pull');
  });

  it('a config that already sets it true, and containerd 1.6 and 2.0, get nothing written', () => {
    const own = Buffer.from(`version = 3\n[plugins."io.containerd.cri.v1.images"]\n  use_local_image_pull = true\n${STRICT_TRANSFER}`);
    expect(planConfig(facts(own, V2_2), [wasmtime]).imagePull).toMatchObject({ decision: 'already' });
    const on16 = planConfig(facts(fixture('containerd-1.6.20-default.toml'), V1_6), [wasmtime]);
    expect(on16.imagePull).toMatchObject({ decision: 'not-needed' });
    expect(on16.after!.toString()).not.toContain('use_local_image_pull');
    expect(planConfig(facts(`version = 3\n${STRICT_TRANSFER}`, { major: 2, minor: 0, patch: 6 }), [wasmtime]).imagePull).toMatchObject({ decision: 'not-needed' });
  });

  it('says nothing and writes nothing when no Wasm runtime is asked for', () => {
    const plan = planConfig(facts(`version = 3\n${STRICT_TRANSFER}`, V2_2), []);
    expect(plan.imagePull).toBeUndefined();
    expect(plan.changed).toBe(false);
  });

  it('a table written inline under [plugins]: kubewasm cannot add the key and says the user must', () => {
    const original = `version = 3\n[plugins]\n  "io.containerd.cri.v1.images" = { snapshotter = "overlayfs" }\n  "io.containerd.transfer.v1.local" = { check_platform_supported = true }\n`;
    const plan = planConfig(facts(original, V2_2), [wasmtime]);
    expect(plan.imagePull).toMatchObject({ decision: 'cannot', why: expect.stringContaining('by hand') });
    expect(plan.registered).toEqual(['wasmtime']);
  });
});
