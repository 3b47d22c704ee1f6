import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { untar } from '../support/untar.js';
import { buildImageArchive, buildImageIndexArchive, MEDIA_TYPES, parseImageName, platformKey, type ImageSpec } from '../../lib/oci/image-archive.js';
import { KubewasmError } from '../../lib/errors.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function layout(tar: Buffer) {
  const files = new Map(untar(tar).map((e) => [e.path, e]));
  const read = (p: string) => files.get(p)?.data ?? expect.fail(`missing ${p} in ${[...files.keys()].join(', ')}`);
  const blob = (digest: string) => {
    const data = read(`blobs/sha256/${digest.replace('sha256:', '')}`);
    expect(sha(data)).toBe(digest); // every blob is content-addressed
    return data;
  };
  const index = JSON.parse(read('index.json').toString());
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  const config = JSON.parse(blob(manifest.config.digest).toString());
  const layerGz = blob(manifest.layers[0].digest);
  return { files, read, index, manifest, config, layerGz, layer: untar(gunzipSync(layerGz)) };
}

const wasm: ImageSpec = {
  name: 'kubewasm.io/smoke:hello',
  files: [{ path: '/hello.wasm', data: Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]) }],
  entrypoint: ['/hello.wasm'],
};

describe('buildImageArchive', () => {
  it('writes an OCI layout that ctr import names from io.containerd.image.name', () => {
    const { read, index, manifest, config } = layout(buildImageArchive(wasm).tar);
    expect(JSON.parse(read('oci-layout').toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(index.mediaType).toBe(MEDIA_TYPES.index);
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations).toEqual({ 'io.containerd.image.name': 'kubewasm.io/smoke:hello', 'org.opencontainers.image.ref.name': 'hello' });
    expect(index.manifests[0].platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(manifest.mediaType).toBe(MEDIA_TYPES.manifest);
    expect(manifest.layers[0].mediaType).toBe(MEDIA_TYPES.layerGzip);
    expect(config).toMatchObject({ os: 'linux', architecture: 'amd64', config: { Entrypoint: ['/hello.wasm'] }, rootfs: { type: 'layers' } });
  });

  it('records sizes and the uncompressed diff_id that containerd checks on unpack', () => {
    const { index, manifest, config, layerGz, read } = layout(buildImageArchive(wasm).tar);
    expect(manifest.layers[0].size).toBe(layerGz.length);
    expect(config.rootfs.diff_ids).toEqual([sha(gunzipSync(layerGz))]);
    expect(index.manifests[0].size).toBe(read(`blobs/sha256/${index.manifests[0].digest.slice(7)}`).length);
  });

  it('puts files with their modes, owner root, parent directories and symlinks in the layer', () => {
    const spec: ImageSpec = {
      name: 'registry.k8s.io/pause:3.10',
      files: [
        { path: 'usr/local/bin/pause', data: 'ELF', mode: 0o755 },
        { path: '/etc/hostname', data: 'lab\n' },
        { path: '/pause', linkTarget: 'usr/local/bin/pause' },
      ],
      entrypoint: ['/pause'],
      env: ['PATH=/usr/local/bin'],
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    };
    const { layer, config, index } = layout(buildImageArchive(spec).tar);
    expect(layer.map((e) => [e.path, e.type, e.mode.toString(8)])).toEqual([
      ['etc/', 'Directory', '755'],
      ['etc/hostname', 'File', '644'],
      ['pause', 'SymbolicLink', '777'],
      ['usr/', 'Directory', '755'],
      ['usr/local/', 'Directory', '755'],
      ['usr/local/bin/', 'Directory', '755'],
      ['usr/local/bin/pause', 'File', '755'],
    ]);
    expect(layer.find((e) => e.path === 'pause')?.linkpath).toBe('usr/local/bin/pause');
    expect(layer.find((e) => e.path === 'usr/local/bin/pause')?.data.toString()).toBe('ELF');
    expect(layer.every((e) => e.uid === 0 && e.mtime === 0)).toBe(true);
    expect(config).toMatchObject({ architecture: 'arm64', variant: 'v8', config: { Env: ['PATH=/usr/local/bin'] } });
    expect(index.manifests[0].platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  });

  it('keeps paths longer than 100 bytes (PAX header)', () => {
    const long = `/${'d'.repeat(60)}/${'f'.repeat(120)}.bin`; // a name over 100 bytes: no ustar split fits
    const { layer } = layout(buildImageArchive({ ...wasm, files: [{ path: long, data: 'x'.repeat(1000) }] }).tar);
    const file = layer.find((e) => e.type === 'File');
    expect(file?.path).toBe(long.slice(1));
    expect(file?.data.length).toBe(1000);
  });

  it('is deterministic: the same spec gives the same bytes and digests', () => {
    const a = buildImageArchive(wasm);
    const b = buildImageArchive({ ...wasm, files: [...wasm.files] });
    expect(a.tar.equals(b.tar)).toBe(true);
    expect(a.manifestDigest).toBe(b.manifestDigest);
    expect(buildImageArchive({ ...wasm, cmd: ['x'] }).configDigest).not.toBe(a.configDigest);
  });

  it('refuses paths that escape, duplicates, files that are also directories and names without a tag', () => {
    const bad = (files: ImageSpec['files'], name = wasm.name) => () => buildImageArchive({ name, files });
    expect(bad([{ path: '../etc/passwd', data: '' }])).toThrow(KubewasmError);
    expect(bad([{ path: '/a//b', data: '' }])).toThrow(/not a plain path/);
    expect(bad([{ path: '/a', data: '' }, { path: 'a', data: '' }])).toThrow(/twice/);
    expect(bad([{ path: '/a', data: '' }, { path: '/a/b', data: '' }])).toThrow(/parent directory/);
    expect(bad([{ path: '/a' }])).toThrow(/exactly one of data and linkTarget/);
    expect(bad([], 'kubewasm.io/smoke')).toThrow(/with a tag/);
  });
});

describe('buildImageIndexArchive (one image, one platform per node architecture)', () => {
  const node = (architecture: string, marker: string): ImageSpec => ({
    name: 'kubewasm.io/node-installer:1.0.0-abc',
    files: [{ path: '/usr/local/bin/node', data: marker, mode: 0o755 }],
    entrypoint: ['/usr/local/bin/node'],
    platform: { os: 'linux', architecture },
  });

  it('index.json names one image (as buildx lays it out) whose index lists each platform with its own manifest, config and layer', () => {
    const archive = buildImageIndexArchive('kubewasm.io/node-installer:1.0.0-abc', [node('amd64', 'x86-64 node'), node('arm64', 'aarch64 node')]);
    const files = new Map(untar(archive.tar).map((e) => [e.path, e.data]));
    const read = (p: string) => files.get(p) ?? expect.fail(`missing ${p}`);
    const blob = (digest: string) => read(`blobs/sha256/${digest.slice(7)}`);
    const index = JSON.parse(read('index.json').toString());
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({ mediaType: MEDIA_TYPES.index, digest: archive.indexDigest, annotations: { 'io.containerd.image.name': 'kubewasm.io/node-installer:1.0.0-abc', 'org.opencontainers.image.ref.name': '1.0.0-abc' } });
    const inner = JSON.parse(blob(archive.indexDigest).toString());
    expect(sha(blob(archive.indexDigest))).toBe(archive.indexDigest);
    expect(inner.manifests.map((m: { platform: unknown }) => m.platform)).toEqual([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }]);
    const contents = inner.manifests.map((m: { digest: string; mediaType: string }) => {
      expect(m.mediaType).toBe(MEDIA_TYPES.manifest);
      const manifest = JSON.parse(blob(m.digest).toString());
      const config = JSON.parse(blob(manifest.config.digest).toString());
      const layer = untar(gunzipSync(blob(manifest.layers[0].digest)));
      return [config.architecture, layer.find((e) => e.path === 'usr/local/bin/node')?.data.toString()];
    });
    expect(contents).toEqual([['amd64', 'x86-64 node'], ['arm64', 'aarch64 node']]);
    expect(archive.images.map((i) => platformKey(i.platform))).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('keeps a blob both platforms share once, and refuses a platform given twice or none', () => {
    const same = buildImageIndexArchive('kubewasm.io/x:1', [{ ...node('amd64', 'same'), files: [] }, { ...node('arm64', 'same'), files: [] }]);
    const blobs = untar(same.tar).filter((e) => e.path.startsWith('blobs/sha256/') && e.type === 'File');
    expect(new Set(blobs.map((b) => b.path)).size).toBe(blobs.length);
    expect(() => buildImageIndexArchive('kubewasm.io/x:1', [node('arm64', 'a'), node('arm64', 'b')])).toThrow(/linux\/arm64 twice/);
    expect(() => buildImageIndexArchive('kubewasm.io/x:1', [])).toThrow(/no image/);
    expect(buildImageIndexArchive('kubewasm.io/x:1', [node('amd64', 'a')]).tar.equals(buildImageIndexArchive('kubewasm.io/x:1', [node('amd64', 'a')]).tar)).toBe(true);
  });
});

describe('parseImageName', () => {
  it('splits repository and tag, with a registry port', () => {
    expect(parseImageName('localhost:5000/a/b:v1.2')).toEqual({ repository: 'localhost:5000/a/b', tag: 'v1.2' });
    expect(parseImageName('registry.k8s.io/pause:3.10')).toEqual({ repository: 'registry.k8s.io/pause', tag: '3.10' });
    expect(() => parseImageName('Upper/case:x')).toThrow(KubewasmError);
  });
});
