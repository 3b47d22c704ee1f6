// Brings the lab up once for all e2e tests: one node per containerd the lab
// builds (1.6, 2.2, 2.4), and takes it down after (KUBEWASM_LAB_KEEP=1 keeps it).
import { execFileSync } from 'node:child_process';
import { LAB_SCRIPT } from '../support/lab.js';

export const LAB_CONTAINERDS = '1.6,2.2,2.4';

export function setup(): () => void {
  if (process.getuid?.() !== 0) throw new Error('the e2e tests run a lab cluster and need root: sudo npm test');
  execFileSync(LAB_SCRIPT, ['up', '--containerd', LAB_CONTAINERDS], { stdio: 'inherit' });
  return () => {
    if (process.env['KUBEWASM_LAB_KEEP'] === '1') return;
    execFileSync(LAB_SCRIPT, ['down'], { stdio: 'inherit' });
  };
}
