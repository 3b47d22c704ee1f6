// The package layers of kubewasm (DESIGN.md "Layers and layout"), written
// once as data, and the check that every relative import goes down or
// sideways within a layer, never up and never into test/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Lowest first. A file may import from its own layer and any layer below it. */
export const LAYERS: ReadonlyArray<{ layer: number; paths: readonly string[] }> = [
  { layer: 0, paths: ['lib/errors.ts', 'lib/cli-flags.ts'] },
  { layer: 1, paths: ['lib/host'] },
  { layer: 2, paths: ['lib/containerd', 'lib/shims', 'lib/oci'] },
  { layer: 3, paths: ['lib/node', 'lib/installer-image'] },
  { layer: 4, paths: ['lib/kube'] },
  { layer: 5, paths: ['cmd'] },
  // scripts/ may import lib and cmd, never test/.
  { layer: 6, paths: ['scripts'] },
];

export function layerOf(file: string): number | undefined {
  const rel = file.split(path.sep).join('/');
  let best: { layer: number; length: number } | undefined;
  for (const { layer, paths } of LAYERS) {
    for (const p of paths) {
      if ((rel === p || rel.startsWith(`${p}/`)) && (!best || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  return best?.layer;
}

export interface LayerViolation {
  file: string;
  imports: string;
  why: string;
}

/** The relative imports of one source text, resolved against its file (paths relative to the repository root). */
export function relativeImports(file: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\(\s*|import\s+)(['"])(\.{1,2}\/[^'"]+)\1/g)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[2]!));
    found.push(target.replace(/\.js$/, '.ts'));
  }
  return found;
}

/** Pure: the imports of `file` (its text given) that break the layering. */
export function violations(file: string, text: string): LayerViolation[] {
  const from = layerOf(file);
  if (from === undefined) return [];
  const out: LayerViolation[] = [];
  for (const target of relativeImports(file, text)) {
    if (target === 'test' || target.startsWith('test/')) {
      out.push({ file, imports: target, why: 'nothing outside test/ may import from test/' });
      continue;
    }
    const to = layerOf(target);
    if (to !== undefined && to > from) out.push({ file, imports: target, why: `layer ${from} imports from layer ${to} above it` });
  }
  return out;
}

/** Every .ts/.mjs file under the given folders, and the extensionless scripts that node runs. */
export function sourceFiles(root: string, folders: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(path.join(root, dir))) {
      const rel = `${dir}/${name}`;
      if (name === 'node_modules' || name === 'target') continue;
      if (statSync(path.join(root, rel)).isDirectory()) walk(rel);
      else if (/\.(ts|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
      else if (!name.includes('.') && /^#!.*\bnode\b/.test(readFileSync(path.join(root, rel), 'utf8').split('\n', 1)[0]!)) out.push(rel);
    }
  };
  for (const f of folders) walk(f);
  return out;
}

export function treeViolations(root: string): LayerViolation[] {
  return sourceFiles(root, ['lib', 'cmd', 'scripts']).flatMap((file) => violations(file, readFileSync(path.join(root, file), 'utf8')));
}
