/** Errors storage backends throw, normalised by `checkedStorage` so callers see one shape. */

/** The object asked for does not exist. */
export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object under ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

/** The backend failed (disk full, bucket unreachable, permission denied…): retryable for clients. */
export class StorageError extends Error {
  constructor(
    readonly backend: string,
    readonly operation: string,
    readonly key: string,
    cause: unknown,
  ) {
    super(`${backend} storage failed to ${operation} ${key}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StorageError';
  }
}

/** A key that does not follow the key scheme: a programming error, never a client's. */
export class InvalidKeyError extends Error {
  constructor(readonly key: string) {
    super(`invalid storage key ${JSON.stringify(key)}: expected segments of [A-Za-z0-9._-] not starting with a dot`);
    this.name = 'InvalidKeyError';
  }
}
