// The docker transport: kind and k3d node containers, found by their labels
// and reached through the Docker Engine API (exec, and PUT archive for
// uploads), with no docker CLI and no installer image.
import { randomBytes } from 'node:crypto';
import { Header } from 'tar';
import { KubewasmError } from '../errors.js';
import { tempNameFor, type ExecOptions, type RunningCommand, type WriteOptions } from './host.js';
import { DockerApi, type ContainerSummary } from './docker-api.js';
import { fileError, ShellHost, type RawResult } from './shell.js';

/** The label each tool puts on its node containers, and the roles that are Kubernetes nodes. */
export const CLUSTER_LABELS = [
  { tool: 'kind', label: 'io.x-k8s.kind.cluster', roleLabel: 'io.x-k8s.kind.role', nodeRoles: ['control-plane', 'worker'] },
  { tool: 'k3d', label: 'k3d.cluster', roleLabel: 'k3d.role', nodeRoles: ['server', 'agent'] },
] as const;

export interface DockerNode {
  id: string;
  /** The container name, which kind and k3d also use as the Kubernetes node name. */
  name: string;
  tool: 'kind' | 'k3d';
  cluster: string;
}

/** Pure: which of these containers are nodes of a cluster (all clusters when none is named). */
export function selectClusterNodes(containers: ContainerSummary[], cluster?: string): DockerNode[] {
  const nodes: DockerNode[] = [];
  for (const c of containers) {
    for (const kind of CLUSTER_LABELS) {
      const name = c.Labels[kind.label];
      if (name === undefined || (cluster !== undefined && name !== cluster)) continue;
      const role = c.Labels[kind.roleLabel];
      if (role !== undefined && !(kind.nodeRoles as readonly string[]).includes(role)) continue; // load balancers, registries
      nodes.push({ id: c.Id, name: (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''), tool: kind.tool, cluster: name });
    }
  }
  return nodes.sort((a, b) => a.name.localeCompare(b.name));
}

/** The running node containers of a kind or k3d cluster. */
export async function findClusterNodes(api: DockerApi, cluster?: string): Promise<DockerNode[]> {
  const found: ContainerSummary[] = [];
  for (const kind of CLUSTER_LABELS) found.push(...(await api.listContainers([cluster ? `${kind.label}=${cluster}` : kind.label])));
  const nodes = selectClusterNodes(found, cluster);
  const clusters = [...new Set(nodes.map((n) => `${n.tool} cluster '${n.cluster}'`))];
  if (nodes.length === 0) {
    throw new KubewasmError({
      what: cluster ? `no running node containers of a kind or k3d cluster named '${cluster}'` : 'no running kind or k3d node containers',
      where: api.endpoint.url,
      fix: cluster ? "check the name (kind get clusters / k3d cluster list) and that the cluster is started" : 'create or start the cluster, or point DOCKER_HOST at the engine that runs it',
    });
  }
  if (!cluster && clusters.length > 1) {
    throw new KubewasmError({ what: `several clusters run here: ${clusters.join(', ')}`, fix: 'name one with --cluster NAME', exitCode: 2 });
  }
  return nodes;
}

export class DockerHost extends ShellHost {
  readonly name: string;

  constructor(
    private readonly api: DockerApi,
    private readonly node: Pick<DockerNode, 'id' | 'name'>,
  ) {
    super();
    this.name = node.name;
  }

  protected async run(argv: string[], options: ExecOptions = {}): Promise<RawResult> {
    const stream = await this.api.startExec(this.node.id, argv, options.env).catch((err: Error) => {
      throw err instanceof KubewasmError ? err.at(this.name) : new KubewasmError({ what: err.message, where: this.name, fix: 'check that the node container is running (docker ps)' });
    });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (options.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        stream.socket.destroy();
      }, options.timeoutMs);
    }
    stream.finishInput(options.input);
    await stream.closed;
    if (timer) clearTimeout(timer);
    if (timedOut) return { code: 124, stdout: Buffer.concat(stream.stdout), stderr: Buffer.from(`${argv[0]}: timed out after ${options.timeoutMs} ms`) };
    const result = await stream.result();
    // The engine reports a program that is not there as 126 with an OCI message; a shell says 127.
    if (result.code === 126 && /executable file not found|no such file or directory/i.test(result.stderr.toString('utf8') + result.stdout.toString('utf8'))) result.code = 127;
    return result;
  }

  async start(argv: string[]): Promise<RunningCommand> {
    return (await this.api.startExec(this.node.id, argv)).asRunning();
  }

  /**
   * Uploads with PUT /containers/{id}/archive into a temporary name, then
   * checks and renames it on the node. An engine reached over TCP gets
   * compressed bytes through exec instead (inflated and hashed on the node);
   * over the local socket bytes are memory copies, cheaper than compressing.
   */
  override async writeFileAtomic(path: string, data: Buffer | string, mode = 0o644, options: WriteOptions = {}): Promise<void> {
    if (options.gzipped && this.api.endpoint.socketPath === undefined) return super.writeFileAtomic(path, data, mode, options);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash) || '/';
    const temp = tempNameFor(path, randomBytes(4).toString('hex'));
    try {
      const archive = tarOfOneFile(temp.slice(slash + 1), bytes, mode);
      this.countSent(archive.length);
      await this.api.putArchive(this.node.id, dir, archive);
    } catch (err) {
      await this.removeFile(temp).catch(() => {});
      throw err;
    }
    const result = await this.script(
      `tmp=$1 target=$2 size=$3 sum=$4 durable=$5
trap 'rm -f -- "$tmp"' EXIT
got=$(wc -c < "$tmp")
[ "$got" -eq "$size" ] || { echo "only $got of $size bytes reached the node" >&2; exit 75; }
if [ -n "$sum" ]; then
  if command -v sha256sum >/dev/null 2>&1; then
    got=$(sha256sum < "$tmp"); got=\${got%% *}
    [ "$got" = "$sum" ] || { echo "the bytes on the node have sha256 $got, expected $sum" >&2; exit 76; }
  else echo unverified; fi
fi
[ "$durable" = no ] || sync -- "$tmp" 2>/dev/null
mv -f -- "$tmp" "$target" || exit 77
trap - EXIT`,
      [temp, path, String(bytes.length), options.sha256 ?? '', options.durable === false ? 'no' : 'yes'],
    );
    if (result.code !== 0) throw fileError(this.name, 'write', path, result);
    if (options.sha256 && result.stdout.toString('utf8').includes('unverified')) await this.verifyByReading(path, options.sha256);
  }

  async close(): Promise<void> {}
}

/** A tar archive holding one regular file, owned by root (the header is the tar package's). */
export function tarOfOneFile(name: string, data: Buffer, mode: number): Buffer {
  const header = new Header({ path: name, mode, size: data.length, uid: 0, gid: 0, uname: 'root', gname: 'root', type: 'File', mtime: new Date() });
  const block = Buffer.alloc(512);
  if (header.encode(block, 0)) throw new Error(`file name too long for a plain tar header: ${name}`);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([block, data, padding, Buffer.alloc(1024)]);
}
