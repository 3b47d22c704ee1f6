// The GitHub REST API through @octokit/rest: releases by tag, the release
// list (for `latest`), and the first hop of an asset download. Errors come
// back explained (rate limits, 404s, tokens, no route).
import { Octokit } from '@octokit/rest';
import { explainGithubError, type GithubAsset, type GithubRelease } from './resolve.js';

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';

export interface GithubOptions {
  /** Base URL of the REST API (GitHub Enterprise: https://HOST/api/v3). */
  apiUrl?: string;
  /** Sent as a bearer token to the API host only (never to the download host it redirects to). */
  token?: string;
  userAgent?: string;
}

/** GITHUB_TOKEN (or GH_TOKEN, the gh CLI's name) from the environment. */
export function githubTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env['GITHUB_TOKEN'] || env['GH_TOKEN'] || undefined;
}

/** The API URL: the flag, else GITHUB_API_URL (set in GitHub Actions, also on Enterprise), else api.github.com. */
export function githubApiUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return (flag || env['GITHUB_API_URL'] || DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
}

export interface FirstHop {
  status: number;
  headers: Record<string, string>;
  /** Present when the API streams the bytes itself (200) instead of redirecting. */
  body: ReadableStream<Uint8Array> | null;
}

export class GithubReleases {
  readonly apiUrl: string;
  private readonly octokit: Octokit;
  private readonly authenticated: boolean;

  constructor(options: GithubOptions = {}) {
    this.apiUrl = (options.apiUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
    this.authenticated = Boolean(options.token);
    this.octokit = new Octokit({
      baseUrl: this.apiUrl,
      userAgent: options.userAgent ?? 'kubewasm',
      ...(options.token ? { auth: options.token } : {}),
      // Octokit logs deprecation warnings to the console; kubewasm's output is its own.
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
  }

  /** The release with this tag, or undefined when there is none (404). */
  async releaseByTag(owner: string, repo: string, tag: string): Promise<GithubRelease | undefined> {
    try {
      const { data } = await this.octokit.rest.repos.getReleaseByTag({ owner, repo, tag });
      return data as GithubRelease;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.explain(err, `read release ${tag} of ${owner}/${repo}`);
    }
  }

  /** Published releases, newest first as GitHub lists them (at most `maxPages` pages of 100). */
  async listReleases(owner: string, repo: string, maxPages = 10): Promise<GithubRelease[]> {
    const releases: GithubRelease[] = [];
    try {
      let page = 0;
      for await (const response of this.octokit.paginate.iterator(this.octokit.rest.repos.listReleases, { owner, repo, per_page: 100 })) {
        releases.push(...(response.data as GithubRelease[]));
        if (++page >= maxPages) break;
      }
    } catch (err) {
      throw this.explain(err, `list the releases of ${owner}/${repo}`);
    }
    return releases;
  }

  /**
   * GET the asset with Accept: application/octet-stream, not following the
   * redirect: the caller follows it without the token (the bytes live on
   * another host, which must not see it).
   */
  async openAsset(owner: string, repo: string, asset: GithubAsset): Promise<FirstHop> {
    try {
      const response = await this.octokit.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
        owner,
        repo,
        asset_id: asset.id,
        headers: { accept: 'application/octet-stream' },
        request: { redirect: 'manual', parseSuccessResponseBody: false },
      });
      return { status: response.status, headers: response.headers as Record<string, string>, body: response.data as unknown as ReadableStream<Uint8Array> | null };
    } catch (err) {
      throw this.explain(err, `download ${asset.name} from ${owner}/${repo}`);
    }
  }

  private explain(err: unknown, doing: string) {
    const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string>; url?: string }; request?: { url?: string } };
    const noResponse = e.response === undefined;
    return explainGithubError({
      status: noResponse ? undefined : e.status,
      headers: e.response?.headers ?? {},
      url: e.request?.url ?? e.response?.url ?? this.apiUrl,
      message: e.message ?? String(err),
      doing,
      authenticated: this.authenticated,
    });
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { status?: number; response?: unknown };
  return e.response === undefined ? undefined : e.status;
}
