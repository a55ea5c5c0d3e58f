/**
 * Sends the notifications of build status changes to `NIXYARD_NOTIFY_URL` in the background:
 * the runner tells it every status a build enters ({@link Notifier.notify}, which returns at
 * once); for the statuses that matter it POSTs the signed record (see `message.ts`) through
 * {@link SignedPosts} (retries with backoff, each attempt written into the record's
 * `notifications`, one build's notifications in order: `build.succeeded` is not sent before
 * `build.building` was delivered or given up). {@link Notifier.close} stops the waits between
 * attempts and resolves once the requests in flight and the record writes are done.
 */
import { randomUUID } from 'node:crypto';
import type { BuildRecord } from '../builds/record.js';
import type { NotifyConfig } from '../config.js';
import type { Logger } from '../log.js';
import { withDelivery } from './deliveries.js';
import { notificationRequest } from './message.js';
import { shouldNotify, type NotifyStatus } from './policy.js';
import { SignedPosts } from './signed-posts.js';

/** What the notifier needs besides its settings. */
export interface NotifierDeps {
  /** Changes a build record (the build runner's `amend`). */
  amend: (id: string, change: (record: BuildRecord) => BuildRecord) => Promise<BuildRecord | undefined>;
  log: Logger;
  /** Wait after the first failed attempt (doubling after each further one). */
  backoffMs?: number;
  /** Longest one attempt may take. */
  timeoutMs?: number;
  /** Replacements for tests. */
  fetch?: typeof fetch;
  now?: () => Date;
  newId?: () => string;
}

/** Delivers build status notifications in the background; see the module comment. */
export class Notifier {
  private readonly posts: SignedPosts<NotifyStatus>;

  constructor(
    private readonly settings: NotifyConfig,
    private readonly deps: NotifierDeps,
  ) {
    this.posts = new SignedPosts({
      label: 'notification',
      record: async (id, delivery) => void (await deps.amend(id, (record) => withDelivery(record, delivery))),
      attempts: settings.attempts,
      log: deps.log,
      backoffMs: deps.backoffMs,
      timeoutMs: deps.timeoutMs,
      fetch: deps.fetch,
      now: deps.now,
    });
  }

  /** Hears that a build entered `record.status` (the runner's `onStatus`); queues its notification if that status is notified. Never throws, never waits. */
  notify(record: BuildRecord): void {
    if (!shouldNotify(record.status)) return;
    const request = notificationRequest(record, this.settings.secret, (this.deps.newId ?? randomUUID)());
    this.posts.send(record.id, record.status, async () => ({ url: this.settings.url, request }));
  }

  /** Stops retrying: no new notifications, no more waits; resolves when the requests in flight and the record writes are done. */
  close(): Promise<void> {
    return this.posts.close();
  }
}
