// OpenSSH known_hosts, read the way ssh(1) reads it: plain and hashed
// (|1|salt|hash) host patterns, [host]:port for other ports, wildcards and
// negations, @revoked keys. Pure, except the fingerprint's hash.
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostEntry {
  /** Comma-separated patterns or one hashed name, as written. */
  hosts: string;
  marker: '' | '@revoked' | '@cert-authority';
  keyType: string;
  /** base64 of the key blob. */
  key: string;
  line: number;
}

export type HostKeyVerdict =
  | { status: 'known' }
  | { status: 'unknown' }
  /** The host is known with a different key of the same type: refused, always. */
  | { status: 'changed'; lines: number[] }
  | { status: 'revoked'; line: number };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) return;
    entries.push({ hosts, marker, keyType, key, line: index + 1 });
  });
  return entries;
}

/** The name ssh looks up: "host" on port 22, "[host]:port" otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function hostMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    const negated = pattern.startsWith('!');
    if (globMatch(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, name: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${regex}$`, 'i').test(name);
}

/** What known_hosts says about this host's key. */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, keyType: string, keyBase64: string): HostKeyVerdict {
  const name = hostKeyName(host, port);
  const revoked = entries.find((e) => e.marker === '@revoked' && e.key === keyBase64);
  if (revoked) return { status: 'revoked', line: revoked.line };
  const forHost = entries.filter((e) => e.marker === '' && hostMatches(e.hosts, name));
  if (forHost.some((e) => e.keyType === keyType && e.key === keyBase64)) return { status: 'known' };
  const sameType = forHost.filter((e) => e.keyType === keyType);
  if (sameType.length > 0) return { status: 'changed', lines: sameType.map((e) => e.line) };
  return { status: 'unknown' };
}

/** Key types known_hosts holds for this host, to offer those host key algorithms first (as ssh does). */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = hostKeyName(host, port);
  return [...new Set(entries.filter((e) => e.marker === '' && hostMatches(e.hosts, name)).map((e) => e.keyType))];
}

export function knownHostsLine(host: string, port: number, keyType: string, keyBase64: string): string {
  return `${hostKeyName(host, port)} ${keyType} ${keyBase64}\n`;
}

/** The key type inside an SSH public key blob (its first string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** ssh-keygen -l style: SHA256:base64 without padding. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Host key algorithms to offer: the ones known_hosts has for the host first. */
export function hostKeyAlgorithms(knownTypes: string[], supported: string[]): string[] {
  const expand = (type: string) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]);
  const preferred = knownTypes.flatMap(expand).filter((a) => supported.includes(a));
  return [...new Set([...preferred, ...supported])];
}
