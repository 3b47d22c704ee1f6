// Writes the lab's OCI image archives (for `ctr -n k8s.io images import`) into a directory.
// Usage: node --import ../../ts-resolve.mjs archives.ts OUT_DIR PAUSE_BIN HELLO_WASM BUSYBOX_BIN PAUSE_NAME SMOKE_NAME BUSYBOX_NAME
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeImageArchive, type ImageSpec } from '../../../lib/oci/image-archive.js';

const [outDir, pauseBin, helloWasm, busyboxBin, pauseName, smokeName, busyboxName] = process.argv.slice(2);
if (!outDir || !pauseBin || !helloWasm || !busyboxBin || !pauseName || !smokeName || !busyboxName) {
  console.error('usage: archives.ts OUT_DIR PAUSE_BIN HELLO_WASM BUSYBOX_BIN PAUSE_NAME SMOKE_NAME BUSYBOX_NAME');
  process.exit(2);
}

// The applets the lab's tests use: enough for `sh -c 'echo ...; sleep ...'`.
const applets = ['sh', 'echo', 'sleep', 'cat', 'ls', 'env', 'true', 'false', 'id', 'hostname', 'wget', 'nc'];

const images: Record<string, ImageSpec> = {
  'pause.tar': {
    name: pauseName,
    files: [{ path: '/pause', data: await readFile(pauseBin), mode: 0o755 }],
    entrypoint: ['/pause'],
  },
  // Platform linux/amd64 like the runwasi examples: containerd imports and unpacks
  // it for this host's platform, and the wasm shim runs /hello.wasm.
  'smoke.tar': {
    name: smokeName,
    files: [{ path: '/hello.wasm', data: await readFile(helloWasm), mode: 0o755 }],
    entrypoint: ['/hello.wasm'],
  },
  'busybox.tar': {
    name: busyboxName,
    files: [
      { path: '/bin/busybox', data: await readFile(busyboxBin), mode: 0o755 },
      ...applets.map((a) => ({ path: `/bin/${a}`, linkTarget: 'busybox' })),
    ],
    env: ['PATH=/bin'],
    cmd: ['sh'],
  },
};

for (const [file, spec] of Object.entries(images)) {
  const { manifestDigest } = await writeImageArchive(join(outDir, file), spec);
  console.log(`${file} ${spec.name} ${manifestDigest}`);
}
