// known_hosts as ssh(1) reads it. The hashed line and the fingerprint were made
// by OpenSSH 9.2 (ssh-keygen -H, ssh-keygen -l) from the key below.
import { describe, expect, it } from 'vitest';
import { checkHostKey, fingerprint, hostKeyAlgorithms, hostMatches, keyTypeOfBlob, knownHostsLine, knownKeyTypes, parseKnownHosts } from '../../lib/host/known-hosts.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIOXJspIlOVRM2wMaPVxlrsh1TCCxndD7i9uMuRQMAIKd';
const OTHER = 'AAAAC3NzaC1lZDI1NTE5AAAAIAbc0000000000000000000000000000000000000000';
const HASHED_FOR_10_1_2_3_PORT_2222 = '|1|peHvs2Am+8thwFbkpLi+VrgpL+g=|5KpYHtetK3tPDfcg2fF9URVaAkA=';

describe('known_hosts', () => {
  it('reads plain, [host]:port, hashed, marked and commented lines', () => {
    const entries = parseKnownHosts(`# comment\n\n10.0.0.1,node1 ssh-ed25519 ${KEY}\n[10.0.0.2]:2222 ssh-ed25519 ${KEY} comment here\n${HASHED_FOR_10_1_2_3_PORT_2222} ssh-ed25519 ${KEY}\n@revoked * ssh-rsa AAAAB3\nbroken-line\n`);
    expect(entries.map((e) => [e.hosts, e.marker, e.keyType, e.line])).toEqual([
      ['10.0.0.1,node1', '', 'ssh-ed25519', 3],
      ['[10.0.0.2]:2222', '', 'ssh-ed25519', 4],
      [HASHED_FOR_10_1_2_3_PORT_2222, '', 'ssh-ed25519', 5],
      ['*', '@revoked', 'ssh-rsa', 6],
    ]);
  });

  it('matches hashed names (HMAC-SHA1 of the name), patterns and negations', () => {
    expect(hostMatches(HASHED_FOR_10_1_2_3_PORT_2222, '[10.1.2.3]:2222')).toBe(true);
    expect(hostMatches(HASHED_FOR_10_1_2_3_PORT_2222, '10.1.2.3')).toBe(false);
    expect(hostMatches('10.0.0.*,!10.0.0.9', '10.0.0.5')).toBe(true);
    expect(hostMatches('10.0.0.*,!10.0.0.9', '10.0.0.9')).toBe(false);
    expect(hostMatches('node?', 'node1')).toBe(true);
    expect(hostMatches('node?', 'node12')).toBe(false);
  });

  it('says known, unknown (no entry for this host and port), changed (same type, other key) or revoked', () => {
    const entries = parseKnownHosts(`10.0.0.1 ssh-ed25519 ${KEY}\n[10.0.0.1]:2222 ecdsa-sha2-nistp256 AAAAE2\n${HASHED_FOR_10_1_2_3_PORT_2222} ssh-ed25519 ${KEY}\n@revoked * ssh-ed25519 ${OTHER}\n`);
    expect(checkHostKey(entries, '10.0.0.1', 22, 'ssh-ed25519', KEY)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, '10.1.2.3', 2222, 'ssh-ed25519', KEY)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, '10.0.0.1', 2222, 'ssh-ed25519', KEY)).toEqual({ status: 'unknown' }); // only an ecdsa key is known there
    expect(checkHostKey(entries, '10.0.0.7', 22, 'ssh-ed25519', KEY)).toEqual({ status: 'unknown' });
    expect(checkHostKey(entries, '10.1.2.3', 2222, 'ssh-ed25519', KEY.replace('A', 'B'))).toEqual({ status: 'changed', lines: [3] });
    expect(checkHostKey(entries, '10.0.0.1', 22, 'ssh-ed25519', OTHER)).toEqual({ status: 'revoked', line: 4 });
  });

  it('offers the host key algorithms known for the host first, as ssh does', () => {
    const entries = parseKnownHosts(`[h]:2222 ssh-rsa AAAAB3\nh ecdsa-sha2-nistp256 AAAAE2\n`);
    expect(knownKeyTypes(entries, 'h', 2222)).toEqual(['ssh-rsa']);
    const all = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    expect(hostKeyAlgorithms(['ssh-rsa'], all)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithms([], all)).toEqual(all);
  });

  it('reads the key type from a key blob, fingerprints it like ssh-keygen -l, writes a line ssh reads', () => {
    const blob = Buffer.from(KEY, 'base64');
    expect(keyTypeOfBlob(blob)).toBe('ssh-ed25519');
    expect(fingerprint(blob)).toBe('SHA256:9pNFqM4EvEAXBSZZNNRKs5ZFH7Hm7abk9Xg+Gv4CWDQ');
    expect(knownHostsLine('10.1.2.3', 2222, 'ssh-ed25519', KEY)).toBe(`[10.1.2.3]:2222 ssh-ed25519 ${KEY}\n`);
    expect(knownHostsLine('10.1.2.3', 22, 'ssh-ed25519', KEY)).toBe(`10.1.2.3 ssh-ed25519 ${KEY}\n`);
  });
});
