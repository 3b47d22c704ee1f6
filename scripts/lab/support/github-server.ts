// A loopback stand-in for the GitHub REST API, as @octokit/rest sees it (used by
// the tests and scripts/bench/shims, hence here and not under test/):
// releases (list with Link pagination, by tag, latest), assets (JSON, or
// Accept: application/octet-stream answered with a 302 to a second loopback
// host that serves the bytes, as GitHub redirects to its objects host),
// github.com-style /OWNER/REPO/releases/download/TAG/NAME links (also usable as
// a --mirror), x-ratelimit-* headers, rate-limit and other injected faults.
// Plus helpers that build real tar.gz release archives shaped like runwasi's
// and the Spin shim's.
//
// Only erasable TypeScript and imports of node:* and `tar`, so scripts can load
// it with plain `node` (type stripping) as well as vitest.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

export interface FakeAsset {
  name: string;
  data: Buffer;
  /** 'auto' (default): "sha256:<hex of data>"; null: an asset from before June 2025; a string: reported as is. */
  digest?: string | null;
  /** Bytes served instead of `data` (the API still describes `data`): a corrupted or tampered download. */
  serve?: Buffer;
  /** 'truncate': announce the full length, send half, close. 'reset': send half, then a TCP reset. */
  fault?: 'truncate' | 'reset';
  contentType?: string;
  /** ISO date of the upload (created_at). */
  uploadedAt?: string;
}

export interface FakeRelease {
  /** owner/name */
  repo: string;
  tag: string;
  name?: string;
  prerelease?: boolean;
  draft?: boolean;
  publishedAt?: string;
  assets: FakeAsset[];
}

export interface Fault {
  /** Which API requests it applies to (matched against the path, query included). */
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many requests it answers (default 1; Infinity for all). */
  times?: number;
}

export interface RequestRecord {
  server: 'api' | 'download';
  method: string;
  path: string;
  status: number;
  accept: string | undefined;
  authorization: string | undefined;
  /** Body bytes sent. */
  bytes: number;
}

export interface GithubServerOptions {
  releases: FakeRelease[];
  /** Loopback address of the API (default 127.0.0.1). */
  apiHost?: string;
  /** Loopback address of the download host (default 127.0.0.2: another host, as objects.githubusercontent.com is). */
  downloadHost?: string;
  /** Core rate limit for this server's life (default 60, like anonymous GitHub). */
  rateLimit?: number;
  /** When set, API requests must carry "Bearer <token>" or "token <token>" (401 otherwise). */
  token?: string;
  /** Every answer (API, redirect, download) waits this long before its first byte: a distant server (the fleet bench). */
  firstByteDelayMs?: number;
}

export interface GithubServer {
  /** Base URL for octokit / --github-api-url, e.g. http://127.0.0.1:40123 */
  apiUrl: string;
  /** Origin of the download host, e.g. http://127.0.0.2:40124 */
  downloadHost: string;
  requests: RequestRecord[];
  /** Body bytes sent so far, per server. */
  bytesServed: { api: number; download: number };
  addFault(fault: Fault): void;
  /** The github.com-style link of an asset (redirects to the download host). Use apiUrl as a --mirror base. */
  browserDownloadUrl(repo: string, tag: string, name: string): string;
  /** The download host's own URL of an asset (what the redirect points at; for curl). */
  directDownloadUrl(repo: string, tag: string, name: string): string;
  close(): Promise<void>;
}

interface StoredAsset extends FakeAsset {
  id: number;
  release: StoredRelease;
  /** The digest field, computed once (hashing 50 MB per API answer would slow every request). */
  digestField: string | null;
}
interface StoredRelease extends FakeRelease {
  id: number;
  stored: StoredAsset[];
}

const USER = { login: 'github-actions[bot]', id: 41898282, node_id: 'MDM6Qm90NDE4OTgyODI=', type: 'Bot', site_admin: false };

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function start(options: GithubServerOptions): Promise<GithubServer> {
  const apiHost = options.apiHost ?? '127.0.0.1';
  const dlHost = options.downloadHost ?? '127.0.0.2';
  let nextId = 1000;
  const releases: StoredRelease[] = options.releases.map((r) => {
    const release: StoredRelease = { ...r, id: nextId++, stored: [] };
    release.stored = r.assets.map((a) => ({ ...a, id: nextId++, release, digestField: a.digest === undefined || a.digest === 'auto' ? `sha256:${sha256(a.data)}` : a.digest }));
    return release;
  });
  const assets = new Map<number, StoredAsset>(releases.flatMap((r) => r.stored.map((a) => [a.id, a] as const)));
  const requests: RequestRecord[] = [];
  const bytesServed = { api: 0, download: 0 };
  const faults: Array<Fault & { left: number }> = [];
  const limit = options.rateLimit ?? 60;
  let used = 0;
  const resetAt = Math.floor(Date.now() / 1000) + 3600;
  let apiUrl = '';
  let downloadOrigin = '';

  const releaseJson = (r: StoredRelease) => {
    const base = `${apiUrl}/repos/${r.repo}/releases/${r.id}`;
    const when = r.publishedAt ?? '2025-05-20T17:44:36Z';
    return {
      url: base,
      assets_url: `${base}/assets`,
      upload_url: `${apiUrl.replace('://', '://uploads.')}/repos/${r.repo}/releases/${r.id}/assets{?name,label}`,
      html_url: `${apiUrl}/${r.repo}/releases/tag/${r.tag}`,
      id: r.id,
      author: USER,
      node_id: Buffer.from(`RE_${r.id}`).toString('base64'),
      tag_name: r.tag,
      target_commitish: 'main',
      name: r.name ?? r.tag,
      draft: r.draft ?? false,
      immutable: false,
      prerelease: r.prerelease ?? false,
      created_at: when,
      updated_at: when,
      published_at: r.draft ? null : when,
      assets: r.stored.map(assetJson),
      tarball_url: `${apiUrl}/repos/${r.repo}/tarball/${r.tag}`,
      zipball_url: `${apiUrl}/repos/${r.repo}/zipball/${r.tag}`,
      body: '',
    };
  };
  const assetJson = (a: StoredAsset) => {
    const uploaded = a.uploadedAt ?? a.release.publishedAt ?? '2025-05-20T17:44:36Z';
    return {
      url: `${apiUrl}/repos/${a.release.repo}/releases/assets/${a.id}`,
      id: a.id,
      node_id: Buffer.from(`RA_${a.id}`).toString('base64'),
      name: a.name,
      label: '',
      uploader: USER,
      content_type: a.contentType ?? 'application/gzip',
      state: 'uploaded',
      size: a.data.length,
      digest: a.digestField,
      download_count: 0,
      created_at: uploaded,
      updated_at: uploaded,
      browser_download_url: `${apiUrl}/${a.release.repo}/releases/download/${a.release.tag}/${a.name}`,
    };
  };
  const objectPath = (a: StoredAsset) => `/github-production-release-asset/${a.id}/${encodeURIComponent(a.name)}?X-Amz-Signature=${sha256(Buffer.from(`signature-${a.id}`)).slice(0, 32)}`;

  const record = (server: 'api' | 'download', req: http.IncomingMessage, status: number, bytes: number) => {
    requests.push({ server, method: req.method ?? 'GET', path: req.url ?? '/', status, accept: req.headers['accept'], authorization: req.headers['authorization'], bytes });
    bytesServed[server] += bytes;
  };

  const delayed = (handler: http.RequestListener): http.RequestListener => {
    const delay = options.firstByteDelayMs ?? 0;
    return delay > 0 ? (req, res) => void setTimeout(() => handler(req, res), delay) : handler;
  };
  const api = http.createServer(delayed((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const rate = () => ({
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - used)),
      'x-ratelimit-reset': String(resetAt),
      'x-ratelimit-used': String(used),
      'x-ratelimit-resource': 'core',
    });
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const data = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(data.length), 'x-github-api-version-selected': '2022-11-28', ...rate(), ...headers });
      res.end(data);
      record('api', req, status, data.length);
    };
    const notFound = () => send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });

    // github.com-style download links: not API calls, no rate limit, no token needed.
    const dl = /^\/([^/]+\/[^/]+)\/releases\/download\/(.+)\/([^/]+)$/.exec(path);
    if (dl) {
      const [, repo, tag, name] = dl.map((s) => decodeURIComponent(s ?? '')) as [string, string, string, string];
      const asset = releases.find((r) => r.repo === repo && r.tag === tag)?.stored.find((a) => a.name === name);
      if (!asset) {
        res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' }).end('Not Found');
        return record('api', req, 404, 9);
      }
      res.writeHead(302, { location: `${downloadOrigin}${objectPath(asset)}`, 'content-length': '0' }).end();
      return record('api', req, 302, 0);
    }

    const fault = faults.find((f) => f.left > 0 && f.path.test(req.url ?? '/'));
    if (fault) {
      fault.left--;
      return send(fault.status, fault.body ?? { message: `injected HTTP ${fault.status}` }, fault.headers ?? {});
    }
    if (options.token !== undefined) {
      const auth = req.headers['authorization'] ?? '';
      if (auth !== `token ${options.token}` && auth !== `Bearer ${options.token}` && auth !== `bearer ${options.token}`) {
        return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      }
    }
    if (used >= limit) {
      return send(403, {
        message: `API rate limit exceeded for ${apiHost}. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)`,
        documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting',
      });
    }
    used++;

    const m = /^\/repos\/([^/]+)\/([^/]+)\/releases(?:\/(.*))?$/.exec(path);
    if (!m || req.method !== 'GET') return notFound();
    const repo = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
    const rest = m[3];
    const ofRepo = releases.filter((r) => r.repo === repo);
    if (rest === undefined || rest === '') {
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30) || 30);
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
      const visible = ofRepo; // the stand-in lists drafts too, as GitHub does for a token with push access
      const last = Math.max(1, Math.ceil(visible.length / perPage));
      const link = (p: number) => `<${apiUrl}/repos/${repo}/releases?per_page=${perPage}&page=${p}>`;
      const links = [page < last ? `${link(page + 1)}; rel="next"` : '', page < last ? `${link(last)}; rel="last"` : ''].filter(Boolean).join(', ');
      return send(200, visible.slice((page - 1) * perPage, page * perPage).map(releaseJson), links ? { link: links } : {});
    }
    if (rest === 'latest') {
      const latest = ofRepo.find((r) => !r.draft && !r.prerelease);
      return latest ? send(200, releaseJson(latest)) : notFound();
    }
    if (rest.startsWith('tags/')) {
      const tag = rest.slice('tags/'.length).split('/').map(decodeURIComponent).join('/');
      const release = ofRepo.find((r) => r.tag === tag && !r.draft);
      return release ? send(200, releaseJson(release)) : notFound();
    }
    const assetMatch = /^assets\/(\d+)$/.exec(rest);
    if (assetMatch) {
      const asset = assets.get(Number(assetMatch[1]));
      if (!asset || asset.release.repo !== repo) return notFound();
      if ((req.headers['accept'] ?? '').includes('application/octet-stream')) {
        res.writeHead(302, { location: `${downloadOrigin}${objectPath(asset)}`, 'content-length': '0', ...rate() }).end();
        return record('api', req, 302, 0);
      }
      return send(200, assetJson(asset));
    }
    return notFound();
  }));

  const download = http.createServer(delayed((req, res) => {
    const m = /^\/github-production-release-asset\/(\d+)\//.exec(req.url ?? '');
    const asset = m ? assets.get(Number(m[1])) : undefined;
    if (!asset || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' }).end('Not Found');
      return record('download', req, 404, 9);
    }
    const body = asset.serve ?? asset.data;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'content-disposition': `attachment; filename=${asset.name}` });
    if (asset.fault) {
      const half = body.subarray(0, Math.floor(body.length / 2));
      res.write(half, () => {
        record('download', req, 200, half.length);
        if (asset.fault === 'reset') res.socket?.resetAndDestroy();
        else res.socket?.end(); // closes early: fewer bytes than content-length
      });
      return;
    }
    res.end(body);
    record('download', req, 200, body.length);
  }));

  await listen(api, apiHost);
  await listen(download, dlHost);
  apiUrl = `http://${apiHost}:${(api.address() as AddressInfo).port}`;
  downloadOrigin = `http://${dlHost}:${(download.address() as AddressInfo).port}`;

  const findAsset = (repo: string, tag: string, name: string) => {
    const asset = releases.find((r) => r.repo === repo && r.tag === tag)?.stored.find((a) => a.name === name);
    if (!asset) throw new Error(`no asset ${name} in ${repo} ${tag}`);
    return asset;
  };
  return {
    apiUrl,
    downloadHost: downloadOrigin,
    requests,
    bytesServed,
    addFault: (fault) => faults.push({ ...fault, left: fault.times ?? 1 }),
    browserDownloadUrl: (repo, tag, name) => `${apiUrl}/${repo}/releases/download/${tag}/${name}`,
    directDownloadUrl: (repo, tag, name) => `${downloadOrigin}${objectPath(findAsset(repo, tag, name))}`,
    close: async () => {
      await Promise.all([close(api), close(download)]);
    },
  };
}

function listen(server: http.Server, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

// ---------------------------------------------------------------------------
// Release archives: real tar.gz bytes, built entry by entry so tests can also
// make the hostile ones (absolute paths, "..", links, devices).

export interface TarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  data?: Buffer;
  mode?: number;
  linkpath?: string;
}

export function tarball(entries: TarEntry[], gzip = true): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'File';
    const data = type === 'File' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const header = new Header({
      path: e.path,
      type,
      size: data.length,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o755),
      uid: 1001,
      gid: 127,
      uname: 'runner',
      gname: 'docker',
      mtime: new Date('2025-05-20T17:40:00Z'),
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
      ...(type === 'CharacterDevice' || type === 'BlockDevice' ? { devmaj: 1, devmin: 3 } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const tar = Buffer.concat(blocks);
  return gzip ? gzipSync(tar) : tar;
}

export type Engine = 'wasmtime' | 'wasmedge' | 'wasmer';
export type MachineArch = 'x86_64' | 'aarch64';

/** runwasi v0.5.0+ asset name. */
export function runwasiAssetName(engine: Engine, arch: MachineArch): string {
  return `containerd-shim-${engine}-${arch}-linux-musl.tar.gz`;
}

/**
 * A runwasi release archive as `tar -czf … -C dist/bin .` makes it: ./, the
 * shim, its cosign .sig and .pem; with `legacy` (v0.3/v0.4) also the symlinks
 * containerd-shim-<engine>d-v1 and containerd-<engine>d. `signature` varies
 * the .sig (archives of two arches built from one stand-in binary then differ,
 * as real ones do).
 */
export function runwasiArchive(engine: Engine, binary: Buffer, options: { legacy?: boolean; signature?: string } = {}): Buffer {
  const bin = `containerd-shim-${engine}-v1`;
  const legacy = options.legacy ?? false;
  return tarball([
    { path: './', type: 'Directory' },
    { path: `./${bin}`, data: binary },
    { path: `./${bin}.sig`, data: Buffer.from(`MEUCIQD${options.signature ?? 'stand-in'}-signature==\n`), mode: 0o644 },
    { path: `./${bin}.pem`, data: Buffer.from('-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n'), mode: 0o644 },
    ...(legacy
      ? [
          { path: `./containerd-shim-${engine}d-v1`, type: 'SymbolicLink' as const, linkpath: `./${bin}` },
          { path: `./containerd-${engine}d`, type: 'SymbolicLink' as const, linkpath: `./${bin}` },
        ]
      : []),
  ]);
}

export function spinAssetName(arch: MachineArch): string {
  return `containerd-shim-spin-v2-linux-${arch}.tar.gz`;
}

/** A Spin shim archive as `cd _dist; tar czf … containerd-shim-spin-v2` makes it: one entry, no ./ prefix. */
export function spinArchive(binary: Buffer): Buffer {
  return tarball([{ path: 'containerd-shim-spin-v2', data: binary }]);
}

/** A small executable that answers `-v` like a shim (for tests where no real shim binary was built). */
export function standInShim(name: string, version = '0.0.0-stand-in'): Buffer {
  return Buffer.from(`#!/bin/sh\n# stand-in for ${name}, generated by kubewasm's tests\ncase "$1" in -v|--version) echo "${name}"; echo "  Version: ${version}";; esac\nexit 0\n`);
}

// ---------------------------------------------------------------------------
// Releases from fixtures shaped like GitHub's answers (test/fixtures/github):
// the stand-in serves the fixture's shape (which assets, a `digest` or null,
// dates, prerelease) with stand-in bytes. A fixture's non-null digest is
// served as the digest of the stand-in bytes (the real value would not match
// them) unless `keepDigests` serves the fixture's own value; SHA256SUMS and the
// Spin shim's runtime-class-manager Shim yaml are written from the stand-in
// archives, as the projects' release workflows write them from theirs.

/** The fields of a fixture this module reads (a GET /repos/{o}/{r}/releases/tags/{tag} answer). */
export interface ReleaseFixture {
  url: string;
  tag_name: string;
  draft: boolean;
  prerelease: boolean;
  published_at: string | null;
  assets: Array<{ name: string; digest: string | null; created_at: string; content_type: string }>;
}

export interface FromFixtureOptions {
  /** Stand-in bytes per archive name; every .tar.gz of the fixture needs one. */
  archives: Record<string, Buffer>;
  /** Serve the fixture's digest values as they are (for a test where the API and a pin disagree). */
  keepDigests?: boolean;
  /** Bytes for other assets, e.g. a SHA256SUMS or Shim yaml that disagrees with the archives. */
  files?: Record<string, Buffer>;
  /** Override the tag (a version the catalog does not pin); assets keep their names. */
  tag?: string;
}

/** `sha256sum` output over the archives (bare names, two spaces), as runwasi's release job writes it. */
export function sha256sums(archives: Record<string, Buffer>): Buffer {
  return Buffer.from(Object.entries(archives).sort(([a], [b]) => a.localeCompare(b)).map(([name, data]) => `${sha256(data)}  ${name}\n`).join(''));
}

/** A runtime-class-manager Shim (runtime.spinkube.dev/v1alpha1) naming each archive's location and sha256. */
export function rcmShimYaml(repo: string, tag: string, archives: Record<string, Buffer>): Buffer {
  const platforms = Object.entries(archives)
    .map(([name, data]) => {
      const arch = name.includes('aarch64') ? 'aarch64' : 'x86_64';
      return `      - os: linux\n        arch: ${arch}\n        location: "https://github.com/${repo}/releases/download/${tag}/${name}"\n        sha256: "${sha256(data)}"\n`;
    })
    .join('');
  return Buffer.from(
    `apiVersion: runtime.spinkube.dev/v1alpha1\nkind: Shim\nmetadata:\n  name: spin-v2\nspec:\n  nodeSelector:\n    spin: "true"\n\n  fetchStrategy:\n    platforms:\n${platforms}\n  runtimeClass:\n    name: wasmtime-spin-v2\n    handler: spin-v2\n\n  rolloutStrategy:\n    type: recreate\n`,
  );
}

export function releaseFromFixture(fixture: ReleaseFixture, options: FromFixtureOptions): FakeRelease {
  const repo = /\/repos\/([^/]+\/[^/]+)\/releases\//.exec(fixture.url)?.[1];
  if (!repo) throw new Error(`fixture ${fixture.tag_name}: no repository in its url ${fixture.url}`);
  const tag = options.tag ?? fixture.tag_name;
  const archives: Record<string, Buffer> = {};
  for (const a of fixture.assets.filter((a) => a.name.endsWith('.tar.gz'))) {
    const data = options.archives[a.name];
    if (!data) throw new Error(`fixture ${fixture.tag_name}: no stand-in bytes for ${a.name}`);
    archives[a.name] = data;
  }
  const dataFor = (name: string): Buffer => {
    const given = options.files?.[name] ?? archives[name];
    if (given) return given;
    if (name === 'SHA256SUMS') return sha256sums(archives);
    if (name.startsWith('runtime-class-manager-shim-')) return rcmShimYaml(repo, tag, archives);
    return Buffer.from(`# stand-in for ${name}\n`);
  };
  return {
    repo,
    tag,
    ...(fixture.prerelease ? { prerelease: true } : {}),
    ...(fixture.draft ? { draft: true } : {}),
    ...(fixture.published_at ? { publishedAt: fixture.published_at } : {}),
    // Asset names that carry the tag (the Spin shim's Shim yaml) follow a changed tag.
    assets: fixture.assets.map((a) => ({
      name: a.name.replaceAll(fixture.tag_name, tag),
      data: dataFor(a.name.replaceAll(fixture.tag_name, tag)),
      digest: a.digest === null ? null : options.keepDigests ? a.digest : 'auto',
      uploadedAt: a.created_at,
      contentType: a.content_type,
    })),
  };
}
