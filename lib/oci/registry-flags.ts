// The registry flags' values (--registry, --registry-config, --ca-file) as a
// push's options; shared by `image push` and `install --registry`.
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { parseRegistryTarget, type RegistryTarget } from './registry-ref.js';

export interface RegistryFlagValues {
  target: string;
  registryConfig?: string | undefined;
  caFile?: string | undefined;
}

export function registryOptions(v: RegistryFlagValues): { target: RegistryTarget; registryConfig?: string; caFile?: string } {
  for (const [flag, file] of [['--registry-config', v.registryConfig], ['--ca-file', v.caFile]] as const) {
    if (file !== undefined && !existsSync(file)) throw new UsageError(`${flag} ${file}: no such file`, `give the path of an existing file to ${flag}`);
  }
  return { target: parseRegistryTarget(v.target), ...(v.registryConfig ? { registryConfig: v.registryConfig } : {}), ...(v.caFile ? { caFile: v.caFile } : {}) };
}
