// What an error from the Kubernetes API means for the user: unreachable,
// unauthenticated, forbidden (by RBAC or an admission policy), missing, a
// conflict, or a timeout; each as a KubewasmError that says what to do.

import { KubewasmError } from '../errors.js';

export interface KubeErrorFacts {
  /** HTTP status, when the API answered. */
  status?: number | undefined;
  /** The API's Status message, when it sent one. */
  message?: string | undefined;
  /** The Status reason (Forbidden, NotFound, AlreadyExists, Invalid, …). */
  reason?: string | undefined;
  /** A network error code (ECONNREFUSED, ENOTFOUND, ETIMEDOUT, …) or certificate error. */
  networkCode?: string | undefined;
  networkMessage?: string | undefined;
}

/** Pulls the facts out of anything @kubernetes/client-node (or node-fetch under it) throws. Pure. */
export function kubeErrorFacts(err: unknown): KubeErrorFacts {
  if (typeof err !== 'object' || err === null) return { networkMessage: String(err) };
  const e = err as { code?: unknown; body?: unknown; message?: unknown; errno?: unknown; type?: unknown; cause?: unknown };
  if (typeof e.code === 'number') {
    const status = parseStatus(e.body);
    return { status: e.code, message: status?.message, reason: status?.reason };
  }
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
  const networkCode = typeof e.code === 'string' ? e.code : typeof cause?.code === 'string' ? cause.code : undefined;
  return { networkCode, networkMessage: typeof e.message === 'string' ? e.message : String(err) };
}

function parseStatus(body: unknown): { message?: string; reason?: string } | undefined {
  try {
    const value = typeof body === 'string' ? (JSON.parse(body) as unknown) : body;
    if (typeof value !== 'object' || value === null) return typeof body === 'string' && body ? { message: body.slice(0, 500) } : undefined;
    const v = value as { message?: unknown; reason?: unknown };
    return { ...(typeof v.message === 'string' ? { message: v.message } : {}), ...(typeof v.reason === 'string' ? { reason: v.reason } : {}) };
  } catch {
    return typeof body === 'string' && body ? { message: body.slice(0, 500) } : undefined;
  }
}

export function isNotFound(err: unknown): boolean {
  return kubeErrorFacts(err).status === 404;
}

export function isConflict(err: unknown): boolean {
  return kubeErrorFacts(err).status === 409;
}

/**
 * The error a user reads for a failed API call. `what` is the action
 * ("list nodes"), `server` the API server's URL, `context` the kubeconfig
 * context in use.
 */
export function explainKubeError(err: unknown, what: string, where: { server?: string | undefined; context?: string | undefined; object?: string | undefined } = {}): KubewasmError {
  if (err instanceof KubewasmError) return err;
  const facts = kubeErrorFacts(err);
  const at = [where.object, where.server ? `API server ${where.server}` : ''].filter(Boolean).join(' on ') || undefined;
  const ctx = where.context ? ` (context '${where.context}')` : '';
  const base = { ...(at ? { where: at } : {}), cause: err };
  if (facts.status === undefined) {
    const code = facts.networkCode ?? '';
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(code + (facts.networkMessage ?? ''))) {
      return new KubewasmError({ what: `cannot ${what}: the API server's TLS certificate is not trusted (${facts.networkMessage})`, ...base, fix: `check certificate-authority-data of the cluster in your kubeconfig${ctx}` });
    }
    if (!code) {
      return new KubewasmError({ what: `cannot ${what}: ${facts.networkMessage ?? 'unknown error'}`, ...base, fix: 'run again with KUBEWASM_DEBUG=1 for details, and report it if it is kubewasm\'s fault' });
    }
    if (code === 'KUBEWASM_TIMEOUT') {
      return new KubewasmError({ what: `cannot ${what}: the API server did not answer in time`, ...base, fix: `check that the cluster${ctx} is up and reachable from here (kubectl get --raw /readyz)` });
    }
    return new KubewasmError({
      what: `cannot ${what}: the Kubernetes API is unreachable (${code || facts.networkMessage || 'no answer'})`,
      ...base,
      fix: `check that the cluster${ctx} is running and that --kubeconfig/--context point at it (kubectl cluster-info)`,
    });
  }
  const message = facts.message ? `: ${facts.message}` : '';
  switch (facts.status) {
    case 401:
      return new KubewasmError({ what: `cannot ${what}: the API server did not accept the credentials (401 Unauthorized)`, ...base, fix: `refresh the credentials of the user in your kubeconfig${ctx} (an expired token or certificate?)` });
    case 403:
      return new KubewasmError({
        what: `cannot ${what}: forbidden${message}`,
        ...base,
        fix: /denied request|ValidatingAdmissionPolicy/i.test(facts.message ?? '')
          ? 'an admission policy refused it; see the message above'
          : `ask a cluster admin for that permission, or use a context with it${ctx} (kubectl auth can-i …)`,
      });
    case 404:
      return new KubewasmError({ what: `cannot ${what}: not found${message}`, ...base, fix: /the server could not find the requested resource/i.test(facts.message ?? '') ? 'the cluster does not serve this API; kubewasm needs Kubernetes >= 1.32' : 'check the name (kubectl get …)' });
    case 409:
      return new KubewasmError({ what: `cannot ${what}: conflict${message}`, ...base, fix: 'someone else changed it at the same time; run the command again' });
    case 422:
      return new KubewasmError({ what: `cannot ${what}: the API server refused the object${message}`, ...base, fix: 'this is a kubewasm bug if the object is kubewasm\'s own; please report it with the message' });
    default:
      return new KubewasmError({ what: `cannot ${what}: the API server answered ${facts.status}${message}`, ...base, fix: `check the cluster's health (kubectl get --raw /readyz)${ctx}` });
  }
}
