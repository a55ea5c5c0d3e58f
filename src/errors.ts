import { InvalidKeyError, StorageError } from '../storage/errors.js';

/**
 * Every error a client can see, in one table: OCI distribution codes plus nixyard's own build
 * codes. Call sites throw a `RegistryError` with a code; the HTTP layer picks the status from
 * this table and writes `{"errors":[{code,message,detail}]}`.
 */
export const ERROR_CODES = {
  // OCI distribution spec codes
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  TAG_INVALID: { status: 400, message: 'invalid tag' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  UNAVAILABLE: { status: 503, message: 'service unavailable, retry later' },
  UNKNOWN: { status: 500, message: 'unknown error' },
  // nixyard's build outcomes (see DESIGN.md, "Errors → responses")
  NIX_EVALUATION_ERROR: { status: 422, message: 'Nix could not evaluate the requested packages' },
  PACKAGE_UNFREE: { status: 422, message: 'a requested package has an unfree license and is refused' },
  PACKAGE_BROKEN: { status: 422, message: 'a requested package is marked as broken or unsupported on this platform' },
  NIX_BUILD_FAILED: { status: 500, message: 'Nix failed to build the requested packages' },
  NIX_TIMEOUT: { status: 504, message: 'the Nix build did not finish within NIX_TIMEOUT' },
  BUILD_CANCELLED: { status: 409, message: 'the image build was cancelled' },
  BUILD_INTERRUPTED: { status: 503, message: 'the instance running the build stopped before the build ended' },
  // builds from application source
  REPOSITORY_UNAVAILABLE: { status: 503, message: 'the source repository could not be read' },
  REF_UNKNOWN: { status: 404, message: 'the ref is not a branch, a tag or a commit of the repository' },
  SOURCE_DIR_UNKNOWN: { status: 404, message: 'the app directory is not in the repository' },
  PLAN_UNAVAILABLE: { status: 422, message: 'nixpacks could not plan a build of the app' },
  PACKAGE_UNKNOWN: { status: 422, message: 'a package the app needs is not in the package set' },
  BUILD_COMMAND_FAILED: { status: 422, message: "a command of the app's build failed" },
  BUILD_TIMEOUT: { status: 504, message: 'the build did not finish in time' },
  SANDBOX_UNAVAILABLE: { status: 503, message: 'the build sandbox is not available' },
  // pushes to external registries
  PUSH_UNAUTHORIZED: { status: 502, message: 'the push target refused the credentials' },
  PUSH_UNREACHABLE: { status: 503, message: 'the push target could not be reached' },
  PUSH_REFUSED: { status: 502, message: 'the push target refused the image' },
  // the builds API (/v1)
  BUILD_UNKNOWN: { status: 404, message: 'no build has this id' },
  BUILD_FINISHED: { status: 409, message: 'the build has already ended' },
  BUILD_NOT_RETRYABLE: { status: 409, message: 'only failed or cancelled builds can be retried' },
  PARAMETER_INVALID: { status: 400, message: 'a request parameter is not valid' },
  // connected repositories (/v1/apps)
  APP_UNKNOWN: { status: 404, message: 'no app has this id' },
  APP_EXISTS: { status: 409, message: 'another app builds this image' },
  ENDPOINT_UNKNOWN: { status: 404, message: 'no such endpoint' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the client: a code from the table, an optional message and detail. */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** Extra response headers (e.g. `Content-Range` on a 416). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: { detail?: unknown; cause?: unknown; headers?: Record<string, string> } = {}) {
    super(message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }

  /** The HTTP status the table gives this code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** Seconds a client should wait before retrying after a storage outage. */
export const RETRY_AFTER_SECONDS = 5;

/** Maps any error to the `RegistryError` the client sees. */
export function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof StorageError) {
    return new RegistryError('UNAVAILABLE', `storage is unavailable (${error.backend}${error.reason ? `: ${error.reason}` : ''}); retry later`, {
      cause: error,
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    });
  }
  const status = (error as { status?: number })?.status;
  if (error instanceof URIError || (status === 400 && (error as Error)?.message?.includes('decode'))) {
    return new RegistryError('NAME_INVALID', 'the request path is not valid percent-encoding', { cause: error });
  }
  if (status === 413) return new RegistryError('UNSUPPORTED', 'request body too large', { cause: error });
  if ((error as { type?: string })?.type === 'entity.parse.failed') return new RegistryError('PARAMETER_INVALID', 'the request body is not valid JSON', { cause: error });
  if (error instanceof InvalidKeyError) return new RegistryError('UNKNOWN', 'internal error: invalid storage key (logged)', { cause: error });
  return new RegistryError('UNKNOWN', 'unexpected server error (logged on the registry)', { cause: error });
}


/**
 * `error` for a log line: its message followed by each cause's message that says something the
 * outer ones did not (wrapped errors often repeat their cause), and the stack of the innermost
 * error when it is not a RegistryError (an unexpected failure, where the stack helps).
 */
export function describeError(error: unknown): { error: string; stack?: string } {
  const messages: string[] = [];
  let innermost: unknown = error;
  for (let current: unknown = error; current !== undefined && current !== null; current = current instanceof Error ? current.cause : undefined) {
    const message = current instanceof Error ? current.message : String(current);
    if (!messages.some((known) => known.includes(message))) messages.push(message);
    innermost = current;
  }
  const stack = innermost instanceof Error && !(innermost instanceof RegistryError) ? innermost.stack : undefined;
  return { error: messages.join(': '), ...(stack ? { stack } : {}) };
}
