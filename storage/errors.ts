/** Errors storage backends throw, normalised by `checkedStorage` so callers see one shape. */

/** The object asked for does not exist. */
export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object under ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

/** What the operator can act on, by the error code of a failed system call. */
const SYSTEM_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the storage path (ENOSPC)',
  EDQUOT: 'the disk quota of the storage path is used up (EDQUOT)',
  EACCES: 'permission denied on the storage path (EACCES)',
  EPERM: 'operation not permitted on the storage path (EPERM)',
  EROFS: 'the storage path is on a read-only filesystem (EROFS)',
  EMFILE: 'too many open files (EMFILE): raise the open-files limit',
  EIO: 'input/output error of the storage device (EIO)',
};

/** What the backend's HTTP status means (GCS). */
const STATUS_REASONS: Record<number, string> = {
  401: 'the credentials were refused (401)',
  403: 'permission denied on the bucket (403): the service account needs roles/storage.objectAdmin',
  429: 'the bucket refuses requests for now (429, rate limit)',
};

/** A short cause an operator can act on, when the failure has a known one. */
export function storageFailureReason(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown })?.code;
  if (typeof code === 'string') return SYSTEM_REASONS[code];
  if (typeof code === 'number') return STATUS_REASONS[code];
  return undefined;
}

/** The backend failed (disk full, bucket unreachable, permission denied…): retryable for clients. */
export class StorageError extends Error {
  /** The cause in a few words when it is a known one (`no space left on the storage path (ENOSPC)`). */
  readonly reason: string | undefined;

  constructor(
    readonly backend: string,
    readonly operation: string,
    readonly key: string,
    cause: unknown,
  ) {
    super(`${backend} storage failed to ${operation} ${key}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StorageError';
    this.reason = storageFailureReason(cause);
  }
}

/** A key that does not follow the key scheme: a programming error, never a client's. */
export class InvalidKeyError extends Error {
  constructor(readonly key: string) {
    super(`invalid storage key ${JSON.stringify(key)}: expected segments of [A-Za-z0-9._-] not starting with a dot`);
    this.name = 'InvalidKeyError';
  }
}
