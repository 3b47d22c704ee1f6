// The registry flags of `kubewasm image push` and `kubewasm install --registry`.
import type { Flags } from '../flags.js';

export const REGISTRY_FLAGS: Flags = {
  'registry-config': { arg: 'FILE', help: 'a docker config.json with an auths entry for the registry\n(default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)' },
  'ca-file': { arg: 'FILE', help: "trust the CA certificates in FILE for the registry's TLS (besides the system's\nand NODE_EXTRA_CA_CERTS)" },
};
