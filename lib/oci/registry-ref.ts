// Where images go in a registry: a push target `REGISTRY/REPO[:TAG]` and the
// references kubewasm derives from it. Pure.
//
// Every image kubewasm builds is named kubewasm.io/<name>:<tag>; pushed under
// REGISTRY/REPO it becomes REGISTRY/REPO/<name>:<tag>-<12 hex of its manifest
// digest> (a content-addressed tag: new content, new tag, so a DaemonSet
// rolls and a node never runs stale bytes under an old name), or :TAG when
// the user names one.
import { UsageError } from '../errors.js';

export interface RegistryTarget {
  /** host[:port] as written (what docker's config.json keys and hosts.toml name). */
  registry: string;
  /** The repository prefix (may be empty: images go right under the registry). */
  repository: string;
  /** An explicit tag for every pushed image; else content-addressed tags. */
  tag?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Parses REGISTRY/REPO[:TAG]; the registry part must look like a host (a dot, a port, or localhost). */
export function parseRegistryTarget(text: string): RegistryTarget {
  const bad = (why: string) => new UsageError(`'${text}' is not a registry target: ${why}`, 'write REGISTRY/REPO[:TAG], e.g. registry.example:5000/team/kubewasm');
  const slash = text.indexOf('/');
  const registry = slash < 0 ? text : text.slice(0, slash);
  if (!/^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/.test(registry) || !(registry.includes('.') || registry.includes(':') || registry === 'localhost')) {
    throw bad('it must start with a registry host (with a dot or a port, or localhost)');
  }
  let rest = slash < 0 ? '' : text.slice(slash + 1);
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`'${tag}' is not a tag`);
  }
  if (rest && !rest.split('/').every((c) => COMPONENT.test(c))) throw bad('the repository must be lowercase path components');
  return { registry, repository: rest, ...(tag ? { tag } : {}) };
}

/** The reference of a built image (kubewasm.io/<name>:<tag>) once pushed to target. */
export function pushedReference(target: RegistryTarget, sourceName: string, manifestDigest: string): string {
  const m = /^(?:[^/]+\/)?(.+):([\w][\w.-]*)$/.exec(sourceName);
  if (!m) throw new UsageError(`'${sourceName}' is not an image name with a tag`);
  const [, name, sourceTag] = m as unknown as [string, string, string];
  const repository = [target.repository, name.split('/').pop()!].filter(Boolean).join('/');
  return `${target.registry}/${repository}:${target.tag ?? contentTag(sourceTag, manifestDigest)}`;
}

/** `<tag>-<12 hex of digest>`; a source tag that already ends in a 12-hex content stamp keeps only its stem. */
export function contentTag(sourceTag: string, manifestDigest: string): string {
  const hex = /^sha256:([0-9a-f]{64})$/.exec(manifestDigest)?.[1];
  if (!hex) throw new Error(`not a sha256 digest: ${manifestDigest}`);
  return `${sourceTag.replace(/-[0-9a-f]{12}$/, '')}-${hex.slice(0, 12)}`;
}

/** Splits a full reference host/repo:tag into its parts (the reverse of pushedReference's output). */
export function splitReference(ref: string): { registry: string; repository: string; tag: string } {
  const m = /^([^/]+)\/(.+):([\w][\w.-]*)$/.exec(ref);
  if (!m) throw new UsageError(`'${ref}' is not a registry reference host/repo:tag`);
  return { registry: m[1]!, repository: m[2]!, tag: m[3]! };
}
