import { UsageError } from '../../lib/errors.js';
import { parseArchList } from '../../lib/shims/catalog.js';
import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { progress } from '../progress.js';
import { REGISTRY_FLAGS } from './image-flags.js';

const OWN: flags.Flags = {
  ...flags.SHIMS_FLAG,
  arch: { arg: 'LIST', help: 'platforms of the installer image: amd64, arm64 (default: amd64)' },
  from: { arg: 'FILE', list: true, help: 'push these OCI archives (from kubewasm image build -o DIR) instead of building\nthem now; repeatable' },
  ...REGISTRY_FLAGS,
};

export const imagePush: Command = {
  path: ['image', 'push'],
  summary: 'Push the installer and smoke images to a registry the nodes pull from',
  usage: 'kubewasm image push REGISTRY/REPO[:TAG] [--from FILE…] [--registry-config FILE] [--ca-file FILE] [options]',
  options: flags.parseConfig(OWN, flags.SHIM_FLAGS),
  help: `Builds the images (as kubewasm image build; cached by content) or takes --from archives, and
pushes each image NAME:TAG to REGISTRY/REPO/NAME under a content-addressed tag (TAG-<12 hex of
its manifest digest>), or under :TAG when given. Blobs the registry has are not sent again; tags are
written last, so a failed push leaves no tag pointing at anything missing. Prints one reference a line.
Use the installer's with kubewasm install --image REF, or run kubewasm install --registry REGISTRY/REPO.

${flags.helpOf('', OWN)}

${flags.shimHelp()}`,
  async run(ctx) {
    const [target] = ctx.args;
    if (!target || ctx.args.length > 1) throw new UsageError('say where to push: kubewasm image push REGISTRY/REPO[:TAG]');
    const { registryOptions } = await import('../../lib/oci/registry-flags.js');
    const registry = registryOptions({ target, registryConfig: flags.string(ctx.options, 'registry-config'), caFile: flags.string(ctx.options, 'ca-file') });
    const [{ buildImages, pushImages, describePush }, { defaultCacheDir }] = await Promise.all([import('../../lib/kube/images.js'), import('../../lib/shims/cache.js')]);
    const from = flags.list(ctx.options, 'from');
    let archives = from;
    if (!from.length) {
      const shims = flags.shims(ctx.options);
      const archs = parseArchList(flags.string(ctx.options, 'arch') ?? 'amd64');
      const supply = await flags.shimSupply(ctx.options, shims, archs, process.env, true);
      archives = (await buildImages({ shims, supply, archs, installerNode: undefined, cacheDir: flags.string(ctx.options, 'cache-dir') ?? defaultCacheDir() }, progress(ctx).shim)).archives;
    }
    const pushed = await pushImages(archives, registry);
    ctx.stderr.write(`${describePush(pushed)}\n`);
    for (const image of pushed.images) ctx.stdout.write(`${image.reference}\n`);
    return 0;
  },
};
