/**
 * The callbacks of single builds, kept where every replica finds them: `build-callbacks/<id>`
 * holds the URL, the token the bodies are signed with and the registry host the build was asked
 * at. The record shows only the URL. Callbacks saved by this instance are also kept in memory,
 * so that the first status of a build starting here never waits for storage.
 */
import { buildCallbackKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';

/** A build's callback as kept. */
export interface StoredCallback {
  url: string;
  token: string;
  /** The host[:port] clients pull from (the image reference in the POST). */
  registryHost: string;
}

/** Keeps and finds builds' callbacks. */
export class CallbackStore {
  private readonly recent = new Map<string, StoredCallback>();

  constructor(private readonly storage: Storage) {}

  /** Keeps the callback of build `id` (in memory at once, in storage when this resolves). */
  async save(id: string, callback: StoredCallback): Promise<void> {
    this.recent.set(id, callback);
    await this.storage.put(buildCallbackKey(id), JSON.stringify(callback), 'application/json');
  }

  /** The callback of build `id`, or `undefined`. */
  async load(id: string): Promise<StoredCallback | undefined> {
    const known = this.recent.get(id);
    if (known) return known;
    const stored = await this.storage.get(buildCallbackKey(id));
    return stored && (JSON.parse(stored.toString('utf8')) as StoredCallback);
  }

  /** Forgets the in-memory copy of a build that ended (storage keeps it for retries). */
  forget(id: string): void {
    this.recent.delete(id);
  }
}
