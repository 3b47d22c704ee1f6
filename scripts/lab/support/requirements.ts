// A test that cannot run fails with the command that fixes it; nothing is skipped silently.
import { accessSync, constants, existsSync } from 'node:fs';

export const LAB_CACHE = process.env['KUBEWASM_CACHE'] ?? '/var/cache/kubewasm-lab';
const FIX = 'scripts/setup --lab';

/** The path of a program, or an error naming the command that installs it. */
export function requireProgram(path: string, installedBy = FIX): string {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(`${path} is missing: this test needs it. Run \`${installedBy}\` (it installs and caches it), then run the tests again.`);
  }
}

export function requireFile(path: string, installedBy = FIX): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: this test needs it. Run \`${installedBy}\`, then run the tests again.`);
  return path;
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this test starts real daemons and must run as root (sudo npm test)');
}
