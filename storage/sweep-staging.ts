/**
 * Removes uploads left in `staging/` by a crashed or killed writer. Only objects older than
 * `maxAgeMs` go: younger ones may belong to an upload in progress on another instance.
 */
import { STAGING_PREFIX } from './keys.js';
import type { Storage } from './types.js';

/** Age after which a staging object is certainly abandoned (DESIGN.md: an hour). */
export const STAGING_MAX_AGE_MS = 60 * 60 * 1000;

/** Deletes abandoned staging objects; returns how many were removed. */
export async function sweepStaging(storage: Storage, now: Date, maxAgeMs = STAGING_MAX_AGE_MS): Promise<number> {
  let removed = 0;
  for (const key of await storage.list(STAGING_PREFIX)) {
    const info = await storage.stat(key);
    if (info && now.getTime() - info.updated.getTime() > maxAgeMs) {
      await storage.delete(key);
      removed += 1;
    }
  }
  return removed;
}
