// The kubewasm package this code runs from (package.json, dist/,
// node_modules/): the installer image is built from it, and --version reads it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';

export function packageRoot(from: string = import.meta.url): { root: string; version: string } {
  let dir = path.dirname(fileURLToPath(from));
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kubewasm') return { root: dir, version: pkg.version ?? '0.0.0' };
    }
    dir = path.dirname(dir);
  }
  throw new UsageError('cannot find the kubewasm package this command runs from');
}
