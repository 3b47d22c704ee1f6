// Runs the built CLI (dist/, from `npx tsc -p .`) as a child process, the way a user would.
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export const CLI = new URL('../../dist/cmd/kubewasm.js', import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Never throws: the exit code is part of the result. */
export function kubewasm(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Starts the CLI and hands back the process (to signal it) and its result. */
export function startKubewasm(args: string[]): { child: ChildProcess; result: Promise<CliResult>; stderrSoFar: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15), stdout, stderr })));
  return { child, result, stderrSoFar: () => stderr };
}
