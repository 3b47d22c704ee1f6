// The node lock: two kubewasm runs never change one node at the same time.
//
// A small sh program on the node takes flock(1) on a file under /run (gone at
// reboot, like the lock) and keeps it while kubewasm keeps its standard input
// open and sends a heartbeat. The kernel drops the lock when that program
// ends, which it does when kubewasm closes its stdin, when the connection
// (ssh session, docker exec, child pipe) goes away, or when no heartbeat came
// for HOLD_SECONDS: a kill -9 of kubewasm, a dropped SSH connection or a
// half-open one never leaves a stale lock behind. A node without flock(1)
// gets an atomic mkdir lock held by the same program, which removes it on
// exit; only a kill -9 of that program on the node itself can leave that one
// behind, and the message then says which directory to remove.
//
// A command given to acquireNodeLock runs once the lock is held, in the same
// session, and its output comes back with the lock: the probe of a node's
// facts costs no round trip of its own (over docker, an exec is the cost of a
// no-op).
import { hostname, userInfo } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { KubewasmError } from '../errors.js';
import type { NodeHost, RunningCommand } from '../host/host.js';
import { DEFAULT_STATE_DIR } from './record.js';

export const HEARTBEAT_SECONDS = 10;
export const HOLD_SECONDS = 60;
export const DEFAULT_LOCK_PATH = '/run/lock/kubewasm.lock';

// $1 lock file, $2 owner text, $3 seconds without heartbeat before giving up,
// $4 a nonce; the rest: a command to run once the lock is held (its stdin is
// not kubewasm's heartbeat, and it does not inherit the lock's descriptor),
// followed by "\n@@NONCE done CODE".
const LOCK_SCRIPT = `
lock=$1 owner=$2 hold=$3 nonce=$4; shift 4
mkdir -p -- "$(dirname -- "$lock")" 2>/dev/null
wait_for_kubewasm() {
  echo acquired
  if [ $# -gt 0 ]; then "$@" </dev/null 9>&-; printf '\\n@@%s done %s\\n' "$nonce" "$?"; fi
  # Hold until stdin ends or stays silent for $hold seconds.
  t=; command -v timeout >/dev/null 2>&1 && t="timeout $hold"
  while c=$($t dd bs=1 count=1 2>/dev/null) && [ -n "$c" ]; do :; done
}
if command -v flock >/dev/null 2>&1; then
  # The holder removes the file when it releases, while it still holds the
  # lock. A run that opened the file just before that and gets the lock after
  # finds the name gone or another file under it (-ef), and opens it again.
  tries=0
  while :; do
    exec 9>>"$lock" || { echo "error cannot open $lock"; exit 1; }
    if ! flock -n 9; then printf 'busy %s\\n' "$(head -c 2000 -- "$lock" 2>/dev/null | tr '\\n' ' ')"; exit 75; fi
    [ -e /dev/fd/9 ] || { keep=1; break; }  # no /dev/fd: cannot tell, so never remove the file either
    [ "$lock" -ef /dev/fd/9 ] && break
    exec 9>&-
    tries=$((tries + 1)); [ "$tries" -lt 50 ] || { echo "error $lock keeps changing under kubewasm"; exit 1; }
  done
  printf '%s node-pid=%s\\n' "$owner" "$$" > "$lock"
  wait_for_kubewasm "$@"
  if [ -n "\${keep:-}" ]; then : > "$lock"; else rm -f -- "$lock"; fi
else
  if ! mkdir -- "$lock.d" 2>/dev/null; then printf 'busy-dir %s\\n' "$(head -c 2000 -- "$lock.d/owner" 2>/dev/null | tr '\\n' ' ')"; exit 75; fi
  trap 'rm -rf -- "$lock.d"' EXIT
  trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
  printf '%s node-pid=%s\\n' "$owner" "$$" > "$lock.d/owner"
  wait_for_kubewasm "$@"
fi
`;

export interface NodeLock {
  release(): Promise<void>;
  /** When the lock was held (Date.now()); `underLock` ran after. */
  acquiredAt: number;
  /** What `underLock` printed on stdout, byte for byte, and its exit code. */
  output?: { stdout: Buffer; code: number };
}

export interface UnderLock {
  /** A command to run on the node once the lock is held, in the lock's own session. */
  argv: string[];
  /** Give up (and release the lock) when its output has not ended by then. */
  timeoutMs: number;
}

/** The lock file for a state dir: one per node, one per custom state dir (tests run several "nodes" on one machine). */
export function lockPathFor(stateDir: string): string {
  if (stateDir === DEFAULT_STATE_DIR) return DEFAULT_LOCK_PATH;
  return `/run/lock/kubewasm-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}.lock`;
}

export function ownerText(command = process.argv.slice(2, 4).join(' ') || 'kubewasm'): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container)
  }
  return `pid=${process.pid} host=${hostname()} user=${user} since=${new Date().toISOString()} command=${JSON.stringify(`kubewasm ${command}`)}`.replace(/\n/g, ' ');
}

export async function acquireNodeLock(host: NodeHost, lockPath: string, owner = ownerText(), underLock?: UnderLock): Promise<NodeLock> {
  const nonce = randomBytes(8).toString('hex');
  let running: RunningCommand;
  try {
    running = await host.start(['sh', '-c', LOCK_SCRIPT, 'sh', lockPath, owner, String(HOLD_SECONDS), nonce, ...(underLock?.argv ?? [])]);
  } catch (err) {
    throw err instanceof KubewasmError ? err : new KubewasmError({ what: `cannot take the node lock: ${(err as Error).message}`, where: host.name, cause: err });
  }
  const line = await running.readLine();
  if (line === 'acquired') {
    const acquiredAt = Date.now();
    const heartbeat = setInterval(() => running.write('k'), HEARTBEAT_SECONDS * 1000);
    heartbeat.unref();
    let released = false;
    const lock: NodeLock = {
      acquiredAt,
      async release() {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        await running.end();
      },
    };
    if (underLock) {
      try {
        lock.output = await outputUnderLock(running, nonce, underLock.timeoutMs);
      } catch (err) {
        // The command hangs: leave the session to end on its own (stdin closed) rather than wait for it.
        released = true;
        clearInterval(heartbeat);
        void running.end();
        throw new KubewasmError({ what: `${(err as Error).message} (while holding the node lock ${lockPath})`, where: host.name, fix: 'check the node: a program kubewasm runs there (ctr, crictl, sha256sum) does not finish; run kubewasm again', cause: err });
      }
    }
    return lock;
  }
  const exit = await running.end();
  if (line?.startsWith('busy')) {
    const holder = line.replace(/^busy(-dir)? ?/, '').trim() || '(no owner recorded)';
    const nodePid = /node-pid=(\d+)/.exec(holder)?.[1];
    const dirLock = line.startsWith('busy-dir');
    throw new KubewasmError({
      what: `another kubewasm run is changing this node: ${holder}`,
      where: `${host.name}:${dirLock ? `${lockPath}.d` : lockPath}`,
      fix: dirLock
        ? `wait for it to finish; if no kubewasm run is alive${nodePid ? ` and process ${nodePid} is gone from the node` : ''}, remove ${lockPath}.d on the node (this node has no flock(1); installing util-linux makes the lock release itself)`
        : `wait for it to finish and run again. The lock goes away by itself when that run ends, is killed or loses its connection (at most ${HOLD_SECONDS}s after its last heartbeat)${nodePid ? `; to end it now, kill ${nodePid} on the node` : ''}`,
    });
  }
  throw new KubewasmError({
    what: `cannot take the node lock ${lockPath}: ${(line ?? exit.stderr.trim()) || `exit code ${exit.code}`}`,
    where: host.name,
    fix: 'check that /run/lock is writable by root on the node (kubewasm runs as root there, or through sudo)',
  });
}

/** The output of the command run under the lock, up to the lock script's "done" record. */
async function outputUnderLock(running: RunningCommand, nonce: string, timeoutMs: number): Promise<{ stdout: Buffer; code: number }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the node did not finish its probe within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    const stdout = await Promise.race([running.readUntil(`\n@@${nonce} done `), timeout]);
    const code = stdout === undefined ? undefined : await Promise.race([running.readLine(), timeout]);
    if (stdout === undefined || code === undefined) throw new Error('the node lock\'s session ended before its probe did');
    return { stdout, code: Number(code) };
  } finally {
    clearTimeout(timer);
  }
}
