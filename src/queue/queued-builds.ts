/**
 * API and webhook builds through the RabbitMQ queue (`NIXYARD_AMQP_URL`): the build's record is
 * written `queued`, on no instance, and its job published for any replica to run. When the
 * queue does not take the job, the record is removed again and the caller gets a 503.
 */
import type { ImageBuildPlan, PlannedCallback } from '../builder/types.js';
import type { BuildRunner } from '../builds/build-runner.js';
import type { BuildRecord } from '../builds/record.js';
import { RegistryError } from '../errors.js';
import { jobOf, type BuildJob } from './job.js';

/** Where jobs are published. */
export interface JobPublisher {
  /** Publishes a job; resolves once the queue has it (and rejects when it could not take it). */
  enqueue(job: BuildJob): Promise<void>;
}

/** Submits builds to the queue shared by the replicas. */
export class QueuedBuilds {
  constructor(
    private readonly deps: {
      runner: BuildRunner<unknown>;
      queue: JobPublisher;
      /** Keeps a build's callback where the replica that runs it finds it (before its job is published). */
      remember: (id: string, callback: PlannedCallback) => Promise<void>;
    },
  ) {}

  /** Writes the queued record of a plan (and its callback) and publishes its job; resolves with the record. */
  submit(plan: ImageBuildPlan): Promise<BuildRecord> {
    return this.deps.runner.create(plan.spec, async (record) => {
      if (plan.callback) await this.deps.remember(record.id, plan.callback);
      await this.deps.queue.enqueue(jobOf(plan, record.id)).catch((error: unknown) => {
        throw new RegistryError('UNAVAILABLE', `the build queue (RabbitMQ, NIXYARD_AMQP_URL) did not take the build: ${(error as Error).message}; retry later`, {
          cause: error,
          headers: { 'Retry-After': '10' },
        });
      });
    });
  }
}
