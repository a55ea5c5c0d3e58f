/**
 * Behaviour common to all backends: key validation before anything touches the backend, and
 * errors normalised to `StorageError` naming the backend, operation and key.
 */
import type { Readable } from 'node:stream';
import { storageOperations } from '../src/metrics/metrics.js';
import { InvalidKeyError, ObjectNotFoundError, StorageError } from './errors.js';
import { STAGING_PREFIX } from './keys.js';
import type { ByteRange, StagedObject, Storage } from './types.js';

const KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
const PREFIX = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/?)*$/;

/** Throws `InvalidKeyError` unless `key` follows the key scheme. */
export function assertValidKey(key: string): void {
  if (!KEY.test(key) || key.length > 1024) throw new InvalidKeyError(key);
}

function assertValidPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) throw new InvalidKeyError(prefix);
}

/** Each operation and the verb its errors use ("could not read …"). */
const VERBS = { put: 'write', stage: 'stage an upload for', stat: 'stat', get: 'read', read: 'read', copy: 'read', list: 'list', delete: 'delete', sign: 'sign a URL for', commit: 'commit', discard: 'discard' } as const;
type Operation = keyof typeof VERBS;

/** Runs one operation: errors normalised, duration and outcome counted (`nixyard_storage_operation_duration_seconds`). */
async function normalise<T>(backend: string, operation: Operation, key: string, run: () => Promise<T>): Promise<T> {
  const timer = storageOperations.startTimer({ backend, operation });
  try {
    const result = await run();
    timer({ outcome: 'ok' });
    return result;
  } catch (error) {
    timer({ outcome: error instanceof ObjectNotFoundError ? 'not_found' : 'error' });
    if (error instanceof ObjectNotFoundError || error instanceof StorageError || error instanceof InvalidKeyError) throw error;
    throw new StorageError(backend, VERBS[operation], key, error);
  }
}

/** Wraps a backend with key validation and error normalisation. */
export function checkedStorage(inner: Storage): Storage {
  const run = <T>(operation: Operation, key: string, fn: () => Promise<T>) => normalise(inner.name, operation, key, fn);
  return {
    name: inner.name,
    put: async (key, body, contentType) => {
      assertValidKey(key);
      return run('put', key, () => inner.put(key, body, contentType));
    },
    stage: async (body: Readable, contentType) => {
      const staged = await run('stage', STAGING_PREFIX, () => inner.stage(body, contentType));
      return checkedStaged(inner.name, staged);
    },
    stat: async (key) => {
      assertValidKey(key);
      return run('stat', key, () => inner.stat(key));
    },
    get: async (key) => {
      assertValidKey(key);
      return run('get', key, () => inner.get(key));
    },
    read: async (key, range?: ByteRange) => {
      assertValidKey(key);
      return run('read', key, () => inner.read(key, range));
    },
    copyTo: async (key, destination, range?: ByteRange) => {
      assertValidKey(key);
      return run('copy', key, () => inner.copyTo(key, destination, range));
    },
    list: async (prefix) => {
      assertValidPrefix(prefix);
      return run('list', prefix, () => inner.list(prefix));
    },
    delete: async (key) => {
      assertValidKey(key);
      return run('delete', key, () => inner.delete(key));
    },
    ...(inner.downloadUrl
      ? {
          downloadUrl: async (key: string) => {
            assertValidKey(key);
            return run('sign', key, () => (inner.downloadUrl as (key: string) => Promise<string | undefined>)(key));
          },
        }
      : {}),
  };
}

/** Adds key checks, error normalising and the rule that a staged upload is settled only once. */
function checkedStaged(backend: string, staged: StagedObject): StagedObject {
  let settled = false;
  const settle = () => {
    if (settled) throw new Error('a staged upload was committed or discarded twice');
    settled = true;
  };
  return {
    size: staged.size,
    commit: async (key) => {
      assertValidKey(key);
      settle();
      return normalise(backend, 'commit', key, () => staged.commit(key));
    },
    discard: async () => {
      settle();
      return normalise(backend, 'discard', STAGING_PREFIX, () => staged.discard());
    },
  };
}
