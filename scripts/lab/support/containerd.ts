// Real containerd daemons for integration tests: each with its own config,
// root, state and socket in a temp dir, in a private mount namespace (so the
// files a real config names, like /etc/containerd/cri-base.json or NRI's
// socket, are the test's own), restarted by a script the test gives kubewasm
// as --restart-command.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtBinDir, requireBuilt, requirePackageFile, requireProgram, requireRoot, type BuiltComponent } from './requirements.js';

export interface ContainerdBuild {
  label: string;
  binDir: string;
  /** The lab cache's build; none: Debian's containerd package. */
  built?: BuiltComponent;
}

export const CONTAINERD_BUILDS: Record<'1.6' | '2.2' | '2.4', ContainerdBuild> = {
  // Debian's package puts its 1.6 in /usr/bin; the tests need that build, whatever else is on the PATH.
  '1.6': { label: 'containerd 1.6.20 (Debian)', binDir: '/usr/bin' },
  '2.2': { label: 'containerd 2.2.9', binDir: builtBinDir('containerd-2.2'), built: 'containerd-2.2' },
  '2.4': { label: 'containerd 2.4.2', binDir: builtBinDir('containerd-2.4'), built: 'containerd-2.4' },
};

export const CRICTL = path.join(builtBinDir('crictl'), 'crictl');

/** containerd and ctr of a build, and what a node runs beside them (runc, crictl), or an error saying how to get them. */
export function requireContainerd(build: ContainerdBuild): { containerd: string; ctr: string } {
  requireBuilt('crictl', 'crictl');
  requireProgram('runc');
  const one = (program: 'containerd' | 'ctr') => (build.built ? requireBuilt(build.built, program) : requirePackageFile('containerd', path.join(build.binDir, program)));
  return { containerd: one('containerd'), ctr: one('ctr') };
}

export interface TestContainerd {
  dir: string;
  configPath: string;
  socket: string;
  binary: string;
  ctr: string;
  /** The script kubewasm runs to restart this containerd. */
  restartScript: string;
  /** Directory on this containerd's PATH (its shims go here). */
  shimDir: string;
  /** Starts (or restarts) it and waits for its socket. */
  start(): void;
  stop(): void;
  /** `containerd config dump`: the config containerd actually loads, after its migrations. */
  configDump(): string;
  /** `ctr plugins ls`. */
  plugins(): string;
  /** `crictl info` as JSON. */
  criInfo(): { status: { conditions: Array<{ type: string; status: boolean }> }; config: { containerd: { runtimes: Record<string, { runtimeType?: string; runtimePath?: string }> } } };
  cleanup(): void;
}

/**
 * render: for distributions that generate the file containerd reads from a
 * template (microk8s, k3s), how the restart script produces it.
 */
export function testContainerd(build: ContainerdBuild, options: { configFile?: string; render?: string } = {}): TestContainerd {
  requireRoot();
  const { containerd: binary, ctr } = requireContainerd(build);
  const dir = mkdtempSync(path.join(tmpdir(), 'kubewasm-containerd-'));
  for (const sub of ['root', 'state', 'etc-containerd', 'nri', 'bin', 'opt']) mkdirSync(path.join(dir, sub));
  const configPath = options.configFile ?? path.join(dir, 'config.toml');
  const loadedConfig = options.render ? path.join(dir, 'rendered.toml') : configPath;
  const socket = path.join(dir, 'containerd.sock');
  const shimDir = path.join(dir, 'bin');
  const pidFile = path.join(dir, 'containerd.pid');
  const log = path.join(dir, 'containerd.log');
  // kind's config points runc at this base spec; give the namespace one.
  writeFileSync(path.join(dir, 'etc-containerd', 'cri-base.json'), execFileSync(ctr, ['oci', 'spec']).toString());

  const restartScript = path.join(dir, 'restart.sh');
  writeFileSync(
    restartScript,
    `#!/bin/sh
# Restart this test's containerd, the way systemd would: stop, start, return.
set -e
if [ -f ${pidFile} ]; then
  pid=$(cat ${pidFile})
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f ${pidFile}
fi
${options.render ?? ''}
# A missing config file means containerd's defaults, as for /etc/containerd/config.toml.
config_flag=""; [ -f ${loadedConfig} ] && config_flag="--config ${loadedConfig}"
PATH=${shimDir}:${build.binDir}:/usr/sbin:/usr/bin:/sbin:/bin setsid unshare --mount --propagation private sh -c '
  mount -t tmpfs tmpfs /etc/containerd && cp ${dir}/etc-containerd/* /etc/containerd/
  mkdir -p /var/run/nri && mount --bind ${dir}/nri /var/run/nri
  mkdir -p /opt/containerd && mount --bind ${dir}/opt /opt/containerd
  exec ${binary} '"$config_flag"' --address ${socket} --root ${dir}/root --state ${dir}/state
' >>${log} 2>&1 < /dev/null &
echo $! > ${pidFile}
for i in $(seq 1 100); do [ -S ${socket} ] && exit 0; sleep 0.1; done
echo "containerd did not create ${socket}; see ${log}" >&2
exit 1
`,
    { mode: 0o755 },
  );

  const run = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const self: TestContainerd = {
    dir,
    configPath,
    socket,
    binary,
    ctr,
    restartScript,
    shimDir,
    start: () => void run(['sh', restartScript]),
    stop: () => {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        process.kill(pid);
        execFileSync('sh', ['-c', `for i in $(seq 1 100); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done`]);
      } catch {
        // not running
      }
      rmSync(pidFile, { force: true });
    },
    configDump: () => run(['sh', '-c', `unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs /etc/containerd && cp ${dir}/etc-containerd/* /etc/containerd/ && ${binary} --config ${loadedConfig} config dump'`]),
    plugins: () => run([ctr, '--address', socket, 'plugins', 'ls']),
    criInfo: () => JSON.parse(run([CRICTL, '--runtime-endpoint', `unix://${socket}`, 'info'])),
    cleanup: () => {
      self.stop();
      try {
        execFileSync('sh', ['-c', `grep ' ${dir}' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l`]);
      } catch {
        // nothing mounted
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** A shell script that answers `-v` the way runwasi's shims do (kubewasm runs it before restarting containerd) and fails otherwise. */
export function standInScript(binaryName: string): string {
  return `#!/bin/sh\n# stand-in for ${binaryName}: registration tests never run a pod with it\n[ "$1" = -v ] && printf '%s:\\n  Runtime: stand-in\\n  Version: 0.0.0\\n  Revision: <none>\\n' "\${0##*/}" && exit 0\nexit 1\n`;
}

/** An executable standing in for a shim binary: these tests register runtimes, they do not run pods. */
export function writeStandInShim(dir: string, binaryName: string): string {
  const file = path.join(dir, binaryName);
  writeFileSync(file, standInScript(binaryName), { mode: 0o755 });
  return file;
}
