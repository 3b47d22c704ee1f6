// Brings the lab up once for all e2e tests: one node per containerd the lab
// builds (1.6, 2.2, 2.4), and takes it down after (KUBEWASM_LAB_KEEP=1 keeps it).
// KUBEWASM_LAB_SHARED=1: scripts/test-tiers brings the lab up once for the e2e
// files it runs in its lanes, and takes it down after the last one.
import { execFileSync } from 'node:child_process';
import { LAB_SCRIPT } from '../support/lab.js';

export const LAB_CONTAINERDS = '1.6,2.2,2.4';

export function setup(): (() => void) | undefined {
  if (process.getuid?.() !== 0) throw new Error('the e2e tests run a lab cluster and need root: sudo npm test');
  if (process.env['KUBEWASM_LAB_SHARED'] === '1') return undefined;
  execFileSync(LAB_SCRIPT, ['up', '--containerd', LAB_CONTAINERDS], { stdio: 'inherit' });
  return () => {
    if (process.env['KUBEWASM_LAB_KEEP'] === '1') return;
    execFileSync(LAB_SCRIPT, ['down'], { stdio: 'inherit' });
  };
}
