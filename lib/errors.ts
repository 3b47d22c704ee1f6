// Errors a user can act on: what failed, where, and what to do about it.
// Exit codes follow kubectl: 1 for a failure, 2 for bad usage.

export interface ErrorDetails {
  /** What failed, as a sentence a user understands. */
  what: string;
  /** Where: a node, a file, a URL. */
  where?: string;
  /** What to do about it. */
  fix?: string;
  /** 1 = failed (default), 2 = bad usage. */
  exitCode?: 1 | 2;
  cause?: unknown;
}

export class KubewasmError extends Error {
  readonly what: string;
  readonly where: string | undefined;
  readonly fix: string | undefined;
  readonly exitCode: 1 | 2;

  constructor(details: ErrorDetails) {
    super(formatDetails(details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'KubewasmError';
    this.what = details.what;
    this.where = details.where;
    this.fix = details.fix;
    this.exitCode = details.exitCode ?? 1;
  }

  /** The same error, located: used when a lower layer did not know the node or file. */
  at(where: string): KubewasmError {
    return new KubewasmError({ what: this.what, where: this.where ? `${where}: ${this.where}` : where, fix: this.fix, exitCode: this.exitCode, cause: this.cause });
  }
}

export class UsageError extends KubewasmError {
  constructor(what: string, fix = "run 'kubewasm --help' for usage") {
    super({ what, fix, exitCode: 2 });
    this.name = 'UsageError';
  }
}

function formatDetails({ what, where, fix }: ErrorDetails): string {
  return [where ? `${where}: ${what}` : what, fix ? `  fix: ${fix}` : ''].filter(Boolean).join('\n');
}

/** Any thrown value as a KubewasmError, keeping the message of unexpected ones. */
export function asKubewasmError(err: unknown, where?: string): KubewasmError {
  if (err instanceof KubewasmError) return where ? err.at(where) : err;
  const message = err instanceof Error ? err.message : String(err);
  return new KubewasmError({ what: message, ...(where ? { where } : {}), cause: err });
}
