/**
 * Sends the notifications of build status changes to `NIXYARD_NOTIFY_URL` in the background:
 * the runner tells it every status a build enters ({@link Notifier.notify}, which returns at
 * once); for the statuses that matter it POSTs the signed record (see `message.ts`), retries
 * with backoff (see `policy.ts`), and writes each attempt into the record's `notifications`
 * through the runner's `amend`, so the API shows how delivery went.
 *
 * The notifications of one build go out in order: `build.succeeded` is not sent before
 * `build.building` was delivered or given up. One build's notifications are independent of
 * other builds' and never hold up a build. The notifier owns every promise it starts: failures
 * are logged, never thrown, and {@link Notifier.close} stops the waits between attempts (the
 * remaining attempts are not made; the record says so) and resolves once the requests in
 * flight and the record writes are done. Deliveries do not survive a restart.
 */
import { randomUUID } from 'node:crypto';
import { BACKOFF_BASE_MS } from '../backoff.js';
import { BackgroundTasks } from '../concurrency.js';
import type { BuildRecord, NotificationDelivery } from '../builds/record.js';
import type { NotifyConfig } from '../config.js';
import type { Logger } from '../log.js';
import { attempted, pendingDelivery, withDelivery } from './deliveries.js';
import { notificationRequest, type NotificationRequest } from './message.js';
import { nextStep, outcomeOfFetchError, REQUEST_TIMEOUT_MS, shouldNotify, stoppedResult, type AttemptOutcome, type NotifyStatus } from './policy.js';

/** What the notifier needs besides its settings. */
export interface NotifierDeps {
  /** Changes a build record (the build runner's `amend`). */
  amend: (id: string, change: (record: BuildRecord) => BuildRecord) => Promise<BuildRecord | undefined>;
  log: Logger;
  /** Wait after the first failed attempt (doubling after each further one); {@link BACKOFF_BASE_MS} by default. */
  backoffMs?: number;
  /** Longest one attempt may take; {@link REQUEST_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /** Replacements for tests. */
  fetch?: typeof fetch;
  now?: () => Date;
  newId?: () => string;
}

/** Delivers build status notifications in the background; see the module comment. */
export class Notifier {
  private closed = false;
  /** Every delivery not finished yet. */
  private readonly deliveries = new BackgroundTasks();
  /** The last delivery queued per build: the next one of that build starts after it. */
  private readonly lastDelivery = new Map<string, Promise<void>>();
  /** Record changes not written yet (`amend` keeps each build's changes in order). */
  private readonly changes = new BackgroundTasks();
  /** Wakes the waits between attempts (on close). */
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly settings: NotifyConfig,
    private readonly deps: NotifierDeps,
  ) {}

  /** Hears that a build entered `record.status` (the runner's `onStatus`); queues its notification if that status is notified. Never throws, never waits. */
  notify(record: BuildRecord): void {
    if (this.closed || !shouldNotify(record.status)) return;
    const { id, status } = record;
    const request = notificationRequest(record, this.settings.secret, (this.deps.newId ?? randomUUID)());
    this.changes.add(this.change(id, pendingDelivery(status)));
    const delivery: Promise<void> = (this.lastDelivery.get(id) ?? Promise.resolve())
      .then(() => this.deliver(id, status, request))
      .catch((error: unknown) => this.deps.log.warn('build notification failed', { id, event: request.event, error: String(error) }))
      .finally(() => this.lastDelivery.get(id) === delivery && this.lastDelivery.delete(id));
    this.lastDelivery.set(id, delivery);
    this.deliveries.add(delivery);
  }

  /** Stops retrying: no new notifications, no more waits; resolves when the requests in flight and the record writes are done. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.sleepers) wake();
    await this.deliveries.settled();
    await this.changes.settled();
  }

  /** Makes the attempts of one notification and records each; resolves when it is delivered or given up. */
  private async deliver(id: string, status: NotifyStatus, request: NotificationRequest): Promise<void> {
    let last: AttemptOutcome | undefined;
    let delivery: NotificationDelivery = pendingDelivery(status);
    for (let attempt = 1; ; attempt++) {
      if (this.closed) {
        await this.change(id, { ...delivery, lastResult: stoppedResult(last) });
        return;
      }
      const at = this.now();
      last = await this.attempt(request);
      const step = nextStep(last, attempt, this.settings.attempts, this.deps.backoffMs ?? BACKOFF_BASE_MS);
      delivery = attempted(status, attempt, step.kind === 'delivered', at, step.lastResult);
      await this.change(id, delivery);
      if (step.kind === 'give-up') this.deps.log.warn('build notification not delivered', { id, event: request.event, delivery: request.deliveryId, attempts: attempt, result: step.lastResult });
      if (step.kind !== 'retry') return;
      await this.sleep(step.afterMs);
    }
  }

  /** One POST of the notification; its outcome, never an exception. */
  private async attempt(request: NotificationRequest): Promise<AttemptOutcome> {
    const timeoutMs = this.deps.timeoutMs ?? REQUEST_TIMEOUT_MS;
    try {
      const response = await (this.deps.fetch ?? fetch)(this.settings.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
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

  /** Puts `delivery` into the build's record (after the build's earlier changes: `amend` keeps their order); failures are logged, never thrown. */
  private change(id: string, delivery: NotificationDelivery): Promise<void> {
    return this.deps.amend(id, (record) => withDelivery(record, delivery)).then(
      () => undefined,
      (error: unknown) => this.deps.log.warn('could not record a notification delivery', { id, status: delivery.status, error: String(error) }),
    );
  }

  /** Waits `ms`, or less when the notifier closes. */
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

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}
