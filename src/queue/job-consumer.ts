/**
 * What a replica does with the jobs RabbitMQ hands it: reads the job's record, decides (see
 * `job.ts`), runs the build of the job's plan (taking its record over), and answers the message only once the
 * record says how it ended: acknowledged when final, dead-lettered when given up, or published
 * to a retry queue (then acknowledged) when the failure is worth another attempt. A job whose
 * answer cannot be given (storage down, connection lost) is left to RabbitMQ, which hands it to
 * a replica again; the checks of `deliveryAction` make that safe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageBuildPlan } from '../builder/types.js';
import type { BuildRunner, FailureVerdict, RunningBuild, StartOptions } from '../builds/build-runner.js';
import type { BuildRecordStore } from '../builds/record-store.js';
import { isFinal, type BuildRecord } from '../builds/record.js';
import { describeError, toRegistryError, type RegistryError } from '../errors.js';
import { BackgroundTasks } from '../concurrency.js';
import type { Logger } from '../log.js';
import { queueDeadLettered, queueRetries } from '../metrics/metrics.js';
import { formatDuration } from '../units.js';
import { decodeJob, deliveryAction, failureAction, planOf, type BuildJob, type FailureAction } from './job.js';
import type { JobDelivery } from './rabbitmq.js';

/** What the consumer needs. */
export interface JobConsumerDeps {
  runner: BuildRunner<unknown>;
  /** Where the records are (the runner's store). */
  records: BuildRecordStore;
  /** Runs the build of a plan here (the image builds). */
  start(plan: ImageBuildPlan, options: StartOptions): RunningBuild<unknown>;
  /** Publishes a job again after a delay. */
  retryLater(job: BuildJob, afterMs: number): Promise<void>;
  /** `NIXYARD_MAX_ATTEMPTS`. */
  maxAttempts: number;
  /** `NIXYARD_RETRY_DELAY` in milliseconds: the first wait; it doubles after each attempt. */
  retryBaseMs: number;
  log: Logger;
  /** Wait before a job whose record could not be read or written goes back to the queue. */
  storagePauseMs?: number;
}

/** Runs the jobs delivered to this replica. */
export class JobConsumer {
  /** The builds of the jobs this replica runs, by build id: settle when they end. */
  private readonly running = new Map<string, Promise<unknown>>();
  /** Every delivery being handled. */
  private readonly handling = new BackgroundTasks();

  constructor(private readonly deps: JobConsumerDeps) {}

  /** Takes one delivery and handles it in the background (see {@link settled}). */
  receive(delivery: JobDelivery): void {
    this.handling.add(this.handle(delivery));
  }

  /** Handles one delivery; never throws (every outcome answers the message or leaves it to RabbitMQ). */
  async handle(delivery: JobDelivery): Promise<void> {
    let job: BuildJob;
    try {
      job = decodeJob(delivery.body);
    } catch (error) {
      this.deps.log.warn('dead-lettered a message that is not a build job', { error: (error as Error).message });
      queueDeadLettered.inc();
      return delivery.deadLetter();
    }
    try {
      await this.handleJob(job, delivery);
    } catch (error) {
      this.deps.log.warn('could not handle a build job; it goes back to the queue', { id: job.id, code: toRegistryError(error).code, ...describeError(error) });
      await this.pauseThenRequeue(delivery);
    }
  }

  /** Builds of jobs running here. */
  get size(): number {
    return this.running.size;
  }

  /**
   * Gives the jobs running here back to the queue: with `handBack` (this replica is stopping)
   * their records are written `queued` first; without (the connection was lost) nothing more
   * is written. Their builds stop in the background ({@link buildsStopped}).
   */
  abandonAll(why: string, handBack: boolean): void {
    for (const id of this.running.keys()) this.deps.runner.abandon(id, why, handBack);
  }

  /** Resolves once the builds of jobs running here now have ended. */
  async buildsStopped(): Promise<void> {
    await Promise.allSettled(this.running.values());
  }

  /** Resolves once every delivery taken has been handled (answered or left to RabbitMQ). */
  settled(): Promise<void> {
    return this.handling.settled();
  }

  private async handleJob(job: BuildJob, delivery: JobDelivery): Promise<void> {
    const store = this.deps.records;
    const record = await store.load(job.id);
    const cancelRequested = record !== undefined && (await store.cancelRequested(job.id));
    const action = deliveryAction({ job, record, redelivered: delivery.redelivered, cancelRequested, maxAttempts: this.deps.maxAttempts });
    switch (action) {
      case 'drop':
        this.deps.log.warn('dropped a build job whose record is gone', { id: job.id });
        return delivery.ack();
      case 'done':
        if (record?.status === 'cancelled' && cancelRequested) await store.clearCancel(job.id);
        return delivery.ack();
      case 'stale':
        this.deps.log.info('dropped a copy of a build job that a newer copy started', { id: job.id, attempts: job.attempts });
        return delivery.ack();
      case 'cancel':
        await this.deps.runner.end(job.id, { code: 'BUILD_CANCELLED', message: `build ${job.id} was cancelled before a replica ran it` }, 'cancelled');
        await store.clearCancel(job.id);
        return delivery.ack();
      case 'exhausted': {
        const last = record as BuildRecord;
        const message = `gave up after ${last.attempts} attempts: the instances running it stopped without finishing it (the last one, ${last.instance || 'unknown'}, while ${last.status})`;
        await this.deps.runner.end(job.id, { code: 'UNAVAILABLE', message }, 'failed');
        this.deps.log.warn('dead-lettered a build job', { id: job.id, reason: message });
        queueDeadLettered.inc();
        return delivery.deadLetter();
      }
      case 'run':
        return this.run(job, record as BuildRecord, delivery);
    }
  }

  private async run(job: BuildJob, record: BuildRecord, delivery: JobDelivery): Promise<void> {
    const store = this.deps.records;
    const log = (await store.loadLog(job.id)) ?? '';
    let action: FailureAction | undefined;
    const onFailure = (failure: RegistryError, attempts: number): FailureVerdict => {
      action = failureAction(failure.code, attempts, this.deps.maxAttempts, this.deps.retryBaseMs);
      if (action.kind === 'retry') return { requeue: true, note: `attempt ${attempts + 1} of ${this.deps.maxAttempts} in ${formatDuration(action.afterMs)}` };
      if (action.kind === 'dead') return { requeue: false, note: `gave up after ${attempts} attempts` };
      return { requeue: false };
    };
    const build = this.deps.start(planOf(job, record), { adopt: { record, log }, onFailure });
    const ended = build.done.catch(() => undefined);
    this.running.set(job.id, ended);
    try {
      await ended;
    } finally {
      this.running.delete(job.id);
    }
    if (build.handedBack) return; // RabbitMQ gets the job back when the channel closes.
    // Answer only what storage has: a record that did not land is built again by whoever gets the job next.
    const stored = await store.load(job.id);
    if (action?.kind === 'retry' && stored?.status === 'queued') {
      await this.deps.retryLater({ ...job, attempts: stored.attempts }, action.afterMs);
      queueRetries.inc();
      return delivery.ack();
    }
    if (!stored || !isFinal(stored.status)) {
      this.deps.log.warn('the final record of a build job is not in storage; the job goes back to the queue', { id: job.id, status: stored?.status ?? 'missing' });
      return this.pauseThenRequeue(delivery);
    }
    if (action?.kind === 'dead' && stored.status === 'failed') {
      this.deps.log.warn('dead-lettered a build job', { id: job.id, attempts: stored.attempts, code: stored.error?.code });
      queueDeadLettered.inc();
      return delivery.deadLetter();
    }
    return delivery.ack();
  }

  private async pauseThenRequeue(delivery: JobDelivery): Promise<void> {
    await sleep(this.deps.storagePauseMs ?? 5000);
    delivery.requeue();
  }
}
