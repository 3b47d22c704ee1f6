// The registry auth handshake (the OCI distribution spec's, as docker does
// it): a request is answered 401 with WWW-Authenticate; Basic means send the
// user's credentials with every request; Bearer names a token service (realm,
// service) where the credentials buy a token for a scope. Pure.

export interface Challenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/** Parses one WWW-Authenticate value, e.g. `Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g)) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The token request URL for a Bearer challenge and the scope kubewasm needs. */
export function tokenUrl(challenge: Challenge, scope: string): URL {
  const realm = challenge.params['realm'];
  if (!realm) throw new Error('the Bearer challenge names no realm');
  const url = new URL(realm);
  if (challenge.params['service']) url.searchParams.set('service', challenge.params['service']);
  url.searchParams.set('scope', scope);
  return url;
}

/** The scope a push to repository needs. */
export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
