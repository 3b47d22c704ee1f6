// A containerd restart that catches a Wasm shim starting, on real containerd
// 2.2 and 2.4 with the lab's real runwasi wasmtime shim. The restart leaves
// the shim's bundle without bootstrap.json; at start-up containerd runs the
// shim's `delete` there and waits for its output with no deadline, while
// runwasi's logger blocks that delete on the bundle's log FIFO: containerd
// never serves (seen in the e2e drift test on the lab's node-2). kubewasm's
// restart releases it, and the install converges.
// The bundle is made here as containerd leaves it (config.json, the log FIFO;
// shim-binary-path names the shim, as a container record would).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.js';
import { convergeNode } from '../../lib/node/converge.js';
import { SHIMS } from '../../lib/shims/catalog.js';
import { shimsFromDir } from '../../lib/shims/shim-dir.js';
import { CONTAINERD_BUILDS, CRICTL, testContainerd, type TestContainerd } from '../../scripts/lab/support/containerd.js';

const root = new URL('../../', import.meta.url).pathname;
process.env['PATH'] = `${path.dirname(CRICTL)}:${process.env['PATH']}`;

function labShim(): string {
  const script = path.join(root, 'scripts/lab/build/wasmtime-shim.sh');
  const file = execFileSync(script, ['--print-path'], { encoding: 'utf8' }).trim();
  if (!existsSync(file)) throw new Error(`${file} is missing: this test runs the lab's real wasmtime shim. Run \`scripts/lab/prepare\` (or \`${script}\`), then run the tests again.`);
  return file;
}

describe.each([CONTAINERD_BUILDS['2.2'], CONTAINERD_BUILDS['2.4']])('$label restarted while a Wasm shim starts', (build) => {
  let containerd: TestContainerd;
  let shimSource: string;
  const host = new LocalHost({ name: 'test-node' });

  beforeAll(() => {
    shimSource = mkdtempSync(path.join(tmpdir(), 'kubewasm-shim-'));
    copyFileSync(labShim(), path.join(shimSource, 'containerd-shim-wasmtime-v1'));
    containerd = testContainerd(build);
    containerd.start();
  });
  afterAll(() => containerd?.cleanup());

  it('node install restarts containerd, releases the shim delete that blocks its start-up, and converges', async () => {
    // Made while containerd runs: it reads its bundles only at start-up, here the restart kubewasm makes.
    const bundle = path.join(containerd.dir, 'state', 'io.containerd.runtime.v2.task', 'k8s.io', 'wasm-pod-starting');
    mkdirSync(bundle, { recursive: true });
    writeFileSync(path.join(bundle, 'config.json'), '{}');
    writeFileSync(path.join(bundle, 'shim-binary-path'), path.join(shimSource, 'containerd-shim-wasmtime-v1'));
    execFileSync('mkfifo', [path.join(bundle, 'log')]);
    const t0 = Date.now();
    const shims = await shimsFromDir(shimSource, [SHIMS.wasmtime]);
    const result = await convergeNode(host, { shims }, {
      containerd: { configPath: containerd.configPath, address: containerd.socket, binary: containerd.binary, shimDir: containerd.shimDir, restart: { kind: 'command', argv: ['sh', containerd.restartScript] } },
      stateDir: path.join(containerd.dir, 'state-kubewasm'),
      criTimeoutMs: 30_000,
    });
    expect(result.applied).toBe(true);
    const info = containerd.criInfo();
    expect(info.status.conditions.find((c) => c.type === 'RuntimeReady')?.status).toBe(true);
    expect(Object.keys(info.config.containerd.runtimes)).toContain('wasmtime');
    // containerd cleaned the dead shim's bundle up once its delete returned, and no delete is left behind.
    expect(existsSync(bundle)).toBe(false);
    expect(execFileSync('sh', ['-c', `pgrep -f '[c]ontainerd-shim-wasmtime-v1 .*${containerd.dir}.* delete$' || true`], { encoding: 'utf8' })).toBe('');
    console.log(`${build.label}: converged in ${((Date.now() - t0) / 1000).toFixed(1)} s with a stuck shim delete released`);
  });
});
