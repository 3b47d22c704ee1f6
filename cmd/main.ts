// The CLI's main: argv -> command -> exit code. cmd/kubewasm.ts calls it.
import { asKubewasmError, UsageError } from '../lib/errors.js';
import { parseFlags } from '../lib/cli-flags.js';
import { packageRoot } from '../lib/kube/package-root.js';
import { GLOBAL_OPTIONS, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';

function version(): string {
  try {
    return packageRoot(import.meta.url).version;
  } catch {
    return 'unknown';
  }
}

export async function main(argv: string[]): Promise<number> {
  const { stdout, stderr } = process;
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    stdout.write(topHelp());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    stdout.write(`kubewasm ${version()}\n`);
    return 0;
  }
  try {
    const command = findCommand(argv);
    const { values, positionals } = parseFlags(argv.slice(command.path.length), { ...GLOBAL_OPTIONS, ...command.options });
    if (values['help']) {
      stdout.write(commandHelp(command));
      return 0;
    }
    return await command.run({ options: values, args: positionals, stdout, stderr });
  } catch (err) {
    const error = asKubewasmError(err);
    stderr.write(`error: ${error.message}\n`);
    if (process.env['KUBEWASM_DEBUG'] && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
    return error.exitCode;
  }
}

function findCommand(argv: string[]): Command {
  const matches = COMMANDS.filter((c) => c.path.every((word, i) => argv[i] === word)).sort((a, b) => b.path.length - a.path.length);
  const found = matches[0];
  if (found) return found;
  const group = COMMANDS.filter((c) => c.path[0] === argv[0]);
  if (group.length > 0) {
    throw new UsageError(`'kubewasm ${argv.slice(0, 2).join(' ')}' is not a command`, `choose one of: ${group.map((c) => `'kubewasm ${c.path.join(' ')}'`).join(', ')}`);
  }
  throw new UsageError(`unknown command '${argv[0]}'`);
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return `kubewasm ${version()}: give Kubernetes nodes WebAssembly.

Usage: kubewasm COMMAND [options]

Commands:
${lines.join('\n')}

Options for every command:
  -h, --help     help for the command
  -v, --verbose  more detail
  --version      print kubewasm's version

Exit codes: 0 ok, 1 failed, 2 bad usage.
`;
}

function commandHelp(command: Command): string {
  return `${command.summary}\n\nUsage: ${command.usage}\n\n${command.help.trimEnd()}\n`;
}

