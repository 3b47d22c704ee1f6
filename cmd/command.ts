// What every command file exports: cheap metadata (path, summary, usage,
// options, help) and run(), which loads its lib flow only when called.
import type { ParseArgsOptionsConfig } from 'node:util';
import type { FlagValues } from '../lib/cli-flags.js';

export interface CommandContext {
  /** Parsed options (long names as keys). */
  options: FlagValues;
  /** Arguments that are not options. */
  args: string[];
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface Command {
  /** Words that select it, e.g. ["node", "install"]. */
  path: string[];
  summary: string;
  usage: string;
  options: ParseArgsOptionsConfig;
  /** The help text after the usage line: arguments and options. */
  help: string;
  /** Returns the exit code: 0 ok, 1 failed (2, bad usage, is thrown as UsageError). */
  run(ctx: CommandContext): Promise<number>;
}

/** Options every command accepts, kubectl's names. */
export const GLOBAL_OPTIONS: ParseArgsOptionsConfig = {
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean', short: 'v' },
};
