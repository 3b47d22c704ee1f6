// The fleet bench's network shape. This machine is the controller and the
// router: the release server sits in a network namespace of its own behind an
// "internet" veth; each node sits behind its own veth on the nodes' bridge
// (the LAN); the controller's own link is the bridge device. Every link is
// shaped with tc tbf (this kernel has tbf and htb, not netem):
// - a veth in both directions by shaping egress on each of its two ends
//   (both ends are ours, so no ifb is needed there);
// - the controller's link: egress on the bridge device, ingress through an
//   ifb device when the kernel has one (else unshaped, and the header says so).
// Forwarding is switched on for the two routed interfaces only
// (net.ipv4.conf.<if>.forwarding), not machine-wide.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Shape {
  internetMbit: number;
  firstByteMs: number;
  lanMbit: number;
}

function sh(script: string): string {
  return execFileSync('sh', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

/** Pure: the tc command that shapes a device's egress to `mbit` (burst: 2 ms at that rate, at least 64 KB, so GSO packets pass whole). */
export function tbfCommand(dev: string, mbit: number): string {
  const burst = Math.max(64 * 1024, Math.round((mbit * 1e6) / 8 / 500));
  return `tc qdisc replace dev ${dev} root tbf rate ${mbit}mbit burst ${burst} latency 50ms`;
}

export interface Internet {
  /** The network namespace the release server runs in. */
  netns: string;
  /** This machine's end of the internet veth: its counters are the internet bytes. */
  hostDev: string;
  apiIp: string;
  downloadIp: string;
  cleanup(): void;
}

/** The internet link: a netns with two addresses (API host, objects host) behind a shaped veth; routed to the LAN. */
export function createInternet(prefix: string, shape: Shape, lanBridge: string): Internet {
  const netns = 'kwbench-inet';
  const hostDev = 'kwbinet';
  const cleanup = () => {
    sh(`ip netns del ${netns} 2>/dev/null || true; ip link del ${hostDev} 2>/dev/null || true`);
  };
  cleanup();
  sh(`ip netns add ${netns}
ip link add ${hostDev} type veth peer name kwbinetp
ip link set kwbinetp netns ${netns}
ip addr add ${prefix}.1/24 dev ${hostDev} && ip link set ${hostDev} up
ip netns exec ${netns} sh -c 'ip link set lo up && ip link set kwbinetp name eth0 && ip addr add ${prefix}.2/24 dev eth0 && ip addr add ${prefix}.3/24 dev eth0 && ip link set eth0 up && ip route add default via ${prefix}.1'
${tbfCommand(hostDev, shape.internetMbit)}
ip netns exec ${netns} ${tbfCommand('eth0', shape.internetMbit)}
sysctl -qw net.ipv4.conf.${hostDev}.forwarding=1 net.ipv4.conf.${lanBridge}.forwarding=1`);
  return { netns, hostDev, apiIp: `${prefix}.2`, downloadIp: `${prefix}.3`, cleanup };
}

/** The controller's link (the bridge device): egress shaped; ingress through an ifb when there is one. Returns whether ingress is shaped. */
export function shapeController(bridge: string, mbit: number): { ingressShaped: boolean; cleanup(): void } {
  const ifb = 'kwbifb';
  sh(tbfCommand(bridge, mbit));
  let ingressShaped = false;
  try {
    sh(`ip link del ${ifb} 2>/dev/null || true
ip link add ${ifb} type ifb && ip link set ${ifb} up
tc qdisc add dev ${bridge} handle ffff: ingress
tc filter add dev ${bridge} parent ffff: matchall action mirred egress redirect dev ${ifb}
${tbfCommand(ifb, mbit)}`);
    ingressShaped = true;
  } catch {
    sh(`tc qdisc del dev ${bridge} ingress 2>/dev/null || true; ip link del ${ifb} 2>/dev/null || true`);
  }
  return { ingressShaped, cleanup: () => void sh(`ip link del ${ifb} 2>/dev/null || true`) };
}

/** A node's LAN link: egress on this machine's end (toward the node) and on the node's eth0 (from it); and its route to the internet via this machine. */
export function shapeNodeLink(hostVeth: string, runInNode: (script: string) => string, hostIp: string, mbit: number): void {
  sh(tbfCommand(hostVeth, mbit));
  runInNode(`${tbfCommand('eth0', mbit)} && ip route replace default via ${hostIp}`);
}

/** Bytes through a device of this machine so far, both directions. */
export function linkBytes(dev: string): number {
  const read = (what: string) => Number(readFileSync(`/sys/class/net/${dev}/statistics/${what}`, 'utf8'));
  return read('rx_bytes') + read('tx_bytes');
}
