// A node's facts in one round trip: one sh script on the node stats, reads,
// lists, hashes and runs everything planning may ask for, and prints it as
// records the pure parser below reads back. What to ask for is decided here
// from the presets (every distribution's paths), so the readers above
// (readContainerdFacts, readNodeFacts, recovery) run unchanged against the
// result (probed-host.ts); whatever they ask that the probe did not foresee
// goes to the node live.
import { randomBytes } from 'node:crypto';
import type { SetupOverrides } from '../containerd/facts.js';
import { PRESETS } from '../containerd/presets.js';
import { shellQuote, type ExecResult, type FileInfo, type NodeHost } from '../host/host.js';
import { journalPath } from './journal.js';
import type { NodeDesired } from './plan.js';
import { recordPath } from './record.js';

export interface ProbeRequest {
  stats: string[];
  reads: string[];
  lists: string[];
  /** sha256 of these files (and of every "path" in `recordFile`). */
  digests: string[];
  /** kubewasm's record: the shims it lists are hashed too. */
  recordFile?: string;
  /** Programs to run, each only when `ifExists` exists (a socket): results are served by argv. */
  execs: Array<{ argv: string[]; ifExists?: string }>;
  /** Where the node keeps the sha256 cache; `update`: rewrite it (converge, under the node lock). */
  digestCache?: { path: string; update: boolean };
}

export interface ProbeResult {
  /** null: absent. A path missing from a map was not probed (or failed): ask the node live. */
  stats: Map<string, FileInfo | null>;
  reads: Map<string, Buffer | null>;
  lists: Map<string, string[] | null>;
  digests: Map<string, string | null>;
  execs: Map<string, ExecResult>;
  tools: { gzip: boolean; sha256sum: boolean };
  /** Digests taken from the cache / computed on the node. */
  cached: number;
  hashed: number;
}

/** The digest cache's file in the state dir (beside journal.json, which the probe script looks for by that name). */
export function digestCachePath(stateDir: string): string {
  return `${stateDir}/digests`;
}

// Records: "\n@@NONCE kind code rest\n" then the body up to the next record.
// sha256 cache, one line per file: v1 SUM DEV INODE SIZE MTIME CTIME AT PATH. A cached
// sum is used only while the file's device, inode, size, mtime and ctime are
// all unchanged and its ctime is older than AT, the second the key was taken
// before hashing: a write bumps ctime to now, and nobody can set ctime back
// (touch -d sets mtime); a change in the very second of hashing is "racy"
// (as in git's index) and never trusted.
const PROBE_SCRIPT = `
n=$1 cache=$2 update=$3 record=$4; shift 4
rec() { printf '\\n@@%s %s %s %s\\n' "$n" "$1" "$2" "$3"; }
have() { command -v "$1" >/dev/null 2>&1 && echo yes || echo no; }
t=; command -v timeout >/dev/null 2>&1 && t="timeout 15"
rec tools 0 "gzip=$(have gzip) sha256sum=$(have sha256sum)"
lines= seen='
'
digest() {
  f=$1
  case "$seen" in *"
$f
"*) return;; esac
  seen="$seen$f
"
  [ -e "$f" ] || { rec digest 44 "$f"; return; }
  key=$(stat -L -c '%d %i %s %Y %Z' -- "$f" 2>/dev/null) || key=
  sum=
  if [ -n "$key" ] && [ -n "$cache" ] && [ -f "$cache" ]; then
    while read -r v s d i z m c a p; do
      if [ "$v" = v1 ] && [ "$p" = "$f" ] && [ "$d $i $z $m $c" = "$key" ] && [ "$c" -lt "$a" ] 2>/dev/null; then sum=$s; break; fi
    done < "$cache"
  fi
  if [ -n "$sum" ]; then
    rec digest 0 "$f"; printf 'cached %s' "$sum"
    at=$a
  else
    command -v sha256sum >/dev/null 2>&1 || { rec digest 45 "$f"; return; }
    at=$(date +%s); key=$(stat -L -c '%d %i %s %Y %Z' -- "$f" 2>/dev/null) || key=
    sum=$(sha256sum -- "$f") || { rec digest 1 "$f"; return; }
    rec digest 0 "$f"; printf 'hashed %s' "\${sum%% *}"
    sum=\${sum%% *}
  fi
  case "$f" in *"
"*) ;; *) [ -n "$key" ] && lines="\${lines}v1 $sum $key $at $f
";; esac
}
mode=
for arg do
  case $arg in :stat|:read|:list|:digest|:exec) mode=$arg; continue;; esac
  case $mode in
    :stat) if [ -e "$arg" ]; then s=$(stat -L -c '%f %s' -- "$arg" 2>/dev/null) && { rec stat 0 "$arg"; printf %s "$s"; }; else rec stat 44 "$arg"; fi;;
    :read) if [ -e "$arg" ]; then rec read 0 "$arg"; cat -- "$arg" 2>/dev/null || rec readfail 1 "$arg"; else rec read 44 "$arg"; fi;;
    :list) if [ -d "$arg" ]; then rec list 0 "$arg"; ls -1A -- "$arg" 2>/dev/null || rec listfail 1 "$arg"; else rec list 44 "$arg"; fi;;
    :digest) digest "$arg";;
    :exec)
      i=\${arg%% *}; rec exec 0 "$i"
      { e=$( { eval "\${arg#* }"; } 2>&1 1>&3 3>&-); c=$?; } 3>&1
      rec exit "$c" "$i"; printf %s "$e";;
  esac
done
if [ -n "$record" ] && [ -f "$record" ]; then
  for p in $(sed -n 's/^ *"path": "\\([^"]*\\)",\\{0,1\\}$/\\1/p' "$record" 2>/dev/null); do digest "$p"; done
fi
# Rewritten only when it changes; never while an interrupted run's journal is there (its
# files are in flux); no file at all when nothing is left to hash.
if [ "$update" = yes ] && [ -n "$cache" ] && [ -d "$(dirname -- "$cache")" ] && [ ! -e "$(dirname -- "$cache")/journal.json" ]; then
  if [ -z "$lines" ]; then rm -f -- "$cache"
  elif ! { [ -f "$cache" ] && [ "$(cat -- "$cache")" = "$(printf %s "$lines")" ]; }; then
    tmp="$(dirname -- "$cache")/.$(basename -- "$cache").kubewasm-$$"
    printf %s "$lines" > "$tmp" && mv -f -- "$tmp" "$cache" || rm -f -- "$tmp"
  fi
fi
rec end 0 -
`;

/** The argv of the probe for a request (the nonce marks records, so no file's bytes can pass for one). */
export function probeArgv(request: ProbeRequest, nonce: string): string[] {
  const execs = request.execs.map(({ argv, ifExists }, i) => `${i} ${ifExists ? `[ -e ${shellQuote(ifExists)} ] || exit 44; ` : ''}exec $t ${argv.map(shellQuote).join(' ')}`);
  return [
    'sh', '-c', PROBE_SCRIPT, 'sh', nonce, request.digestCache?.path ?? '', request.digestCache?.update ? 'yes' : 'no', request.recordFile ?? '',
    ':stat', ...request.stats, ':read', ...request.reads, ':list', ...request.lists, ':digest', ...request.digests, ':exec', ...execs,
  ];
}

export const execKey = (argv: readonly string[]): string => JSON.stringify(argv);

/** Pure: the probe's output -> what it found. Records cut short (no end record) are dropped, not guessed. */
export function parseProbeOutput(output: Buffer, nonce: string, request: Pick<ProbeRequest, 'execs'>): ProbeResult {
  const result: ProbeResult = { stats: new Map(), reads: new Map(), lists: new Map(), digests: new Map(), execs: new Map(), tools: { gzip: false, sha256sum: false }, cached: 0, hashed: 0 };
  const marker = Buffer.from(`\n@@${nonce} `);
  const records: Array<{ kind: string; code: number; rest: string; body: Buffer }> = [];
  let at = output.indexOf(marker);
  while (at >= 0) {
    const next = output.indexOf(marker, at + marker.length);
    const chunk = output.subarray(at + marker.length, next < 0 ? output.length : next);
    const newline = chunk.indexOf(10);
    const header = chunk.subarray(0, newline < 0 ? chunk.length : newline).toString('utf8');
    const [kind = '', code = '', ...rest] = header.split(' ');
    records.push({ kind, code: Number(code), rest: rest.join(' '), body: newline < 0 ? Buffer.alloc(0) : chunk.subarray(newline + 1) });
    at = next;
  }
  if (records.at(-1)?.kind !== 'end') return result; // cut off: trust nothing of it
  const failed = new Set(records.filter((r) => r.kind === 'readfail' || r.kind === 'listfail').map((r) => `${r.kind.slice(0, 4)}\0${r.rest}`));
  for (const [index, r] of records.entries()) {
    switch (r.kind) {
      case 'tools':
        result.tools = { gzip: /\bgzip=yes\b/.test(r.rest), sha256sum: /\bsha256sum=yes\b/.test(r.rest) };
        break;
      case 'stat':
        if (r.code === 44) result.stats.set(r.rest, null);
        else if (r.code === 0) {
          const [rawMode, size] = r.body.toString('utf8').trim().split(' ');
          const mode = parseInt(rawMode ?? '', 16);
          if (Number.isFinite(mode) && size !== undefined) result.stats.set(r.rest, { mode: mode & 0o7777, size: Number(size), isDirectory: (mode & 0o170000) === 0o040000 });
        }
        break;
      case 'read':
        if (r.code === 44) result.reads.set(r.rest, null);
        else if (r.code === 0 && !failed.has(`read\0${r.rest}`)) result.reads.set(r.rest, Buffer.from(r.body));
        break;
      case 'list':
        if (r.code === 44) result.lists.set(r.rest, null);
        else if (r.code === 0 && !failed.has(`list\0${r.rest}`)) result.lists.set(r.rest, r.body.toString('utf8').split('\n').filter(Boolean));
        break;
      case 'digest': {
        if (r.code === 44) result.digests.set(r.rest, null);
        const found = /^(cached|hashed) ([0-9a-f]{64})$/.exec(r.body.toString('utf8').trim());
        if (r.code === 0 && found) {
          result.digests.set(r.rest, found[2]!);
          if (found[1] === 'cached') result.cached++;
          else result.hashed++;
        }
        break;
      }
      case 'exec': {
        const exit = records[index + 1];
        const spec = request.execs[Number(r.rest)];
        if (!spec || exit?.kind !== 'exit' || exit.rest !== r.rest || exit.code === 44) break;
        result.execs.set(execKey(spec.argv), { code: exit.code, stdout: r.body.toString('utf8'), stderr: exit.body.toString('utf8') });
        break;
      }
    }
  }
  return result;
}

export const PROBE_TIMEOUT_MS = 120_000;

/** The probe as a command to run (on its own, or in the node lock's session) and the parser of what it prints. */
export function probeCommand(request: ProbeRequest): { argv: string[]; parse(output: Buffer): ProbeResult } {
  const nonce = randomBytes(8).toString('hex');
  return { argv: probeArgv(request, nonce), parse: (output) => parseProbeOutput(output, nonce, request) };
}

/** Runs the probe: one exec on the node (a run that takes the node lock has it run under the lock instead: converge.ts). */
export async function probeNode(host: NodeHost, request: ProbeRequest): Promise<ProbeResult> {
  const nonce = randomBytes(8).toString('hex');
  const argv = probeArgv(request, nonce);
  if (host.execBytes) return parseProbeOutput((await host.execBytes(argv, { timeoutMs: PROBE_TIMEOUT_MS })).stdout, nonce, request);
  // A host that only gives text: file contents that were not UTF-8 would come back changed, so they are read live.
  const text = (await host.exec(argv, { timeoutMs: PROBE_TIMEOUT_MS })).stdout;
  const result = parseProbeOutput(Buffer.from(text, 'utf8'), nonce, request);
  if (text.includes('\uFFFD')) result.reads.clear();
  return result;
}

export interface ProbeFor {
  stateDir: string;
  overrides?: SetupOverrides;
  /** Also ask the CRI (observeNode). */
  cri?: boolean;
  /** Rewrite the digest cache (only under the node lock). */
  updateCache?: boolean;
}

/**
 * Pure: everything planning may read on a node of any distribution: each
 * preset's detection path, socket, config files and their directories, unit
 * files and shim directory (the user's overrides added), kubewasm's state
 * files, and the digests of the desired shims wherever they may go.
 */
export function probeRequestFor(desired: NodeDesired, options: ProbeFor): ProbeRequest {
  const o = options.overrides ?? {};
  const stats = new Set<string>(['/run/systemd/system', '/etc/init.d/containerd', options.stateDir]);
  const reads = new Set<string>([journalPath(options.stateDir), recordPath(options.stateDir)]);
  const lists = new Set<string>([options.stateDir]);
  const digests = new Set<string>();
  const addresses = new Set<string>(o.address ? [o.address] : []);
  const shimDirs = new Set<string>(desired.installDir ? [desired.installDir] : []);
  const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
  for (const p of PRESETS) {
    if (p.detectedBy) stats.add(p.detectedBy);
    if (!o.address) addresses.add(p.address);
    if (!o.shimDir && !desired.installDir) shimDirs.add(p.shimDir);
    const configs = o.configPath ? [o.configPath] : [...p.config, ...(p.renderedTo ? [p.renderedTo] : []), ...(p.copiedTo ? [p.copiedTo] : [])];
    for (const c of configs) {
      reads.add(c);
      stats.add(c);
      lists.add(dirOf(c));
    }
    if (p.restart.kind === 'systemd') for (const u of p.restart.units) for (const d of ['/etc/systemd/system', '/lib/systemd/system']) stats.add(`${d}/${u}.service`);
  }
  if (o.shimDir && !desired.installDir) shimDirs.add(o.shimDir);
  for (const dir of shimDirs) {
    lists.add(dir);
    const parts = dir.split('/').filter(Boolean);
    parts.forEach((_, i) => stats.add(`/${parts.slice(0, i + 1).join('/')}`));
    for (const s of desired.shims) digests.add(`${dir}/${s.shim.binaryName}`);
  }
  for (const a of addresses) stats.add(a);
  // A binary named by the user is asked for its version instead of the running daemon (readContainerdFacts).
  const execs: ProbeRequest['execs'] = o.binary ? [{ argv: [o.binary, '--version'] }] : [];
  for (const a of addresses) {
    execs.push({ argv: ['ctr', '--address', a, '--connect-timeout', '5s', 'version'], ifExists: a });
    if (options.cri) execs.push({ argv: ['crictl', '--runtime-endpoint', `unix://${a}`, '--timeout', '5s', 'info'], ifExists: a });
  }
  return {
    stats: [...stats],
    reads: [...reads],
    lists: [...lists],
    digests: [...digests],
    recordFile: recordPath(options.stateDir),
    execs,
    digestCache: { path: digestCachePath(options.stateDir), update: options.updateCache ?? false },
  };
}
