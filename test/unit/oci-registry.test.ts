// The pure parts of pushing to a registry: targets and the references derived
// from them, the auth challenge, docker config.json credentials, network
// errors as messages, and the pull secrets in the DaemonSet and smoke pods.
import { describe, expect, it } from 'vitest';
import { KubewasmError } from '../../lib/errors.js';
import { daemonSet } from '../../lib/kube/manifests.js';
import { smokePod } from '../../lib/kube/verify.js';
import { credentialsFor } from '../../lib/oci/docker-config.js';
import { parseChallenge, tokenUrl } from '../../lib/oci/registry-auth.js';
import { networkError } from '../../lib/oci/registry-client.js';
import { contentTag, parseRegistryTarget, pushedReference } from '../../lib/oci/registry-ref.js';
import { SHIMS } from '../../lib/shims/catalog.js';

const DIGEST = `sha256:${'0123456789ab'.repeat(5)}cdef`;

describe('registry targets and references', () => {
  it('parses REGISTRY/REPO[:TAG] and refuses what is not one', () => {
    expect(parseRegistryTarget('10.77.213.1:5443/kubewasm')).toEqual({ registry: '10.77.213.1:5443', repository: 'kubewasm' });
    expect(parseRegistryTarget('registry.example/team/kubewasm:v1')).toEqual({ registry: 'registry.example', repository: 'team/kubewasm', tag: 'v1' });
    expect(parseRegistryTarget('localhost:5000')).toEqual({ registry: 'localhost:5000', repository: '' });
    expect(() => parseRegistryTarget('kubewasm/installer')).toThrow(/must start with a registry host/);
    expect(() => parseRegistryTarget('registry.example/Team')).toThrow(/lowercase/);
  });

  it('derives content-addressed tags from the manifest digest under the target repository', () => {
    const target = parseRegistryTarget('registry.example/team/kubewasm');
    expect(pushedReference(target, 'kubewasm.io/node-installer:0.1.0-b086753981ed', DIGEST)).toBe('registry.example/team/kubewasm/node-installer:0.1.0-0123456789ab');
    expect(pushedReference(target, 'kubewasm.io/smoke:hello', DIGEST)).toBe('registry.example/team/kubewasm/smoke:hello-0123456789ab');
    expect(pushedReference(parseRegistryTarget('registry.example/k:pinned'), 'kubewasm.io/smoke:hello', DIGEST)).toBe('registry.example/k/smoke:pinned');
    expect(contentTag('hello', DIGEST)).toBe('hello-0123456789ab');
  });
});

describe('registry auth', () => {
  it('reads Bearer and Basic challenges as distribution and Docker Hub send them', () => {
    const bearer = parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"');
    expect(bearer).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } });
    expect(tokenUrl(bearer!, 'repository:team/x:pull,push').toString()).toBe('https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Ateam%2Fx%3Apull%2Cpush');
    expect(parseChallenge('Basic realm="kubewasm-test-registry"')).toEqual({ scheme: 'basic', params: { realm: 'kubewasm-test-registry' } });
  });

  it('takes credentials from docker config.json auths (bare host or https:// key), says so for credential helpers', () => {
    const auth = Buffer.from('alice:s3:cret').toString('base64');
    expect(credentialsFor(JSON.stringify({ auths: { 'reg.example:5000': { auth } } }), 'reg.example:5000', 'F')).toEqual({ username: 'alice', password: 's3:cret', source: 'F' });
    expect(credentialsFor(JSON.stringify({ auths: { 'https://reg.example/v1/': { auth } } }), 'reg.example', 'F')?.username).toBe('alice');
    expect(credentialsFor(JSON.stringify({ auths: {} }), 'reg.example', 'F')).toBeUndefined();
    expect(() => credentialsFor(JSON.stringify({ credsStore: 'desktop' }), 'reg.example', 'F')).toThrow(/credential helper 'desktop'.*does not run/);
  });
});

describe('network errors say what failed, where, and what to do', () => {
  it.each([
    ['ECONNREFUSED', /connection refused/, /registry runs/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /signed by a CA this machine does not trust/, /--ca-file/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /signed by a CA this machine does not trust/, /NODE_EXTRA_CA_CERTS/],
    ['ENOTFOUND', /cannot resolve/, /DNS/],
  ])('%s', (code, what, fix) => {
    const err = networkError(Object.assign(new Error('x'), { code }), 'https://reg.example:5000');
    expect(err).toBeInstanceOf(KubewasmError);
    expect(err.what).toMatch(what);
    expect(err.where).toBe('https://reg.example:5000');
    expect(err.fix).toMatch(fix);
  });
});

describe('pull secrets for a private registry', () => {
  it('go into the DaemonSet pod and the smoke pods, and nowhere without them', () => {
    const ds = daemonSet({ image: 'reg.example/k/node-installer:0.1.0-0123456789ab', shims: [SHIMS.wasmtime], imagePullSecrets: ['regcred'] });
    expect(ds.spec?.template.spec?.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(daemonSet({ image: 'x.io/i:1', shims: [SHIMS.wasmtime] }).spec?.template.spec).not.toHaveProperty('imagePullSecrets');
    expect(smokePod({ name: 'p', image: 'reg.example/k/smoke:hello-0123456789ab', imagePullSecrets: ['regcred'] }).spec?.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });
});
