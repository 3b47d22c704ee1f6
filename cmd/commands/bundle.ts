import { UsageError } from '../../lib/errors.js';
import { writeBundle } from '../../lib/shims/bundle.js';
import { ARCHES, parseArchList, parseShimList } from '../../lib/shims/catalog.js';
import { toLockEntry } from '../../lib/shims/releases.js';
import { stringOption, type Command } from '../command.js';
import { fetchWithProgress, SHIM_SOURCE_HELP, SHIM_SOURCE_OPTIONS, shimReleasesFromOptions } from '../shim-sources.js';

export const bundle: Command = {
  path: ['bundle'],
  summary: 'Download and verify shim release archives into one file for air-gapped installs',
  usage: 'kubewasm bundle --shims wasmtime[,spin…] [--arch amd64,arm64] -o FILE [options]',
  options: {
    ...SHIM_SOURCE_OPTIONS,
    shims: { type: 'string' },
    arch: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  help: `Writes FILE: a tar holding kubewasm-bundle.lock.json (versions, archive and binary sha256s) and
each verified release archive. Use it where GitHub is unreachable: kubewasm node install --bundle FILE.

  --shims LIST              wasmtime, wasmedge, wasmer, spin (default: wasmtime)
  --arch LIST               amd64, arm64 (default: both)
  -o, --output FILE         the bundle to write

${SHIM_SOURCE_HELP.split('\n').filter((line) => !line.includes('--shim-dir')).join('\n')}`,
  async run(ctx) {
    const out = stringOption(ctx.options, 'output');
    if (!out) throw new UsageError('say where to write the bundle: -o FILE');
    if (ctx.options['shim-dir'] !== undefined) throw new UsageError('--shim-dir has no use with kubewasm bundle: a bundle holds verified release archives');
    const shims = parseShimList(stringOption(ctx.options, 'shims') ?? 'wasmtime');
    const archs = parseArchList(stringOption(ctx.options, 'arch') ?? ARCHES.join(','));
    const releases = await shimReleasesFromOptions(ctx.options, shims, archs);
    const artifacts = await fetchWithProgress(ctx, releases, shims, archs);
    await writeBundle(out, artifacts.map(toLockEntry), releases.cache, 'kubewasm bundle');
    for (const a of artifacts) ctx.stdout.write(`${a.shim.name} ${a.version} ${a.arch}: ${a.asset} sha256 ${a.sha256}\n`);
    ctx.stdout.write(`wrote ${out}\n`);
    return 0;
  },
};
