// The few Docker Engine API calls the docker transport needs, over the
// engine's unix socket (or tcp://, from DOCKER_HOST), with node:http alone:
// list containers, exec with the hijacked stdio stream, PUT an archive.
import http from 'node:http';
import { KubewasmError } from '../errors.js';
import { LineReader, type ExecResult, type RunningCommand } from './host.js';

export interface DockerEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
  /** For messages. */
  url: string;
}

/** Where the engine listens: DOCKER_HOST (unix:// or tcp://), else /var/run/docker.sock. */
export function dockerEndpoint(dockerHost = process.env['DOCKER_HOST']): DockerEndpoint {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock', url: 'unix:///var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length), url: dockerHost };
  const tcp = /^tcp:\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(dockerHost);
  if (tcp && !process.env['DOCKER_TLS_VERIFY']) return { host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]), url: dockerHost };
  throw new KubewasmError({
    what: `DOCKER_HOST=${dockerHost} is not supported by kubewasm's docker transport (unix:// and plain tcp:// are)`,
    fix: 'point DOCKER_HOST at the engine\'s unix socket, or use --ssh to reach the machine that runs the node containers',
    exitCode: 2,
  });
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels: Record<string, string>;
  State: string;
}

export class DockerApi {
  constructor(readonly endpoint: DockerEndpoint = dockerEndpoint()) {}

  private options(method: string, path: string, headers: Record<string, string> = {}): http.RequestOptions {
    const { socketPath, host, port } = this.endpoint;
    return { method, path, headers: { Host: 'docker', ...headers }, ...(socketPath ? { socketPath } : { host, port }) };
  }

  private unreachable(err: Error): KubewasmError {
    return new KubewasmError({
      what: `cannot reach the Docker engine at ${this.endpoint.url}: ${err.message}`,
      fix: 'start Docker (or set DOCKER_HOST to the engine\'s socket) and check that you may use it',
    });
  }

  /** A plain request; resolves with the status and body. */
  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const sent: Record<string, string> = { ...headers };
    if (payload) {
      sent['Content-Type'] ??= Buffer.isBuffer(body) ? 'application/x-tar' : 'application/json';
      sent['Content-Length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = http.request(this.options(method, path, sent), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', (err) => reject(this.unreachable(err)));
      req.end(payload);
    });
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${apiMessage(res.body)}`);
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  listContainers(labelFilters: string[]): Promise<ContainerSummary[]> {
    return this.json('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: labelFilters }))}`);
  }

  /** Extracts a tar archive into a directory of the container. */
  async putArchive(id: string, dir: string, tar: Buffer): Promise<void> {
    const res = await this.request('PUT', `/containers/${id}/archive?path=${encodeURIComponent(dir)}`, tar);
    if (res.status >= 300) {
      const error = new Error(`uploading into ${dir} failed: ${res.status} ${apiMessage(res.body)}`) as NodeJS.ErrnoException;
      if (/no space left/i.test(res.body.toString('utf8'))) error.code = 'ENOSPC';
      throw error;
    }
  }

  /** Starts an exec with its stdio attached through the hijacked connection. */
  async startExec(id: string, argv: string[], env?: Record<string, string>): Promise<ExecStream> {
    const created = await this.request('POST', `/containers/${id}/exec`, {
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      Cmd: argv,
      ...(env ? { Env: Object.entries(env).map(([k, v]) => `${k}=${v}`) } : {}),
    });
    if (created.status >= 300) throw new Error(`creating an exec failed: ${created.status} ${apiMessage(created.body)}`);
    const execId = (JSON.parse(created.body.toString('utf8')) as { Id: string }).Id;
    return new Promise<ExecStream>((resolve, reject) => {
      const body = Buffer.from(JSON.stringify({ Detach: false, Tty: false }));
      const req = http.request(
        this.options('POST', `/exec/${execId}/start`, { 'Content-Type': 'application/json', 'Content-Length': String(body.length), Connection: 'Upgrade', Upgrade: 'tcp' }),
      );
      req.on('upgrade', (_res, sock, head) => {
        if (head.length > 0) sock.unshift(head);
        resolve(new ExecStream(this, execId, sock)); // listeners attached before any event can fire
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(new Error(`starting the exec failed: ${res.statusCode} ${apiMessage(Buffer.concat(chunks))}`)));
      });
      req.on('error', (err) => reject(this.unreachable(err)));
      req.end(body);
    });
  }

  async execExitCode(execId: string): Promise<number> {
    for (let i = 0; i < 50; i++) {
      const info = await this.json<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${execId}/json`);
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`exec ${execId} still runs after its output ended`);
  }
}

/** One exec's demultiplexed stdout/stderr (8-byte frame headers) and its stdin. */
export class ExecStream {
  private pending = Buffer.alloc(0);
  readonly stdout: Buffer[] = [];
  readonly stderr: Buffer[] = [];
  readonly lines = new LineReader();
  readonly closed: Promise<void>;
  private aborted: Error | undefined;

  constructor(
    private readonly api: DockerApi,
    readonly execId: string,
    readonly socket: import('node:net').Socket,
  ) {
    socket.on('data', (chunk: Buffer) => this.demux(chunk));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.lines.close();
        resolve();
      });
    });
    socket.on('error', (err) => (this.aborted ??= err));
  }

  private demux(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) return;
      const payload = this.pending.subarray(8, 8 + size);
      if (this.pending[0] === 2) this.stderr.push(payload);
      else {
        this.stdout.push(payload);
        this.lines.push(payload);
      }
      this.pending = this.pending.subarray(8 + size);
    }
  }

  /** Sends stdin and its end (a half-close, which docker passes on as EOF). */
  finishInput(input?: Buffer | string): void {
    if (input !== undefined && input.length > 0) this.socket.write(input);
    this.socket.end();
  }

  async result(): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> {
    await this.closed;
    if (this.aborted) throw this.aborted;
    return { code: await this.api.execExitCode(this.execId), stdout: Buffer.concat(this.stdout), stderr: Buffer.concat(this.stderr) };
  }

  asRunning(): RunningCommand {
    return {
      readLine: () => this.lines.next(),
      readUntil: (marker) => this.lines.until(marker),
      write: (data) => {
        if (this.socket.writable) this.socket.write(data);
      },
      end: async (): Promise<ExecResult> => {
        if (this.socket.writable) this.socket.end();
        const r = await this.result().catch((err: Error) => ({ code: 255, stdout: Buffer.alloc(0), stderr: Buffer.from(err.message) }));
        return { code: r.code, stdout: '', stderr: r.stderr.toString('utf8') };
      },
    };
  }
}

function apiMessage(body: Buffer): string {
  try {
    return (JSON.parse(body.toString('utf8')) as { message?: string }).message ?? body.toString('utf8').trim();
  } catch {
    return body.toString('utf8').trim();
  }
}
