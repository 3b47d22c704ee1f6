// The release flow's events (lib/shims/releases.ts ShimEvent) as plain text
// lines: what was resolved and from which digest source, 25 % steps of a
// download, verified, ready. cmd/progress.ts prints them (also beside its
// listr2 rows); they are the record a CI log keeps of where shim bytes came from.
import type { ShimEvent } from './releases.js';

const mb = (n: number) => (n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`);
const short = (hex: string) => `${hex.slice(0, 12)}…`;
const label = (a: { shim: { name: string }; version: string; arch: string }) => `${a.shim.name} ${a.version} ${a.arch}`;

/** Shim lines: resolved, 25 % steps of a download, verified, ready. */
export function plainShimProgress(log: (line: string) => void, verbose = false): (e: ShimEvent) => void {
  const steps = new Map<string, number>();
  return (e) => {
    const name = label(e.artifact);
    const bundle = e.artifact.fetch.kind === 'bundle';
    if (e.type === 'resolved') log(`${name}: ${e.artifact.asset} (${e.artifact.tag}), sha256 ${short(e.artifact.sha256)} from ${e.artifact.digestSource}`);
    else if (e.type === 'cached') log(`${name}: in the cache, sha256 checked`);
    else if (e.type === 'verified') log(`${name}: ${bundle ? 'copied' : 'downloaded'} ${mb(e.bytes)}${bundle ? ' from the bundle' : ''}, sha256 verified`);
    else if (e.type === 'skipped-entry' && verbose) log(`${name}: ${e.reason}`);
    else if (e.type === 'ready') log(`${name}: ${e.artifact.shim.binaryName} ready (sha256 ${short(e.artifact.binarySha256)})`);
    else if (e.type === 'progress' && e.total) {
      const step = Math.floor((e.received / e.total) * 4);
      if (step > (steps.get(name) ?? -1) && step < 4) {
        steps.set(name, step);
        log(`${name}: downloading ${mb(e.received)} of ${mb(e.total)}`);
      }
    }
  };
}
