// What the installer watches on its node, through the host mount: the config
// it manages (and the rendered file of a template distribution), the shim
// binaries it placed, its record, and containerd's socket (containerd unlinks
// and binds it anew on every start, so a new inode means a restart). Two
// means, one answer:
// - fs.watch (inotify) on the directories that hold them: a file replaced by
//   a rename, or deleted, is seen at once (a watch on the file itself would
//   follow the old inode);
// - a poll of cheap facts (inode, size, mtime, ctime; no hashing) every
//   `pollMs`, where inotify does not reach (a directory that does not exist
//   yet, overlay or network mounts) or an event was lost.
// A change is reported once per differing fingerprint, after `debounceMs`
// (an editor's or a package manager's burst of writes is one change).
import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

export interface WatchedPath {
  /** The path on the node, e.g. /etc/containerd/config.toml. */
  path: string;
  /** What it is, for the reason a change is reported with. */
  what: string;
}

export interface NodeWatcherOptions {
  /** Where the node's / is mounted ("/" outside a pod). */
  root: string;
  onChange: (reason: string) => void;
  /** Default 2 s. */
  pollMs?: number;
  /** Default 300 ms. */
  debounceMs?: number;
  log?: (line: string) => void;
}

/** Pure: the fingerprint of a file's cheap facts ("absent" when it is not there). */
export function fingerprint(info: { ino: number | bigint; size: number | bigint; mtimeMs: number; ctimeMs: number } | undefined): string {
  return info ? `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}` : 'absent';
}

/** Pure: the directories to watch for these paths (each path's parent, once). */
export function watchedDirs(targets: readonly WatchedPath[]): string[] {
  return [...new Set(targets.map((t) => path.posix.dirname(t.path)))].sort();
}

export class NodeWatcher {
  private targets: WatchedPath[] = [];
  private readonly seen = new Map<string, string>();
  /** Each watched directory with the inode it had when armed (a directory deleted and made again is a new inode: re-armed). */
  private readonly dirWatchers = new Map<string, { watcher: FSWatcher; ino: number }>();
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private readonly changed = new Set<string>();
  private stopped = true;
  private checking: Promise<void> | undefined;
  private recheck = false;
  /** How many changes each means found (for the closing figures and tests). */
  readonly counts = { inotify: 0, poll: 0 };

  constructor(private readonly options: NodeWatcherOptions) {}

  /** Starts watching `targets` (replacing earlier ones); their current state is the baseline. */
  async watch(targets: readonly WatchedPath[]): Promise<void> {
    const same = targets.length === this.targets.length && targets.every((t, i) => t.path === this.targets[i]?.path);
    if (same && !this.stopped) return;
    if (this.stopped) this.seen.clear(); // watching again after stop(): today's files are the baseline
    this.stopped = false;
    this.targets = [...targets];
    const wanted = new Set(watchedDirs(this.targets));
    for (const [dir, { watcher }] of this.dirWatchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.dirWatchers.delete(dir);
      }
    }
    for (const key of [...this.seen.keys()]) if (!this.targets.some((t) => t.path === key)) this.seen.delete(key);
    for (const t of this.targets) if (!this.seen.has(t.path)) this.seen.set(t.path, await this.fingerprintOf(t.path));
    this.armDirs();
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => void this.check('poll'), this.options.pollMs ?? 2_000);
      this.pollTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    clearTimeout(this.debounceTimer);
    for (const { watcher } of this.dirWatchers.values()) watcher.close();
    this.dirWatchers.clear();
  }

  /** The paths watched now. */
  get watched(): readonly WatchedPath[] {
    return this.targets;
  }

  private armDirs(): void {
    for (const dir of watchedDirs(this.targets)) {
      const ino = inodeOf(this.onHost(dir));
      const armed = this.dirWatchers.get(dir);
      if (armed && armed.ino === ino) continue;
      armed?.watcher.close();
      this.dirWatchers.delete(dir);
      if (ino === undefined) continue; // not there (yet): the poll covers it
      try {
        const watcher = watch(this.onHost(dir), { persistent: false }, (_event, name) => {
          const file = name ? path.posix.join(dir, name.toString()) : undefined;
          if (file === undefined || this.targets.some((t) => t.path === file)) void this.check('inotify');
        });
        watcher.on('error', () => {
          // The directory went away (rm -rf /var/lib/kubewasm): the poll sees it, and re-arms once it is back.
          watcher.close();
          if (this.dirWatchers.get(dir)?.watcher === watcher) this.dirWatchers.delete(dir);
          void this.check('inotify');
        });
        this.dirWatchers.set(dir, { watcher, ino });
      } catch {
        // Not there (yet), or no inotify here: the poll covers it.
      }
    }
  }

  /** Compares every target's fingerprint with the last one seen; reports the ones that differ. */
  private check(means: 'inotify' | 'poll'): Promise<void> {
    if (this.checking) {
      this.recheck = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.recheck = false;
        if (this.stopped) return;
        for (const t of this.targets) {
          const now = await this.fingerprintOf(t.path);
          if (now === this.seen.get(t.path)) continue;
          const before = this.seen.get(t.path);
          this.seen.set(t.path, now);
          this.counts[means] += 1;
          this.changed.add(`${t.what} ${t.path} ${now === 'absent' ? 'was removed' : before === 'absent' ? 'appeared' : 'changed'}`);
        }
        this.armDirs();
      } while (this.recheck);
      if (this.changed.size && !this.debounceTimer) {
        this.debounceTimer = setTimeout(() => {
          this.debounceTimer = undefined;
          const reasons = [...this.changed];
          this.changed.clear();
          if (!this.stopped) this.options.onChange(reasons.join('; '));
        }, this.options.debounceMs ?? 300);
      }
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async fingerprintOf(nodePath: string): Promise<string> {
    try {
      return fingerprint(await stat(this.onHost(nodePath)));
    } catch {
      return 'absent';
    }
  }

  private onHost(nodePath: string): string {
    return path.join(this.options.root, nodePath);
  }
}

function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}
