// The lab cluster for e2e tests: scripts/lab/lab brings it up (global setup)
// and tells where things are (`lab env`).
import { execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';

export const LAB_SCRIPT = new URL('../../scripts/lab/lab', import.meta.url).pathname;

export interface LabEnv {
  kubeconfig: string;
  kubectl: string;
  shimBinary: string;
  shimTarball: string;
  smokeImage: string;
  busyboxImage: string;
  nodes: string[];
}

export function labEnv(): LabEnv {
  const lines = execFileSync(LAB_SCRIPT, ['env'], { encoding: 'utf8' }).split('\n');
  const env = Object.fromEntries(lines.filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const need = (key: string) => {
    const value = env[key];
    if (!value) throw new Error(`scripts/lab/lab env did not print ${key}; run \`scripts/setup --lab && scripts/lab/lab up\` and try again`);
    return value;
  };
  return {
    kubeconfig: need('KUBEWASM_LAB_KUBECONFIG'),
    kubectl: need('KUBEWASM_LAB_KUBECTL'),
    shimBinary: need('KUBEWASM_LAB_SHIM_BINARY'),
    shimTarball: need('KUBEWASM_LAB_SHIM_TARBALL'),
    smokeImage: need('KUBEWASM_LAB_SMOKE_IMAGE'),
    busyboxImage: need('KUBEWASM_LAB_BUSYBOX_IMAGE'),
    nodes: (env['KUBEWASM_LAB_NODES'] ?? '').split(/[ ,]+/).filter(Boolean),
  };
}

export function labKubeConfig(env: LabEnv): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return kc;
}

/** Polls until fn returns a value, or throws with the last state after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, describeLast?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${describeLast ? `: ${await describeLast()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
