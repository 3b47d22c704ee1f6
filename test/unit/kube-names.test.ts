// lib/kube/names.ts is the one place of kubewasm's label, annotation and API
// names: no string in lib/ or cmd/ spells `kubewasm.io/…` or
// `runtime.kubewasm.io/…` anywhere else. The finder reads the string literals
// (and template text) of each file through the TypeScript parser, so comments
// do not count and a literal cannot hide from it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const NAME = /(?:runtime\.)?kubewasm\.io\//;

/**
 * Image names belong to the image builder, a layer below lib/kube (it cannot
 * import names.ts): these are the only other places a kubewasm.io/ string may be.
 */
const ALLOWED: Record<string, RegExp> = {
  'lib/installer-image/build.ts': /^kubewasm\.io\/node-installer$/,
  'lib/installer-image/smoke.ts': /^kubewasm\.io\/smoke:(hello|hello-wasi|native)$/,
};

/** The string literals and template pieces of a source text that name something under kubewasm.io/. */
export function strayNames(file: string, text: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      if (NAME.test(node.text) && !ALLOWED[file]?.test(node.text)) found.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true));
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('names', () => {
  it('no file in lib/ or cmd/ but lib/kube/names.ts spells a kubewasm.io/ name', () => {
    const stray = [...sources('lib'), ...sources('cmd')]
      .filter((f) => f !== 'lib/kube/names.ts')
      .flatMap((f) => strayNames(f, readFileSync(path.join(root, f), 'utf8')).map((text) => `${f}: '${text}'`));
    expect(stray).toEqual([]);
  });

  it('finds a planted literal, in a string or a template, and not in a comment', () => {
    const planted = [
      "// the kubewasm.io/enabled label, in a comment: fine",
      "const a = { 'kubewasm.io/state': 'Ready' };",
      'const b = `${prefix}runtime.kubewasm.io/${shim}`;',
      "const c = node.metadata?.labels?.['kubewasm.io/shim'];",
    ].join('\n');
    expect(strayNames('lib/kube/status.ts', planted)).toEqual(['kubewasm.io/state', 'runtime.kubewasm.io/', 'kubewasm.io/shim']);
    expect(strayNames('lib/installer-image/smoke.ts', "export const SMOKE_IMAGE = 'kubewasm.io/smoke:hello';")).toEqual([]);
    expect(strayNames('lib/installer-image/smoke.ts', "const x = 'kubewasm.io/managed';")).toEqual(['kubewasm.io/managed']);
  });
});
