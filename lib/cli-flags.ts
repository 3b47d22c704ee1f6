// Command-line flags: their declarative tables (a flag's parse config and its
// help line come from one entry), the values node:util parseArgs hands over
// (long names as keys), and the readers every parser of them shares. The
// tables live beside the parsers that read them (lib/node/run-flags.ts,
// lib/shims/source-flags.ts, lib/kube/cluster-plan.ts; cmd/flags.ts for the
// cluster flags); cmd composes them per command. Wrong values are UsageErrors.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from './errors.js';

/** One flag: `arg` names its value (none: a boolean); `list`: repeatable. Help continues on lines of its own. */
export interface Flag {
  help: string;
  arg?: string;
  short?: string;
  list?: boolean;
}
export type Flags = Record<string, Flag>;

export function parseConfig(...groups: Flags[]): ParseArgsOptionsConfig {
  const config: ParseArgsOptionsConfig = {};
  for (const [name, f] of groups.flatMap((g) => Object.entries(g))) config[name] = { type: f.arg ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}), ...(f.list ? { multiple: true } : {}) };
  return config;
}

export function helpOf(title: string, flags: Flags, after = ''): string {
  const lines = Object.entries(flags).map(([name, f]) => {
    const head = `  ${f.short ? `-${f.short}, ` : ''}--${name}${f.arg ? ` ${f.arg}` : ''}`;
    return `${head.length < 28 ? head.padEnd(28) : `${head} `}${f.help.replaceAll('\n', `\n${' '.repeat(28)}`)}`;
  });
  return `${title ? `${title}\n` : ''}${lines.join('\n')}${after ? `\n${after}` : ''}`;
}

export type FlagValues = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** argv -> flag values and the other arguments; parseArgs's own errors (an unknown or malformed option) are usage errors. */
export function parseFlags(args: string[], options: ParseArgsOptionsConfig): { values: FlagValues; positionals: string[] } {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as { code?: unknown } | undefined)?.code;
    throw typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS') ? new UsageError((err as Error).message) : err;
  }
}

export const string = (values: FlagValues, name: string): string | undefined => (typeof values[name] === 'string' ? values[name] : undefined);

/** A repeatable and comma-separated flag's values. */
export const list = (values: FlagValues, name: string): string[] =>
  [values[name] ?? []].flat().flatMap((v) => (typeof v === 'string' ? v.split(',') : [])).map((v) => v.trim()).filter(Boolean);

/** "90s", "10m", "1h" or plain seconds -> milliseconds. */
export function durationOption(values: FlagValues, name: string, fallbackMs: number): number {
  const value = string(values, name);
  if (value === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`--${name} '${value}' is not a duration`, 'write e.g. 90s, 10m or 1h');
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']);
}

export function positiveInt<F extends number | undefined = undefined>(values: FlagValues, name: string, fallback?: F): number | F {
  const value = string(values, name);
  if (value === undefined) return fallback as F;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive whole number, not '${value}'`);
  return n;
}

/** -o: one of `allowed`, the first by default. */
export function outputOption<F extends string>(values: FlagValues, allowed: readonly F[]): F {
  const output = string(values, 'output') ?? allowed[0]!;
  if (!(allowed as readonly string[]).includes(output)) throw new UsageError(`unknown output format '${output}'`, `use ${allowed.map((a) => `-o ${a}`).join(', ')}`);
  return output as F;
}

/** Flags that have no use together with `flag`. */
export function refuseWith(values: FlagValues, flag: string, others: readonly string[], why: string): void {
  for (const other of others) if (values[other] !== undefined) throw new UsageError(`--${other} has no use with ${flag} (${why})`);
}
