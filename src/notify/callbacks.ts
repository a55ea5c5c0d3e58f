/**
 * Sends each build's own callback (the `callback` of its request or its app): RUNNING once it
 * starts working, then how it ended (see `callback-message.ts`), signed with the callback's
 * token, retried like notifications (`NIXYARD_CALLBACK_ATTEMPTS`), each attempt written into the
 * record's `callback.deliveries`. URLs into the registry's own networks are refused on every
 * connection unless the operator allows them (see `callback-address.ts`).
 */
import { randomUUID } from 'node:crypto';
import type { BuildRecord, CallbackStatus } from '../builds/record.js';
import { isFinal } from '../builds/record.js';
import type { Logger } from '../log.js';
import { guardedFetch } from './callback-address.js';
import { callbackRequest, callbackStatusOf } from './callback-message.js';
import type { CallbackStore } from './callback-store.js';
import { withCallbackDelivery } from './deliveries.js';
import { SignedPosts } from './signed-posts.js';

/** What the callbacks need. */
export interface CallbacksDeps {
  store: CallbackStore;
  /** Changes a build record (the build runner's `amend`). */
  amend: (id: string, change: (record: BuildRecord) => BuildRecord) => Promise<BuildRecord | undefined>;
  attempts: number;
  allowPrivate: boolean;
  log: Logger;
  backoffMs?: number;
  timeoutMs?: number;
  /** Replaces the guarded fetch (tests). */
  fetch?: typeof fetch;
}

/** Delivers builds' callbacks in the background. */
export class Callbacks {
  private readonly posts: SignedPosts<CallbackStatus>;
  /** Builds whose RUNNING was queued here. */
  private readonly running = new Set<string>();

  constructor(private readonly deps: CallbacksDeps) {
    this.posts = new SignedPosts({
      label: 'callback',
      record: async (id, delivery) => void (await deps.amend(id, (record) => withCallbackDelivery(record, delivery))),
      attempts: deps.attempts,
      log: deps.log,
      backoffMs: deps.backoffMs,
      timeoutMs: deps.timeoutMs,
      fetch: deps.fetch ?? guardedFetch(deps.allowPrivate),
    });
  }

  /** Hears that a build entered `record.status` (the runner's `onStatus`); never throws, never waits. */
  notify(record: BuildRecord): void {
    const status = record.callback && callbackStatusOf(record);
    if (!status) return;
    const { id } = record;
    if (status === 'RUNNING') {
      if (this.running.has(id) || record.callback?.deliveries.some((delivery) => delivery.status === 'RUNNING')) return;
      this.running.add(id);
    }
    this.posts.send(id, status, async () => {
      const callback = await this.deps.store.load(id);
      if (!callback) throw new Error(`the callback of build ${id} is not in storage (build-callbacks/${id})`);
      return { url: callback.url, request: callbackRequest(record, status, callback, randomUUID()) };
    });
    if (isFinal(record.status)) {
      this.running.delete(id);
      this.deps.store.forget(id);
    }
  }

  close(): Promise<void> {
    return this.posts.close();
  }
}
