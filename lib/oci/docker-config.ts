// Registry credentials as `docker login` keeps them: the `auths` map of
// ~/.docker/config.json ($DOCKER_CONFIG/config.json), or a file the user names
// (--registry-config). Credential helpers (credsStore, credHelpers) keep the
// secret elsewhere: kubewasm says so instead of guessing.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KubewasmError } from '../errors.js';

export interface RegistryCredentials {
  username: string;
  password: string;
  /** Where they came from (for messages). */
  source: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** The config file docker would read: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['DOCKER_CONFIG'] ?? path.join(os.homedir(), '.docker'), 'config.json');
}

/** Pure: the credentials for `registry` (host[:port]) in a config.json text; undefined when it has none. */
export function credentialsFor(text: string, registry: string, source: string): RegistryCredentials | undefined {
  let config: DockerConfig;
  try {
    config = JSON.parse(text) as DockerConfig;
  } catch (cause) {
    throw new KubewasmError({ what: 'the docker config file is not valid JSON', where: source, fix: 'repair it, or run docker login again', cause });
  }
  // docker login writes the bare host; older clients wrote https://host or https://host/v1/.
  const key = Object.keys(config.auths ?? {}).find((k) => k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') === registry);
  const entry = key === undefined ? undefined : config.auths![key]!;
  if (entry?.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new KubewasmError({ what: `the auths entry for ${registry} is not base64 of user:password`, where: source, fix: `run docker login ${registry} again` });
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (entry?.username && entry.password) return { username: entry.username, password: entry.password, source };
  const helper = config.credHelpers?.[registry] ?? config.credsStore;
  if (helper) {
    throw new KubewasmError({
      what: `the credentials for ${registry} are kept by the docker credential helper '${helper}', which kubewasm does not run`,
      where: source,
      fix: `write a config with an auths entry for ${registry} (e.g. DOCKER_CONFIG=DIR docker login ${registry}) and pass --registry-config DIR/config.json`,
    });
  }
  return undefined;
}

/** Reads the credentials for registry; a missing default file means none, a missing named file is an error. */
export async function loadCredentials(registry: string, file?: string): Promise<RegistryCredentials | undefined> {
  const source = file ?? defaultDockerConfigPath();
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (cause) {
    if (!file && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KubewasmError({ what: 'cannot read the registry credentials file', where: source, fix: 'check the path given to --registry-config', cause });
  }
  return credentialsFor(text, registry, source);
}
