// Writes the kind node image's control-plane images as OCI archives (for
// `ctr -n k8s.io images import`), each from a directory tree, without Docker.
// Usage: node --import ../../ts-resolve.mjs images.ts OUT_DIR SPEC_JSON
//   SPEC_JSON: [{ "file": "etcd.tar", "name": "registry.k8s.io/etcd:3.6.5-0",
//                 "root": "/path/to/tree", "entrypoint": ["etcd"]?, "env": ["PATH=..."]? }]
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeImageArchive, type ImageFile } from '../../../lib/oci/image-archive.js';

interface Spec { file: string; name: string; root: string; entrypoint?: string[]; env?: string[] }

const [outDir, specFile] = process.argv.slice(2);
if (!outDir || !specFile) {
  console.error('usage: images.ts OUT_DIR SPEC_JSON');
  process.exit(2);
}

/** Every regular file and symlink under root, as image files (directories follow from their paths). */
async function treeFiles(root: string, rel = ''): Promise<ImageFile[]> {
  const out: ImageFile[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, path));
    if (st.isSymbolicLink()) out.push({ path, linkTarget: await readlink(join(root, path)) });
    else if (st.isDirectory()) out.push(...(await treeFiles(root, path)));
    else if (st.isFile()) out.push({ path, data: await readFile(join(root, path)), mode: st.mode & 0o7777 });
    else throw new Error(`${join(root, path)}: not a file, directory or symlink`);
  }
  return out;
}

const specs = JSON.parse(await readFile(specFile, 'utf8')) as Spec[];
for (const s of specs) {
  const { manifestDigest } = await writeImageArchive(join(outDir, s.file), {
    name: s.name,
    files: await treeFiles(s.root),
    env: s.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    ...(s.entrypoint ? { entrypoint: s.entrypoint } : {}),
  });
  console.log(`${s.file} ${s.name} ${manifestDigest}`);
}
