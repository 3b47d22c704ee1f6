import { UsageError } from '../../lib/errors.js';
import { ARCHES, parseArchList } from '../../lib/shims/catalog.js';
import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { progress } from '../progress.js';

const { 'shim-dir': _noDir, ...SOURCES } = flags.SHIM_FLAGS;
const OWN: flags.Flags = {
  ...flags.SHIMS_FLAG,
  arch: { arg: 'LIST', help: 'amd64, arm64 (default: both)' },
  output: { arg: 'FILE', short: 'o', help: 'the bundle to write' },
};

export const bundle: Command = {
  path: ['bundle'],
  summary: 'Download and verify shim release archives into one file for air-gapped installs',
  usage: 'kubewasm bundle --shims wasmtime[,spin…] [--arch amd64,arm64] -o FILE [options]',
  options: flags.parseConfig(OWN, flags.SHIM_FLAGS),
  help: `Writes FILE: a tar holding kubewasm-bundle.lock.json (versions, archive and binary sha256s) and
each verified release archive. Use it where GitHub is unreachable: kubewasm node install --bundle FILE.

${flags.helpOf('', OWN)}

${flags.shimHelp(SOURCES)}`,
  async run(ctx) {
    const out = flags.string(ctx.options, 'output');
    if (!out) throw new UsageError('say where to write the bundle: -o FILE');
    if (ctx.options['shim-dir'] !== undefined) throw new UsageError('--shim-dir has no use with kubewasm bundle: a bundle holds verified release archives');
    const shims = flags.shims(ctx.options);
    const archs = parseArchList(flags.string(ctx.options, 'arch') ?? ARCHES.join(','));
    const supply = await flags.shimSupply(ctx.options, shims, archs);
    const { bundleShims } = await import('../../lib/node/shim-supply.js');
    const artifacts = await bundleShims(supply as Extract<typeof supply, { kind: 'releases' }>, shims, archs, out, progress(ctx).shim);
    for (const a of artifacts) ctx.stdout.write(`${a.shim.name} ${a.version} ${a.arch}: ${a.asset} sha256 ${a.sha256}\n`);
    ctx.stdout.write(`wrote ${out}\n`);
    return 0;
  },
};
