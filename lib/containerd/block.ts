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

// ---- single lines kubewasm owns inside a user's table ----
//
// TOML defines a table once, so a setting in a table the user already wrote
// cannot go into the block: kubewasm adds (or replaces) one line inside that
// table, marked at its end, with what it replaced. Restoring the marked lines
// gives back the user's bytes exactly.

const LINE_MARK = ' # kubewasm: ';
const ADDED = "added; 'kubewasm node uninstall' removes this line";
const REPLACED_SUFFIX = "; 'kubewasm node uninstall' puts it back";

export function markAddedLine(line: string): string {
  return `${line}${LINE_MARK}${ADDED}`;
}

export function markReplacedLine(line: string, original: string): string {
  return `${line}${LINE_MARK}replaced ${JSON.stringify(original)}${REPLACED_SUFFIX}`;
}

/** The text with every line kubewasm marked put back as it was; `count` says how many there were. */
export function restoreMarkedLines(text: string, where: string): { text: string; count: number } {
  let count = 0;
  let out = '';
  let from = 0;
  while (from < text.length) {
    const nl = text.indexOf('\n', from);
    const end = nl === -1 ? text.length : nl + 1;
    const line = text.slice(from, nl === -1 ? text.length : nl);
    const mark = line.lastIndexOf(LINE_MARK);
    const note = mark === -1 ? '' : line.slice(mark + LINE_MARK.length);
    if (note === ADDED) {
      count++;
    } else if (note.startsWith('replaced "') && note.endsWith(REPLACED_SUFFIX)) {
      let original: unknown;
      try {
        original = JSON.parse(note.slice('replaced '.length, note.length - REPLACED_SUFFIX.length));
      } catch {
        original = undefined;
      }
      if (typeof original !== 'string' || original.includes('\n')) {
        throw new KubewasmError({ what: 'a line kubewasm marked as replaced was damaged: the original it records cannot be read', where, fix: `restore the line by hand (remove '${LINE_MARK.trim()} ...' and put your value back), then run kubewasm again` });
      }
      out += original + text.slice(nl === -1 ? text.length : nl, end);
      count++;
    } else {
      out += text.slice(from, end);
    }
    from = end;
  }
  return { text: out, count };
}

export interface TableLines {
  /** Index just past the table's header line. */
  bodyStart: number;
  /** Index of the next table header (or the end of the text). */
  bodyEnd: number;
  /** The line that sets `key` directly in this table, without its newline. */
  keyLine?: { start: number; end: number; text: string };
}

/**
 * Where the text defines table `keys` with a [header] line, and the line in it
 * that sets `key`; undefined when no header names that table (it is absent,
 * implicit, or defined inline or by dotted keys).
 */
export function findTableLines(text: string, keys: string[], key: string): TableLines | undefined {
  const headers: Array<{ start: number; end: number; keys: string[] | undefined }> = [];
  const headerLine = /^[ \t]*\[(?!\[)(.*)\][ \t]*(?:#.*)?$/gm;
  for (let m = headerLine.exec(text); m; m = headerLine.exec(text)) {
    headers.push({ start: m.index, end: m.index + m[0].length, keys: parseDottedKey(m[1]!) });
  }
  const arrayHeader = /^[ \t]*\[\[/gm;
  const arrayStarts: number[] = [];
  for (let m = arrayHeader.exec(text); m; m = arrayHeader.exec(text)) arrayStarts.push(m.index);
  const at = headers.findIndex((h) => h.keys !== undefined && h.keys.length === keys.length && h.keys.every((k, i) => k === keys[i]));
  if (at === -1) return undefined;
  const header = headers[at]!;
  const bodyStart = text[header.end] === '\n' ? header.end + 1 : header.end;
  const nextStarts = [...headers.slice(at + 1).map((h) => h.start), ...arrayStarts.filter((s) => s > header.start)];
  const bodyEnd = nextStarts.length ? Math.min(...nextStarts) : text.length;
  const keyPattern = new RegExp(`^[ \\t]*(?:${escape(key)}|"${escape(key)}"|'${escape(key)}')[ \\t]*=.*$`, 'm');
  const body = text.slice(bodyStart, bodyEnd);
  const found = keyPattern.exec(body);
  return { bodyStart, bodyEnd, ...(found ? { keyLine: { start: bodyStart + found.index, end: bodyStart + found.index + found[0].length, text: found[0] } } : {}) };
}

/** `plugins."io.containerd.cri.v1.images"` → its keys; undefined when it is not a plain dotted key. */
function parseDottedKey(source: string): string[] | undefined {
  const keys: string[] = [];
  const part = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(\.|$)/y;
  let index = 0;
  while (index < source.length) {
    part.lastIndex = index;
    const m = part.exec(source);
    if (!m) return undefined;
    let key = m[1] ?? m[3];
    if (key === undefined) {
      try {
        key = JSON.parse(`"${m[2]}"`) as string;
      } catch {
        return undefined;
      }
    }
    keys.push(key);
    index = part.lastIndex;
    if (m[4] === '') break;
  }
  return keys.length ? keys : undefined;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
