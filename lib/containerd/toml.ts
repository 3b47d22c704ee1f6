// Reading TOML with smol-toml, and writing the few TOML bits kubewasm emits.
// We never rewrite a user's file through a serializer: it would lose their
// comments and layout. We only insert text blocks and re-parse to check.
import { parse, TomlError } from 'smol-toml';
import { KubewasmError } from '../errors.js';

export type TomlTable = Record<string, unknown>;

export function parseToml(text: string, where: string): TomlTable {
  try {
    return parse(text) as TomlTable;
  } catch (err) {
    if (err instanceof TomlError) {
      const firstLine = err.message.split('\n')[0] ?? err.message;
      throw new KubewasmError({
        what: `not valid TOML at line ${err.line}, column ${err.column}: ${firstLine}`,
        where,
        fix: 'fix the file by hand (containerd cannot read it either) and run kubewasm again; kubewasm left it untouched',
        cause: err,
      });
    }
    throw err;
  }
}

/** The value at a path of keys, or undefined. */
export function getPath(table: TomlTable, keys: string[]): unknown {
  let node: unknown = table;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as TomlTable)[key];
  }
  return node;
}

export function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export function formatKey(key: string): string {
  return BARE_KEY.test(key) ? key : JSON.stringify(key);
}

export function formatTableHeader(keys: string[]): string {
  return `[${keys.map(formatKey).join('.')}]`;
}

export type TomlScalar = string | number | boolean;

export function formatValue(value: TomlScalar): string {
  // JSON's string escapes are a subset of TOML basic strings' escapes.
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`cannot write ${value} to TOML`);
  return String(value);
}
