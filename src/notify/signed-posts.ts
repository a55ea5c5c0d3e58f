/**
 * Signed POSTs about builds, sent in the background (notifications to `NIXYARD_NOTIFY_URL`,
 * callbacks of single builds): each is attempted until delivered or given up (see `policy.ts`),
 * every attempt written into the build's record through `record`, so the API shows how delivery
 * went. The POSTs of one build go out in order; one build's never hold up another's or the build.
 * Everything started here is owned: failures are logged, never thrown, and {@link SignedPosts.close}
 * stops the waits between attempts (the record says no more attempts were made) and resolves once
 * the requests in flight and the record writes are done. Deliveries do not survive a restart.
 */
import { BACKOFF_BASE_MS } from '../backoff.js';
import { BackgroundTasks } from '../concurrency.js';
import type { Delivery } from '../builds/record.js';
import type { Logger } from '../log.js';
import { attempted, pendingDelivery } from './deliveries.js';
import type { NotificationRequest } from './message.js';
import { nextStep, outcomeOfFetchError, REQUEST_TIMEOUT_MS, stoppedResult, type AttemptOutcome } from './policy.js';
import { notificationDeliveries } from '../metrics/metrics.js';

/** One POST to make: where, and the request (the same bytes for every attempt). */
export interface SignedPost {
  url: string;
  request: NotificationRequest;
}

/** What the sender needs. */
export interface SignedPostsDeps<S extends string> {
  /** What the POSTs are, in log lines (`notification`, `callback`). */
  label: string;
  /** Writes a delivery's state into the build's record; its failures are logged by the caller of this module. */
  record: (id: string, delivery: Delivery<S>) => Promise<void>;
  /** Most attempts per POST. */
  attempts: number;
  log: Logger;
  /** Wait after the first failed attempt (doubling after each further one); {@link BACKOFF_BASE_MS} by default. */
  backoffMs?: number;
  /** Longest one attempt may take; {@link REQUEST_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /** The fetch to send with (callbacks: one that refuses private addresses). */
  fetch?: typeof fetch;
  now?: () => Date;
}

/** Sends signed POSTs about builds in the background; see the module comment. */
export class SignedPosts<S extends string> {
  private closed = false;
  /** Every delivery not finished yet. */
  private readonly deliveries = new BackgroundTasks();
  /** The last delivery queued per build: the next one of that build starts after it. */
  private readonly lastDelivery = new Map<string, Promise<void>>();
  /** Record changes not written yet. */
  private readonly changes = new BackgroundTasks();
  /** Wakes the waits between attempts (on close). */
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly deps: SignedPostsDeps<S>) {}

  /**
   * Queues the POST about build `id`'s `status`, after that build's earlier ones; `prepare` makes
   * it when its turn comes (when it throws, nothing is sent and the record says why). Never
   * throws, never waits.
   */
  send(id: string, status: S, prepare: () => Promise<SignedPost>): void {
    if (this.closed) return;
    this.changes.add(this.change(id, pendingDelivery(status)));
    const delivery: Promise<void> = (this.lastDelivery.get(id) ?? Promise.resolve())
      .then(async () => {
        let post: SignedPost;
        try {
          post = await prepare();
        } catch (error) {
          await this.change(id, { ...pendingDelivery(status), lastResult: `not sent: ${(error as Error).message}` });
          throw error;
        }
        await this.deliver(id, status, post);
      })
      .catch((error: unknown) => this.deps.log.warn(`build ${this.deps.label} failed`, { id, status, error: String(error) }))
      .finally(() => this.lastDelivery.get(id) === delivery && this.lastDelivery.delete(id));
    this.lastDelivery.set(id, delivery);
    this.deliveries.add(delivery);
  }

  /** Whether nothing more is sent. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops retrying: nothing new, no more waits; resolves when the requests in flight and the record writes are done. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.sleepers) wake();
    await this.deliveries.settled();
    await this.changes.settled();
  }

  /** Makes the attempts of one POST and records each; resolves when it is delivered or given up. */
  private async deliver(id: string, status: S, post: SignedPost): Promise<void> {
    let last: AttemptOutcome | undefined;
    let delivery: Delivery<S> = pendingDelivery(status);
    for (let attempt = 1; ; attempt++) {
      if (this.closed) {
        await this.change(id, { ...delivery, lastResult: stoppedResult(last) });
        return;
      }
      const at = this.deps.now?.() ?? new Date();
      last = await this.attempt(post);
      const step = nextStep(last, attempt, this.deps.attempts, this.deps.backoffMs ?? BACKOFF_BASE_MS);
      delivery = attempted(status, attempt, step.kind === 'delivered', at, step.lastResult);
      notificationDeliveries.inc({ kind: this.deps.label, result: step.kind === 'delivered' ? 'delivered' : step.kind === 'retry' ? 'retried' : 'failed' });
      await this.change(id, delivery);
      if (step.kind === 'give-up') this.deps.log.warn(`build ${this.deps.label} not delivered`, { id, event: post.request.event, delivery: post.request.deliveryId, attempts: attempt, result: step.lastResult });
      if (step.kind !== 'retry') return;
      await this.sleep(step.afterMs);
    }
  }

  /** One POST; its outcome, never an exception. */
  private async attempt(post: SignedPost): Promise<AttemptOutcome> {
    const timeoutMs = this.deps.timeoutMs ?? REQUEST_TIMEOUT_MS;
    try {
      const response = await (this.deps.fetch ?? fetch)(post.url, {
        method: 'POST',
        headers: post.request.headers,
        body: post.request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      // Only the status counts; the connection is freed without reading the body.
      await response.body?.cancel().catch(() => undefined);
      return { kind: 'response', status: response.status, statusText: response.statusText };
    } catch (error) {
      return outcomeOfFetchError(error, timeoutMs);
    }
  }

  /** Writes `delivery` into the build's record; failures are logged, never thrown. */
  private change(id: string, delivery: Delivery<S>): Promise<void> {
    return this.deps.record(id, delivery).catch((error: unknown) => this.deps.log.warn(`could not record a ${this.deps.label} delivery`, { id, status: delivery.status, error: String(error) }));
  }

  /** Waits `ms`, or less when closing. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.sleepers.add(wake);
    });
  }
}
