// A real OCI registry for a test (distribution's `registry`, built by
// scripts/lab/build/registry.sh): TLS with a certificate from a CA the test
// gives (the lab's) or makes, htpasswd (bcrypt) users, storage in the test's
// directory, listening on one address of this machine: loopback for the
// integration tests, the lab network's gateway for the lab nodes (whose
// containerd trusts it through /etc/containerd/certs.d, set up by the lab).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { requireBuilt, requireProgram } from './requirements.js';

export interface RegistryUser {
  user: string;
  password: string;
}

export interface RegistryOptions {
  /** The test's directory: certs, htpasswd, config, storage, log. */
  dir: string;
  /** The address to listen on (default 127.0.0.1); the certificate names it. */
  host?: string;
  /** Default: a free port. */
  port?: number;
  /** A CA to sign the serving certificate with (default: a CA made in dir). */
  ca?: { cert: string; key: string };
  users?: RegistryUser[];
}

export interface Registry {
  /** host:port, as an image reference starts. */
  address: string;
  /** The CA that signed the registry's certificate (PEM file). */
  caFile: string;
  users: RegistryUser[];
  logFile: string;
  /** A GET on the registry API as the first user (for checks: tags, manifests). */
  api(pathname: string, init?: { method?: string; accept?: string }): Promise<{ status: number; headers: Headers; body: string }>;
  /** The registry's log so far. */
  log(): string;
  stop(): Promise<void>;
}

export const DEFAULT_USERS: RegistryUser[] = [{ user: 'kubewasm', password: 'wasm-pass-1' }];

export async function startRegistry(o: RegistryOptions): Promise<Registry> {
  const registry = requireBuilt('registry', 'registry');
  const openssl = requireProgram('openssl');
  const htpasswd = requireProgram('htpasswd');
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? (await freePort(host));
  const users = o.users ?? DEFAULT_USERS;
  mkdirSync(o.dir, { recursive: true });
  const file = (name: string) => path.join(o.dir, name);

  const ca = o.ca ?? makeCa(openssl, o.dir);
  const san = /^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`;
  writeFileSync(file('server.ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  execFileSync(openssl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('server.key')], { stdio: 'ignore' });
  execFileSync(openssl, ['req', '-new', '-key', file('server.key'), '-subj', '/CN=kubewasm-test-registry', '-out', file('server.csr')], { stdio: 'ignore' });
  execFileSync(openssl, ['x509', '-req', '-in', file('server.csr'), '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${Date.now().toString(16)}`, '-days', '30', '-extfile', file('server.ext'), '-out', file('server.crt')], { stdio: 'ignore' });

  writeFileSync(file('htpasswd'), '');
  for (const u of users) execFileSync(htpasswd, ['-B', '-b', file('htpasswd'), u.user, u.password], { stdio: 'ignore' });
  writeFileSync(
    file('config.yml'),
    [
      'version: 0.1',
      'log: { level: info, formatter: text }',
      `storage: { filesystem: { rootdirectory: ${file('storage')} }, delete: { enabled: true } }`,
      `http: { addr: "${host}:${port}", tls: { certificate: ${file('server.crt')}, key: ${file('server.key')} } }`,
      `auth: { htpasswd: { realm: kubewasm-test-registry, path: ${file('htpasswd')} } }`,
      '',
    ].join('\n'),
  );
  const logFile = file('registry.log');
  const child = spawn(registry, ['serve', file('config.yml')], {
    // No telemetry exporter: nothing here listens for traces, and the tests stay off the network.
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', OTEL_TRACES_EXPORTER: 'none', OTEL_SDK_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logged: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => logged.push(d));
  child.stderr!.on('data', (d: Buffer) => logged.push(d));
  const log = () => Buffer.concat(logged).toString('utf8');
  const stop = () => stopChild(child, () => writeFileSync(logFile, log()));

  const address = `${host}:${port}`;
  const caPem = readFileSync(ca.cert, 'utf8');
  const api: Registry['api'] = async (pathname, init = {}) => {
    const { request } = await import('node:https');
    const auth = Buffer.from(`${users[0]!.user}:${users[0]!.password}`).toString('base64');
    return new Promise((resolve, reject) => {
      const req = request({ host, port, path: pathname, method: init.method ?? 'GET', ca: caPem, headers: { authorization: `Basic ${auth}`, ...(init.accept ? { accept: init.accept } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', reject);
      req.end();
    });
  };

  // Ready when /v2/ answers (401 without credentials, 200 with), within 20 s.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the registry exited (code ${child.exitCode}) before it answered on ${address}:\n${log()}`);
    const status = await api('/v2/').then((r) => r.status, () => 0);
    if (status === 200) break;
    if (i >= 80) {
      await stop();
      throw new Error(`the registry did not answer on https://${address}/v2/ within 20 s (last status ${status}); its log:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { address, caFile: ca.cert, users, logFile, api, log, stop };
}

/** A CA of the test's own (ECDSA P-256, 30 days) in dir/ca.{crt,key}. */
export function makeCa(openssl: string, dir: string, name = 'ca'): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  mkdirSync(dir, { recursive: true });
  execFileSync(openssl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], { stdio: 'ignore' });
  execFileSync(openssl, ['req', '-x509', '-new', '-key', key, '-subj', `/CN=kubewasm-test-${name}`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/** A docker config.json with `auths` for these users' first entry at address (what `docker login` writes). */
export function dockerConfig(address: string, user: RegistryUser): string {
  return `${JSON.stringify({ auths: { [address]: { auth: Buffer.from(`${user.user}:${user.password}`).toString('base64') } } }, null, 2)}\n`;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function stopChild(child: ChildProcess, after: () => void): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  after();
}
