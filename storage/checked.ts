/**
 * Behaviour common to all backends: key validation before anything touches the backend, and
 * errors normalised to `StorageError` naming the backend, operation and key.
 */
import type { Readable } from 'node:stream';
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

async function normalise<T>(backend: string, operation: string, key: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ObjectNotFoundError || error instanceof StorageError || error instanceof InvalidKeyError) throw error;
    throw new StorageError(backend, operation, key, error);
  }
}

/** Wraps a backend with key validation and error normalisation. */
export function checkedStorage(inner: Storage): Storage {
  const run = <T>(operation: string, key: string, fn: () => Promise<T>) => normalise(inner.name, operation, key, fn);
  return {
    name: inner.name,
    put: async (key, body, contentType) => {
      assertValidKey(key);
      return run('write', key, () => inner.put(key, body, contentType));
    },
    stage: async (body: Readable, contentType) => {
      const staged = await run('stage an upload for', STAGING_PREFIX, () => inner.stage(body, contentType));
      return checkedStaged(inner.name, staged);
    },
    stat: async (key) => {
      assertValidKey(key);
      return run('stat', key, () => inner.stat(key));
    },
    get: async (key) => {
      assertValidKey(key);
      return run('read', key, () => inner.get(key));
    },
    read: async (key, range?: ByteRange) => {
      assertValidKey(key);
      return run('read', key, () => inner.read(key, range));
    },
    copyTo: async (key, destination, range?: ByteRange) => {
      assertValidKey(key);
      return run('read', key, () => inner.copyTo(key, destination, range));
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
            return run('sign a URL for', key, () => (inner.downloadUrl as (key: string) => Promise<string | undefined>)(key));
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
