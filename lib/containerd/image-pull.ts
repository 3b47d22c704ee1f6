// How the CRI plugin pulls images, and the one setting kubewasm adds where
// Wasm-platform images (config os "wasi", architecture "wasm") would
// otherwise not be unpacked.
//
// containerd >= 2.1 pulls CRI images through its Transfer Service
// (internal/cri/server/images/image_pull.go, pullImageWithTransferService),
// which unpacks an image only if its config's platform matches an entry of
// the transfer plugin's unpack_config (default: the host's, linux/<arch>).
// How it matches (plugins/transfer/plugin.go): with check_platform_supported
// = true, that exact platform; with false (the default), on 2.1 and 2.2
// every platform (platforms.All), from 2.3 on only the entry's OS
// (platforms.OnlyOS, commit cb93966b9). A wasi/wasm image's layers are then
// fetched but never unpacked, and its container fails with "parent snapshot
// ... does not exist" (test/integration/wasm-oci-pull.test.ts). An
// unpack_config entry for wasi/wasm does not help: CRI asks the Transfer
// Service to unpack for the host's platform only.
// `use_local_image_pull = true` in the CRI images plugin makes CRI pull with
// client.Pull as containerd 1.x and 2.0 always did, whose unpacker accepts
// every platform (client/pull.go: platforms.All unless the client asks for
// CheckPlatformSupported, which CRI does not). It changes only CRI's pulls
// (ctr and other Transfer Service clients keep their path). containerd itself
// falls back to that path when the config holds settings the Transfer
// Service lacks (internal/cri/config/config.go, CheckLocalImagePullConfigs):
// such a node needs nothing. Older containerd has no Transfer Service pull.
import type { ContainerdVersion } from './version.js';
import { getPath, isTable, type TomlTable } from './toml.js';

export const CRI_IMAGES_TABLE = ['plugins', 'io.containerd.cri.v1.images'];
export const LOCAL_PULL_KEY = 'use_local_image_pull';

export const TRANSFER_TABLE = ['plugins', 'io.containerd.transfer.v1.local'];

export const LOCAL_PULL_WHY =
  "containerd >= 2.1 pulls CRI images through its Transfer Service, which this config limits to the platforms of its unpack_config (check_platform_supported = true): wasi/wasm images would stay packed and their pods fail with 'parent snapshot ... does not exist'; CRI's local pull unpacks every platform";

export const LOCAL_PULL_WHY_2_3 =
  "containerd >= 2.3 pulls CRI images through its Transfer Service, which unpacks only images of its unpack_config's OS (linux): wasi/wasm images would stay packed and their pods fail with 'parent snapshot ... does not exist'; CRI's local pull unpacks every platform";

export type LocalPullDecision =
  /** containerd before 2.1 (CRI always pulls locally), or a Transfer Service that unpacks every platform. */
  | { kind: 'not-needed'; why: string }
  /** The node's config already makes CRI pull locally. */
  | { kind: 'already'; why: string }
  /** kubewasm sets use_local_image_pull = true. */
  | { kind: 'set'; why: string };

/** Whether this node's containerd pulls CRI images through the Transfer Service, and so needs the setting. Pure. */
export function decideLocalPull(containerd: Pick<ContainerdVersion, 'major' | 'minor'>, userConfig: TomlTable, configVersion: number): LocalPullDecision {
  if (containerd.major < 2 || (containerd.major === 2 && containerd.minor < 1)) {
    return { kind: 'not-needed', why: `containerd ${containerd.major}.${containerd.minor} pulls CRI images itself and unpacks every platform` };
  }
  const images = effectiveImagesConfig(userConfig, configVersion);
  if (images[LOCAL_PULL_KEY] === true) return { kind: 'already', why: `${LOCAL_PULL_KEY} is already true in the config` };
  const fallback = localPullFallback(images);
  if (fallback) return { kind: 'already', why: `containerd already pulls CRI images locally: the config sets ${fallback}, which the Transfer Service does not support` };
  const strict = getPath(userConfig, [...TRANSFER_TABLE, 'check_platform_supported']) === true;
  const onlyOs = containerd.major > 2 || containerd.minor >= 3;
  if (strict) return { kind: 'set', why: LOCAL_PULL_WHY };
  if (onlyOs) return { kind: 'set', why: LOCAL_PULL_WHY_2_3 };
  return { kind: 'not-needed', why: `containerd ${containerd.major}.${containerd.minor}'s Transfer Service unpacks every platform (check_platform_supported is false, the default)` };
}

/**
 * The CRI images plugin's settings as containerd 2.x loads them: the
 * io.containerd.cri.v1.images table, and for a version 2 file the keys its
 * migration copies over from io.containerd.grpc.v1.cri
 * (plugins/cri/images/plugin.go, migrateConfig).
 */
export function effectiveImagesConfig(userConfig: TomlTable, configVersion: number): TomlTable {
  const own = getPath(userConfig, CRI_IMAGES_TABLE);
  const images: TomlTable = isTable(own) ? { ...own } : {};
  if (configVersion >= 3) return images;
  const cri = getPath(userConfig, ['plugins', 'io.containerd.grpc.v1.cri']);
  if (!isTable(cri)) return images;
  for (const key of ['registry', 'image_decryption', 'max_concurrent_downloads', 'image_pull_progress_timeout', 'image_pull_with_sync_fs', 'stats_collect_period']) {
    if (cri[key] !== undefined) images[key] = cri[key];
  }
  const inner = cri['containerd'];
  if (isTable(inner)) {
    for (const key of ['snapshotter', 'disable_snapshot_annotations', 'discard_unpacked_layers']) {
      if (inner[key] !== undefined) images[key] = inner[key];
    }
  }
  return images;
}

/**
 * containerd's CheckLocalImagePullConfigs (2.1 to 2.4, Linux): the first
 * setting that makes CRI fall back to the local pull, or undefined.
 */
export function localPullFallback(images: TomlTable): string | undefined {
  const registry = isTable(images['registry']) ? images['registry'] : {};
  const nonEmpty = (v: unknown) => isTable(v) && Object.keys(v).length > 0;
  if (images['disable_snapshot_annotations'] === false) return 'disable_snapshot_annotations = false';
  if (images['discard_unpacked_layers'] === true) return 'discard_unpacked_layers = true';
  if (nonEmpty(registry['mirrors'])) return 'registry.mirrors';
  if (nonEmpty(registry['configs'])) return 'registry.configs';
  if (nonEmpty(registry['auths'])) return 'registry.auths';
  if (typeof images['max_concurrent_downloads'] === 'number' && images['max_concurrent_downloads'] !== 3) return `max_concurrent_downloads = ${images['max_concurrent_downloads']}`;
  if (images['image_pull_with_sync_fs'] === true) return 'image_pull_with_sync_fs = true';
  return undefined;
}
