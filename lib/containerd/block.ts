// kubewasm's part of a containerd config: one delimited block of whole TOML
// tables, inserted as text so every byte around it stays the user's, and
// removable to give back the original bytes exactly.
//
// The block starts with the newline that ends the line before it, so
// removing it restores a file that had no final newline too.
import { KubewasmError } from '../errors.js';
import { formatTableHeader, formatValue, type TomlScalar } from './toml.js';

export const BEGIN_MARK = '# BEGIN kubewasm';
export const END_MARK = '# END kubewasm';
const CREATED_NOTE = '(kubewasm created this file)';

export interface RuntimeTable {
  /** Full key path of the runtime's table, e.g. plugins / io.containerd.cri.v1.runtime / containerd / runtimes / wasmtime. */
  keys: string[];
  values: Record<string, TomlScalar>;
  options: Record<string, TomlScalar>;
}

export interface BlockLocation {
  /** Index of the block's first character (its leading newline, when there is one). */
  start: number;
  /** Index just past the END line and its newline. */
  end: number;
  /** The BEGIN line says kubewasm created the file. */
  createdFile: boolean;
}

export function renderBlock(tables: RuntimeTable[], createdFile: boolean): string {
  const lines = [`${BEGIN_MARK}: managed by kubewasm; 'kubewasm node uninstall' removes it${createdFile ? ` ${CREATED_NOTE}` : ''}`];
  for (const table of tables) {
    lines.push(formatTableHeader(table.keys));
    for (const [key, value] of Object.entries(table.values)) lines.push(`  ${key} = ${formatValue(value)}`);
    if (Object.keys(table.options).length > 0) {
      lines.push(formatTableHeader([...table.keys, 'options']));
      for (const [key, value] of Object.entries(table.options)) lines.push(`  ${key} = ${formatValue(value)}`);
    }
  }
  lines.push(END_MARK);
  return `\n${lines.join('\n')}\n`;
}

/** Finds kubewasm's block; undefined when there is none; an error when it was damaged by hand. */
export function findBlock(text: string, where: string): BlockLocation | undefined {
  const begins = lineStarts(text, BEGIN_MARK);
  const ends = lineStarts(text, END_MARK).filter((i) => lineAt(text, i).trimEnd() === END_MARK);
  if (begins.length === 0 && ends.length === 0) return undefined;
  const damaged = (what: string) =>
    new KubewasmError({
      what: `kubewasm's block is damaged: ${what}`,
      where,
      fix: `remove the lines from '${BEGIN_MARK}' to '${END_MARK}' by hand (or restore them), then run kubewasm again`,
    });
  if (begins.length !== 1 || ends.length !== 1) {
    throw damaged(`found ${begins.length} '${BEGIN_MARK}' and ${ends.length} '${END_MARK}' lines, expected one of each`);
  }
  const begin = begins[0]!;
  const endLine = ends[0]!;
  if (endLine < begin) throw damaged(`'${END_MARK}' comes before '${BEGIN_MARK}'`);
  const newlineAfterEnd = text.indexOf('\n', endLine);
  return {
    start: begin > 0 && text[begin - 1] === '\n' ? begin - 1 : begin,
    end: newlineAfterEnd === -1 ? text.length : newlineAfterEnd + 1,
    createdFile: lineAt(text, begin).includes(CREATED_NOTE),
  };
}

export function removeBlock(text: string, block: BlockLocation): string {
  return text.slice(0, block.start) + text.slice(block.end);
}

export function replaceBlock(text: string, block: BlockLocation | undefined, newBlock: string): string {
  if (!block) return text + newBlock;
  return text.slice(0, block.start) + newBlock + text.slice(block.end);
}

function lineStarts(text: string, prefix: string): number[] {
  const found: number[] = [];
  let from = 0;
  for (;;) {
    const index = text.indexOf(prefix, from);
    if (index === -1) return found;
    if (index === 0 || text[index - 1] === '\n') found.push(index);
    from = index + prefix.length;
  }
}

function lineAt(text: string, start: number): string {
  const end = text.indexOf('\n', start);
  return text.slice(start, end === -1 ? text.length : end);
}
