// A small OCI distribution API client for pushing (no npm client fits:
// the maintained ones pull, or need a container engine): HEAD a blob, upload
// it (POST then PUT), PUT a manifest; Basic and Bearer auth; TLS trusting
// Node's roots, the system store, NODE_EXTRA_CA_CERTS and a CA file.
// Every failure is a KubewasmError saying what failed, where, and what to do.
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import tls from 'node:tls';
import { KubewasmError } from '../errors.js';
import { basicAuth, parseChallenge, pushScope, tokenUrl } from './registry-auth.js';
import type { RegistryCredentials } from './docker-config.js';

export interface RegistryClientOptions {
  /** host[:port] */
  registry: string;
  credentials?: RegistryCredentials | undefined;
  /** A PEM file of CA certificates trusted besides the usual ones. */
  caFile?: string | undefined;
  timeoutMs?: number;
}

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class RegistryClient {
  /** Bytes of request bodies sent (blobs and manifests). */
  bytesSent = 0;
  private readonly auth = new Map<string, string>();

  private constructor(
    readonly registry: string,
    private readonly agent: Agent,
    private readonly credentials: RegistryCredentials | undefined,
    private readonly timeoutMs: number,
  ) {}

  static async create(o: RegistryClientOptions): Promise<RegistryClient> {
    let extra: string[] = [];
    if (o.caFile) {
      const pem = await readFile(o.caFile, 'utf8').catch((cause: unknown) => {
        throw new KubewasmError({ what: 'cannot read the CA file', where: o.caFile, fix: 'check the path given to --ca-file', cause });
      });
      extra = [pem];
    }
    // Passing `ca` replaces Node's roots: keep them (with NODE_EXTRA_CA_CERTS) and add the system store's.
    const ca = [...tls.getCACertificates('default'), ...systemCertificates(), ...extra];
    return new RegistryClient(o.registry, new Agent({ keepAlive: true, maxSockets: 4, ca }), o.credentials, o.timeoutMs ?? 120_000);
  }

  close(): void {
    this.agent.destroy();
  }

  /** Whether the registry has this blob in repository (then it is not uploaded again). */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const r = await this.send(repository, 'HEAD', `/v2/${repository}/blobs/${digest}`);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw this.failed(r, `checking blob ${digest} in ${repository}`);
  }

  /** Uploads a blob: POST opens an upload session, PUT with ?digest= sends it whole and closes it. */
  async putBlob(repository: string, digest: string, data: Buffer): Promise<void> {
    const opened = await this.send(repository, 'POST', `/v2/${repository}/blobs/uploads/`, { 'content-length': '0' });
    const location = header(opened, 'location');
    if (opened.status !== 202 || !location) throw this.failed(opened, `starting the upload of ${digest} to ${repository}`);
    const url = new URL(location, `https://${this.registry}`);
    url.searchParams.set('digest', digest);
    const put = await this.send(repository, 'PUT', url.pathname + url.search, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) }, data);
    if (put.status !== 201) throw this.failed(put, `uploading ${digest} to ${repository}`);
  }

  /** PUT a manifest or index under a tag or its digest; returns the digest the registry reports. */
  async putManifest(repository: string, reference: string, mediaType: string, body: Buffer): Promise<string | undefined> {
    const r = await this.send(repository, 'PUT', `/v2/${repository}/manifests/${reference}`, { 'content-type': mediaType, 'content-length': String(body.length) }, body);
    if (r.status !== 201) throw this.failed(r, `putting manifest ${reference} in ${repository}`);
    return header(r, 'docker-content-digest');
  }

  /** One request with the auth the registry asks for (once per scope); a second 401 is refused credentials. */
  private async send(repository: string, method: string, pathname: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> {
    const scope = pushScope(repository);
    const known = this.auth.get(scope);
    const first = await this.raw(method, new URL(pathname, `https://${this.registry}`), { ...headers, ...(known ? { authorization: known } : {}) }, body);
    if (first.status !== 401) return first;
    if (known) throw this.refused(first);
    this.auth.set(scope, await this.authorize(first, scope));
    const second = await this.raw(method, new URL(pathname, `https://${this.registry}`), { ...headers, authorization: this.auth.get(scope)! }, body);
    if (second.status === 401) throw this.refused(second);
    return second;
  }

  private async authorize(r: Response, scope: string): Promise<string> {
    const challenge = parseChallenge(header(r, 'www-authenticate') ?? '');
    const creds = this.credentials;
    if (!creds && challenge?.scheme !== 'bearer') {
      throw new KubewasmError({
        what: `the registry ${this.registry} needs credentials (401) and kubewasm has none for it`,
        where: this.registry,
        fix: `run docker login ${this.registry} (kubewasm reads ~/.docker/config.json), or pass --registry-config FILE with an auths entry for it`,
      });
    }
    if (challenge?.scheme === 'basic') return basicAuth(creds!.username, creds!.password);
    if (challenge?.scheme !== 'bearer') throw new KubewasmError({ what: `the registry ${this.registry} asks for an authentication kubewasm does not speak: ${header(r, 'www-authenticate') ?? '(no WWW-Authenticate)'}`, where: this.registry, fix: 'use a registry with Basic or Bearer token auth' });
    const url = tokenUrl(challenge, scope);
    const t = await this.raw('GET', url, creds ? { authorization: basicAuth(creds.username, creds.password) } : {});
    if (t.status === 401 || t.status === 403) throw this.refused(t, url.origin);
    if (t.status !== 200) throw this.failed(t, `getting a token from ${url.origin}${url.pathname}`);
    const json = JSON.parse(t.body.toString('utf8')) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (!token) throw new KubewasmError({ what: `the token service ${url.origin} answered without a token`, where: this.registry, fix: 'check the registry’s token service' });
    return `Bearer ${token}`;
  }

  private raw(method: string, url: URL, headers: Record<string, string>, body?: Buffer): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, agent: this.agent, headers: { 'user-agent': 'kubewasm', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(this.unreachable(err, url)));
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${this.timeoutMs / 1000}s`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(this.unreachable(err, url)));
      if (body) this.bytesSent += body.length;
      req.end(body);
    });
  }

  private refused(r: Response, where = this.registry): KubewasmError {
    const user = this.credentials ? `user ${this.credentials.username} from ${this.credentials.source}` : 'no credentials';
    return new KubewasmError({
      what: `the registry ${where} refused the credentials (${r.status}${registryMessage(r)}; ${user})`,
      where: this.registry,
      fix: this.credentials ? `check the password: run docker login ${this.registry} again (or fix the auths entry in ${this.credentials.source})` : `run docker login ${this.registry}, or pass --registry-config FILE`,
    });
  }

  private failed(r: Response, doing: string): KubewasmError {
    const denied = r.status === 403;
    return new KubewasmError({
      what: `${doing} failed: HTTP ${r.status}${registryMessage(r)}`,
      where: this.registry,
      fix: denied ? 'the user may not push there: ask for push access to the repository, or choose another' : 'read the registry’s log; a retry uploads only what is missing',
    });
  }

  private unreachable(err: Error & { code?: string }, url: URL): KubewasmError {
    return networkError(err, `https://${url.host}`);
  }
}

/** Pure: a network or TLS error as what failed, where and what to do. */
export function networkError(err: Error & { code?: string }, where: string): KubewasmError {
  const code = err.code ?? '';
  const tlsCodes = ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED'];
  if (tlsCodes.includes(code)) {
    return new KubewasmError({ what: `the registry's TLS certificate is signed by a CA this machine does not trust (${code})`, where, fix: 'pass --ca-file with the CA that signed it (or set NODE_EXTRA_CA_CERTS, or add the CA to the system store); nothing was pushed', cause: err });
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new KubewasmError({ what: `the registry's TLS certificate does not fit (${code}: ${err.message})`, where, fix: 'use the name the certificate was issued for, or renew the certificate; nothing was pushed', cause: err });
  }
  if (code === 'ECONNREFUSED') return new KubewasmError({ what: 'cannot connect to the registry: connection refused', where, fix: 'check the host and port, and that the registry runs; nothing was pushed', cause: err });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new KubewasmError({ what: `cannot resolve the registry's host name (${code})`, where, fix: 'check the registry name and this machine’s DNS; nothing was pushed', cause: err });
  if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(err.message)) return new KubewasmError({ what: 'the registry does not speak TLS there', where, fix: 'kubewasm pushes over HTTPS only: put TLS in front of the registry (its nodes pull over TLS too)', cause: err });
  return new KubewasmError({ what: `the connection to the registry failed: ${code ? `${code}: ` : ''}${err.message}`, where, fix: 'check the network path to the registry; a retry uploads only what is missing', cause: err });
}

function header(r: Response, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The registry's own error text (OCI error codes), if any. */
function registryMessage(r: Response): string {
  try {
    const json = JSON.parse(r.body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const first = json.errors?.[0];
    return first ? `, ${first.code ?? ''}${first.message ? `: ${first.message}` : ''}` : '';
  } catch {
    return '';
  }
}

function systemCertificates(): string[] {
  try {
    return tls.getCACertificates('system');
  } catch {
    return [];
  }
}
