// The node-installer DaemonSet pod's process (cmd/node-installer.ts is its
// entrypoint): reads its environment (set by the DaemonSet: manifests.ts ENV),
// verifies the shims baked into the image, serves a readiness probe and runs
// the controller on its own Node until it is told to stop. `--self-check` only
// loads everything and prints what it would run with (used to test the image
// without a cluster).
import { createServer } from 'node:http';
import { asKubewasmError, KubewasmError } from '../errors.js';
import { IMAGE_SHIM_DIR, readImageShims } from '../installer-image/shims.js';
import { parseShimList } from '../shims/catalog.js';
import { ENV, PROBE_PERIOD_SECONDS, PROBE_PORT } from './manifests.js';
import { desiredDigest } from './names.js';

/** Runs the installer to its end and sets the process's exit code. */
export function nodeInstallerProcess(argv: string[], env: NodeJS.ProcessEnv): void {
  runNodeInstaller(argv, env).then(
    (code) => {
      process.exitCode = code;
      // The watch's sockets may linger; the controller is stopped, so leave now.
      setTimeout(() => process.exit(code), 100).unref();
    },
    (err: unknown) => {
      const error = asKubewasmError(err);
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = error.exitCode;
    },
  );
}

export async function runNodeInstaller(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const nodeName = env[ENV.nodeName];
  const image = env[ENV.image] ?? 'unknown';
  const installDir = env[ENV.installDir] || undefined;
  const shims = parseShimList(env[ENV.shims] ?? 'wasmtime');
  const sources = await readImageShims(env['KUBEWASM_IMAGE_SHIM_DIR'] ?? IMAGE_SHIM_DIR, shims);
  const digest = desiredDigest({ image, shims: shims.map((s) => s.name), installDir });
  if (argv.includes('--self-check')) {
    // Loads the modules the controller needs, so a missing file or library in the image shows here.
    await Promise.all([import('./client.js'), import('./controller.js'), import('../host/local.js')]);
    process.stdout.write(`${JSON.stringify({ node: process.version, arch: process.arch, shims: sources.map((s) => ({ name: s.shim.name, sha256: s.sha256 })), desired: digest })}\n`);
    return 0;
  }
  if (!nodeName) throw new KubewasmError({ what: `${ENV.nodeName} is not set`, fix: 'run the node installer from its DaemonSet (it sets NODE_NAME from spec.nodeName)', exitCode: 2 });

  const [{ Kube, loadKubeConfig }, { NodeController }, { LocalHost }] = await Promise.all([import('./client.js'), import('./controller.js'), import('../host/local.js')]);
  const kube = new Kube(loadKubeConfig({ kubeconfig: env['KUBECONFIG'] || undefined }));
  const hostRoot = env['KUBEWASM_HOST_ROOT'] ?? '/host';
  const host = new LocalHost({ name: nodeName, root: hostRoot, nsenter: env['KUBEWASM_NSENTER'] !== '0' });
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  // The kubelet's next "ready" answer from the probe: the Node says Ready only after the pod is.
  const probedReady: Array<() => void> = [];
  const readinessGate = () =>
    new Promise<void>((resolve) => {
      probedReady.push(resolve);
      setTimeout(resolve, 2 * PROBE_PERIOD_SECONDS * 1000 + 1000).unref();
    });
  const controller = new NodeController({
    kube,
    nodeName,
    host,
    hostRoot,
    desired: { shims: sources, ...(installDir ? { installDir } : {}) },
    desiredDigest: digest,
    readinessGate,
    ...(env['KUBEWASM_POLL_MS'] ? { pollMs: Number(env['KUBEWASM_POLL_MS']) } : {}),
    log,
  });

  // /readyz follows the node's real state (the controller's last check), /healthz only says the process answers.
  const probe = createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && controller.status.ready);
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${controller.status.message}\n`);
    // Give the kubelet a moment to publish the pod's Ready condition (and the DaemonSet its count) before the Node says Ready.
    if (ok && req.url === '/readyz') for (const resolve of probedReady.splice(0)) setTimeout(resolve, 1_500).unref();
  });
  const port = Number(env['KUBEWASM_PROBE_PORT'] ?? PROBE_PORT);
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, resolve));

  log(`kubewasm node installer on ${nodeName}: shims ${sources.map((s) => s.shim.name).join(', ')}, desired ${digest}, probe :${port}`);
  controller.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: finishing the current step, then exiting`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await controller.stop();
  probe.close();
  await host.close();
  return 0;
}
