// kind-like node containers for the docker transport's tests and the no-op
// bench: the lab's node image (Debian, systemd as PID 1, containerd 1.6;
// scripts/lab/node-image), labelled the way kind labels its nodes, on a docker
// network the caller creates (never Docker's default bridge), run by the lab's dockerd.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { CRICTL } from './containerd.js';
import { requireProgram } from './requirements.js';

const docker = (args: string[]) => execFileSync(requireProgram('docker'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

export interface DockerCluster {
  network: string;
  /** The node containers (the load balancer is not one). */
  nodes: string[];
  /** Runs a shell script in a node container. */
  run(node: string, script: string): string;
  /** path -> "mode sha256" of what kubewasm may touch in a node. */
  snapshot(node: string): Record<string, string>;
  cleanup(): void;
}

/** The newest kubewasm-lab/node image, or a clear error saying how to build it. */
export function labNodeImage(): string {
  try {
    docker(['info', '--format', '{{.ServerVersion}}']);
  } catch {
    throw new Error('no Docker engine answers on DOCKER_HOST or /var/run/docker.sock: run `scripts/lab/dockerd start`, then the tests again.');
  }
  const image = docker(['images', 'kubewasm-lab/node', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter(Boolean)[0];
  if (!image) throw new Error('the lab node image kubewasm-lab/node is missing: run `scripts/lab/node-image/build`, then the tests again.');
  return image;
}

/**
 * A "kind cluster" named `cluster`: nodes `<cluster>-control-plane`, `<cluster>-worker`…, plus a load
 * balancer container that is not a node. `internal`: a network with no route out (the benches).
 */
export function createDockerCluster(cluster: string, subnet: string, workers = 1, { internal = false } = {}): DockerCluster {
  const image = labNodeImage();
  const network = `kwt-${cluster}`;
  const names = [`${cluster}-control-plane`, ...Array.from({ length: workers }, (_, i) => `${cluster}-worker${i ? i + 1 : ''}`)];
  const cleanup = () => {
    for (const name of [...names, `${cluster}-external-load-balancer`]) {
      try {
        docker(['rm', '-f', '-v', name]);
      } catch {
        // not there
      }
    }
    try {
      docker(['network', 'rm', network]);
    } catch {
      // not there
    }
  };
  cleanup();
  docker(['network', 'create', '--driver', 'bridge', ...(internal ? ['--internal'] : []), '--subnet', subnet, '--label', 'io.kubewasm.test=1', network]);
  for (const [i, name] of names.entries()) {
    docker([
      'run', '-d', '--name', name, '--hostname', name, '--network', network,
      '--privileged', '--security-opt', 'seccomp=unconfined', '--security-opt', 'label=disable',
      '--tmpfs', '/run', '--tmpfs', '/tmp', '-v', '/var/lib/containerd', '--stop-signal', 'SIGRTMIN+3',
      '-v', `${CRICTL}:/usr/local/sbin/crictl:ro`,
      '--label', `io.x-k8s.kind.cluster=${cluster}`, '--label', `io.x-k8s.kind.role=${i === 0 ? 'control-plane' : 'worker'}`,
      image,
    ]);
  }
  // kind's load balancer carries the cluster label too, but is no node.
  docker(['run', '-d', '--name', `${cluster}-external-load-balancer`, '--network', network, '--entrypoint', 'sleep',
    '--label', `io.x-k8s.kind.cluster=${cluster}`, '--label', 'io.x-k8s.kind.role=external-load-balancer', image, 'infinity']);
  const run = (node: string, script: string) => execFileSync(requireProgram('docker'), ['exec', node, 'sh', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // systemd brings containerd up; wait for its CRI.
  for (const name of names) {
    let ok = false;
    for (let i = 0; i < 300 && !ok; i++) {
      try {
        ok = JSON.parse(run(name, 'crictl --runtime-endpoint unix:///run/containerd/containerd.sock info')).status.conditions.some((c: { type: string; status: boolean }) => c.type === 'RuntimeReady' && c.status);
      } catch {
        execFileSync('sleep', ['0.1']);
      }
    }
    if (!ok) throw new Error(`node container ${name}: containerd's CRI did not come up within 30s (docker exec ${name} journalctl -u containerd)`);
  }
  return {
    network,
    nodes: names,
    run,
    snapshot: (node) => {
      const out: Record<string, string> = {};
      const listing = run(node, 'for d in /etc/containerd /usr/local/bin /var/lib/kubewasm; do [ -e "$d" ] && find "$d" -printf "%p %y %m\\n"; done; true');
      for (const line of listing.split('\n').filter(Boolean)) {
        const [p, type, mode] = line.split(' ');
        out[p!] = type === 'f' ? `${mode} ${createHash('sha256').update(execFileSync(requireProgram('docker'), ['exec', node, 'cat', p!])).digest('hex')}` : `${type} ${mode}`;
      }
      return out;
    },
    cleanup,
  };
}
