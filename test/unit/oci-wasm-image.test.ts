// The Wasm OCI image form (lib/oci/wasm-image.ts), read back with the tar
// package's parser: what a registry or `ctr images import` gets, and what
// runwasi's shims and containerd look at (platform, media types, diff_ids).
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { untar } from '../support/untar.js';
import { KubewasmError } from '../../lib/errors.js';
import { smokeWasm } from '../../lib/installer-image/smoke.js';
import { buildWasmImage, WASM_MEDIA_TYPES } from '../../lib/oci/wasm-image.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The layout as an importer walks it: index.json → the image index → its one manifest → config and layer. */
function walk(tar: Buffer) {
  const files = new Map(untar(tar).map((e) => [e.path, e.data]));
  const blob = (digest: string) => {
    const data = files.get(`blobs/sha256/${digest.replace('sha256:', '')}`) ?? expect.fail(`no blob ${digest}`);
    expect(sha(data)).toBe(digest);
    return data;
  };
  const layout = JSON.parse(files.get('index.json')!.toString());
  const top = JSON.parse(blob(layout.manifests[0].digest).toString());
  const index = top.mediaType === WASM_MEDIA_TYPES.index ? top : undefined;
  const manifest = index ? JSON.parse(blob(index.manifests[0].digest).toString()) : top;
  const config = JSON.parse(blob(manifest.config.digest).toString());
  return { files, layout, index, manifest, config, layer: blob(manifest.layers[0].digest) };
}

const module = smokeWasm();

describe('buildWasmImage', () => {
  it('wasm layers: an index whose one manifest is for wasi/wasm, the module itself as a runwasi Wasm layer, no rootfs to unpack', () => {
    const image = buildWasmImage({ name: 'kubewasm.io/smoke:hello-wasi', module, file: 'hello.wasm', layers: 'wasm' });
    const { files, layout, index, manifest, config, layer } = walk(image.tar);
    expect(JSON.parse(files.get('oci-layout')!.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(layout.manifests[0]).toMatchObject({ mediaType: WASM_MEDIA_TYPES.index, digest: image.index.digest, annotations: { 'io.containerd.image.name': 'kubewasm.io/smoke:hello-wasi', 'org.opencontainers.image.ref.name': 'hello-wasi' } });
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests).toEqual([{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.data.length, platform: { os: 'wasi', architecture: 'wasm' } }]);
    expect(manifest.layers).toEqual([{ mediaType: 'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm', digest: sha(module), size: module.length }]);
    expect(layer.equals(module)).toBe(true);
    expect(config).toMatchObject({ os: 'wasi', architecture: 'wasm', config: { Entrypoint: ['/hello.wasm'] }, rootfs: { type: 'layers', diff_ids: [] } });
  });

  it('tar layers: the module at /hello.wasm in a gzip tar layer whose diff_id is in the config (what the node must unpack)', () => {
    const image = buildWasmImage({ name: 'kubewasm.io/smoke:hello-wasi-tar', module, file: 'hello.wasm', layers: 'tar' });
    const { index, manifest, config, layer } = walk(image.tar);
    expect(index.manifests[0].platform).toEqual({ os: 'wasi', architecture: 'wasm' });
    expect(manifest.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const unzipped = gunzipSync(layer);
    expect(config.rootfs.diff_ids).toEqual([sha(unzipped)]);
    const entries = untar(unzipped);
    expect(entries.map((e) => [e.path, e.type, e.mode])).toEqual([['hello.wasm', 'File', 0o755]]);
    expect(entries[0]!.data.equals(module)).toBe(true);
  });

  it('serves every blob a puller asks for by digest, and the same spec gives the same bytes', () => {
    const spec = { name: 'kubewasm.io/smoke:hello-wasi', module, file: 'hello.wasm', layers: 'wasm' } as const;
    const a = buildWasmImage(spec);
    expect([...a.blobs.keys()].sort()).toEqual([a.index.digest, a.manifest.digest, a.config.digest, a.layer.digest].sort());
    for (const [digest, b] of a.blobs) expect(sha(b.data)).toBe(digest);
    const b = buildWasmImage({ ...spec, module: Buffer.from(module) });
    expect(b.tar.equals(a.tar)).toBe(true);
    expect(b.index.digest).toBe(a.index.digest);
  });

  it('top manifest: the layout names the wasi/wasm manifest itself, no index (what CRI pulls accept)', () => {
    const image = buildWasmImage({ name: 'kubewasm.io/smoke:hello-wasi', module, file: 'hello.wasm', layers: 'tar', top: 'manifest' });
    const { layout, index, manifest, config } = walk(image.tar);
    expect(layout.manifests[0]).toMatchObject({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest });
    expect(layout.manifests[0].platform).toBeUndefined();
    expect(index).toBeUndefined();
    expect(image.top).toBe(image.manifest);
    expect(image.blobs.has(image.index.digest)).toBe(false);
    expect(manifest.layers[0].mediaType).toBe(WASM_MEDIA_TYPES.tarLayer);
    expect(config).toMatchObject({ os: 'wasi', architecture: 'wasm' });
  });

  it('refuses a name without a tag and a file that is not a plain .wasm name', () => {
    expect(() => buildWasmImage({ name: 'kubewasm.io/smoke', module, file: 'hello.wasm', layers: 'wasm' })).toThrow(KubewasmError);
    expect(() => buildWasmImage({ name: 'kubewasm.io/smoke:x', module, file: '../hello.wasm', layers: 'tar' })).toThrow(/plain \.wasm file name/);
  });
});
