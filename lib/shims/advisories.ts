// Pure decisions about published advisories: which ones name a (shim,
// version), and whether the user accepted them. kubewasm status and the node
// engine use advisoriesFor on the version a node reports.
import { KubewasmError } from '../errors.js';
import { ADVISORIES, type Advisory, type ShimName } from './catalog.js';
import { compareVersions } from './resolve.js';

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** Whether X.Y.Z satisfies every comparator of a range such as "<=0.6.0" or ">=0.3.0 <0.6.1". */
export function inRange(version: string, range: string): boolean {
  if (!SEMVER.test(version)) return false;
  return range
    .split(/\s+/)
    .filter(Boolean)
    .every((comparator) => {
      const m = /^(<=|>=|<|>|=)?(\d+\.\d+\.\d+)$/.exec(comparator);
      if (!m) throw new Error(`bad version range '${range}' in kubewasm's advisory data`);
      const d = compareVersions(version, m[2]!);
      switch (m[1]) {
        case '<=':
          return d <= 0;
        case '>=':
          return d >= 0;
        case '<':
          return d < 0;
        case '>':
          return d > 0;
        default:
          return d === 0;
      }
    });
}

/**
 * The advisories that name this shim version as affected. `version` may carry
 * a leading v ("v0.6.0"); anything that is not X.Y.Z (unknown, "<none>")
 * matches nothing: callers that cannot tell the version say so themselves.
 */
export function advisoriesFor(shim: ShimName, version: string | undefined | null, advisories: readonly Advisory[] = ADVISORIES): Advisory[] {
  const plain = (version ?? '').trim().replace(/^v/, '');
  return advisories.filter((a) => a.shims.includes(shim) && inRange(plain, a.affected));
}

/** One line for messages and status: "GHSA-… (CVE-…, critical): title; fixed in X". */
export function describeAdvisory(a: Advisory): string {
  return `${a.id}${a.aliases.length ? ` (${a.aliases.join(', ')}, ${a.severity})` : ` (${a.severity})`}: ${a.title}; fixed in ${a.fixed} (${a.source})`;
}

/**
 * Refuses a version named by an advisory the user did not accept. `extra`
 * is appended to the message (e.g. that the release has no digest either).
 */
export function refuseUnaccepted(what: { shim: ShimName; version: string; where: string }, accepted: readonly string[], extra?: { what: string; fix: string }): void {
  const open = advisoriesFor(what.shim, what.version).filter((a) => !accepted.some((id) => id.toUpperCase() === a.id.toUpperCase() || a.aliases.some((alias) => alias.toUpperCase() === id.toUpperCase())));
  if (open.length === 0) return;
  const fixed = open.map((a) => a.fixed).sort((a, b) => compareVersions(b, a))[0]!;
  throw new KubewasmError({
    what: `${what.shim} ${what.version} is affected by ${open.map(describeAdvisory).join('; ')}${extra ? `. Also: ${extra.what}` : ''}`,
    where: what.where,
    fix: `install ${fixed} or newer (--shim-version ${what.shim}=${fixed}), or, having read the advisory, accept it: ${open.map((a) => `--accept-advisory ${a.id}`).join(' ')}${extra ? `; ${extra.fix}` : ''}`,
  });
}
