/**
 * The build queue on RabbitMQ (`NIXYARD_AMQP_URL`), through amqplib with its connection
 * recovery. Queues, all durable, messages persistent:
 *
 *   <queue>                 jobs for any replica; a message rejected without requeue goes to
 *                           <queue>.dead (the queue's dead-letter exchange is the default one)
 *   <queue>.retry.<ms>ms    a job waiting out a retry delay: no consumer, the queue's message
 *                           TTL is the delay, and expired messages are dead-lettered back to
 *                           <queue>; one queue per delay, so a short wait never queues behind a
 *                           long one; each expires an hour after its last use
 *   <queue>.dead            jobs given up (attempts used up, or not a job at all), for people
 *
 * Each replica consumes <queue> with a prefetch of `NIXYARD_MAX_BUILDS` and acknowledges a
 * job only once its record is final (see `job-consumer.ts`), so RabbitMQ hands the jobs of a
 * replica that dies to the others. Publishing waits for the broker's confirm.
 */
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type RecoveringChannelModel } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueStats } from '../builds/types.js';
import type { Logger } from '../log.js';
import { encodeJob, type BuildJob } from './job.js';

/** A job as a consumer receives it, with what it can answer. */
export interface JobDelivery {
  body: Buffer;
  /** RabbitMQ delivered it before (to a consumer that did not acknowledge it). */
  redelivered: boolean;
  /** Done with: removed from the queue. */
  ack(): void;
  /** Given up: moved to the dead-letter queue. */
  deadLetter(): void;
  /** Not now: back to the queue, for any replica. */
  requeue(): void;
}

/** The queue's depth and consumers as RabbitMQ reports them. */
export type QueueCounts = Omit<QueueStats, 'backend'>;

/** How to reach and use the queue. */
export interface RabbitQueueOptions {
  url: string;
  /** Name of the jobs queue; the others are named after it. */
  queue: string;
  /** Unacknowledged jobs a replica holds at once (its build slots). */
  prefetch: number;
  /** Retry delays in use (milliseconds), for the counts. */
  retryDelaysMs: readonly number[];
  log: Logger;
  /** Hears that the connection or channel was lost: deliveries not yet answered go back to the queue. */
  onLost?: () => void;
}

/** Longest a publish waits for the connection before failing. */
export const PUBLISH_WAIT_MS = 5000;
/** A retry queue is deleted this long after it was last declared (its messages have left by then). */
const RETRY_QUEUE_EXPIRY_MS = 3600_000;

/** The build queue on RabbitMQ. */
export class RabbitJobQueue {
  private model: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private consumerTag: string | undefined;
  private onDelivery: ((delivery: JobDelivery) => void) | undefined;
  private closing = false;
  private lastError = 'not connected yet';

  private connection: RecoveringChannelModel | undefined;

  private constructor(private readonly options: RabbitQueueOptions) {}

  /** Connects in the background (reconnecting for ever with backoff); publishing waits for the connection. */
  static async open(options: RabbitQueueOptions): Promise<RabbitJobQueue> {
    const queue = new RabbitJobQueue(options);
    const connection = await connect(options.url, {
      recovery: {
        waitForConnect: false,
        maxDelay: 10_000,
        setup: async (model: ChannelModel) => queue.setUp(model),
      },
    });
    queue.connection = connection;
    connection.on('connect', () => options.log.info('connected to RabbitMQ', { queue: options.queue }));
    connection.on('connect-failed', (error: Error) => queue.lose(`could not connect: ${error.message}`));
    connection.on('disconnect', (error: Error) => queue.lose(`connection lost: ${error?.message ?? 'closed'}`));
    connection.on('error', (error: Error) => options.log.warn('RabbitMQ connection error', { error: error.message }));
    return queue;
  }

  /** The dead-letter queue's name. */
  get deadQueue(): string {
    return `${this.options.queue}.dead`;
  }

  /** The name of the queue jobs wait `ms` milliseconds in. */
  retryQueue(ms: number): string {
    return `${this.options.queue}.retry.${ms}ms`;
  }

  /** Publishes a job for any replica. */
  async enqueue(job: BuildJob): Promise<void> {
    await this.publish(this.options.queue, job);
  }

  /** Publishes a job that returns to the queue after `afterMs`. */
  async retryLater(job: BuildJob, afterMs: number): Promise<void> {
    const channel = await this.ready();
    await channel.assertQueue(this.retryQueue(afterMs), this.retryQueueArguments(afterMs));
    await this.publish(this.retryQueue(afterMs), job);
  }

  /** Starts taking jobs: each goes to `onDelivery`, which must answer it. */
  async consume(onDelivery: (delivery: JobDelivery) => void): Promise<void> {
    this.onDelivery = onDelivery;
    if (this.channel) await this.startConsuming(this.channel);
  }

  /** Stops taking new jobs (those delivered still have to be answered). */
  async stopConsuming(): Promise<void> {
    this.onDelivery = undefined;
    const { channel, consumerTag } = this;
    this.consumerTag = undefined;
    if (channel && consumerTag) await channel.cancel(consumerTag).catch(() => undefined);
  }

  /** The counts of the queues, from RabbitMQ. */
  async counts(): Promise<QueueCounts> {
    const unknown: QueueCounts = { connected: false, waiting: null, consumers: null, retrying: null, dead: null };
    if (!this.model) return unknown;
    // A channel of its own: a failed declaration closes the channel it was made on.
    let channel: Channel | undefined;
    try {
      channel = await this.model.createChannel();
      // A queue not declared yet (this instance is still connecting) makes the broker close the
      // channel with an error; the rejected check reports it, and an unheard 'error' event would
      // reach the connection and end the process.
      channel.on('error', () => undefined);
      const jobs = await channel.checkQueue(this.options.queue);
      const dead = await channel.checkQueue(this.deadQueue);
      let retrying = 0;
      for (const ms of new Set(this.options.retryDelaysMs)) retrying += (await channel.assertQueue(this.retryQueue(ms), this.retryQueueArguments(ms))).messageCount;
      return { connected: true, waiting: jobs.messageCount, consumers: jobs.consumerCount, retrying, dead: dead.messageCount };
    } catch (error) {
      this.options.log.warn('could not read the queue counts from RabbitMQ', { error: (error as Error).message });
      return { ...unknown, connected: this.channel !== undefined };
    } finally {
      await channel?.close().catch(() => undefined);
    }
  }

  /** Closes the connection; jobs delivered and not answered go back to the queue. */
  async close(): Promise<void> {
    this.closing = true;
    await this.connection?.close().catch(() => undefined);
  }

  /** Declares the queues and opens the channel, after every (re)connection. */
  private async setUp(model: ChannelModel): Promise<void> {
    this.model = model;
    model.once('close', () => this.model === model && (this.model = undefined));
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => this.options.log.warn('RabbitMQ channel error', { error: error.message }));
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.consumerTag = undefined;
      this.lose('channel closed');
      // The broker closed the channel but not the connection (e.g. a consumer timeout): open
      // another, unless the connection is going too (its close event comes a little later).
      setTimeout(() => {
        if (!this.closing && this.model === model && !this.channel) this.setUp(model).catch((error: unknown) => this.lose(`could not reopen the channel: ${(error as Error).message}`));
      }, 200).unref();
    });
    await channel.assertQueue(this.deadQueue, { durable: true });
    await channel.assertQueue(this.options.queue, { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': this.deadQueue } });
    await channel.prefetch(this.options.prefetch);
    this.channel = channel;
    this.lastError = '';
    if (this.onDelivery) await this.startConsuming(channel);
  }

  private retryQueueArguments(ms: number) {
    return { durable: true, arguments: { 'x-message-ttl': ms, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': this.options.queue, 'x-expires': ms + RETRY_QUEUE_EXPIRY_MS } };
  }

  private async startConsuming(channel: ConfirmChannel): Promise<void> {
    if (this.consumerTag) return;
    const { consumerTag } = await channel.consume(this.options.queue, (message) => message && this.deliver(channel, message));
    this.consumerTag = consumerTag;
  }

  private deliver(channel: Channel, message: ConsumeMessage): void {
    // Answers on a channel that has closed are void: RabbitMQ has already requeued the job.
    const answer = (what: () => void) => {
      try {
        what();
      } catch (error) {
        this.options.log.warn('could not answer a job on a closed channel (RabbitMQ requeued it)', { error: (error as Error).message });
      }
    };
    const onDelivery = this.onDelivery;
    if (!onDelivery) return answer(() => channel.nack(message, false, true));
    onDelivery({
      body: message.content,
      redelivered: message.fields.redelivered,
      ack: () => answer(() => channel.ack(message)),
      deadLetter: () => answer(() => channel.nack(message, false, false)),
      requeue: () => answer(() => channel.nack(message, false, true)),
    });
  }

  private lose(why: string): void {
    if (why !== this.lastError && !this.closing) this.options.log.warn('RabbitMQ unavailable', { why });
    this.lastError = why;
    this.channel = undefined;
    this.consumerTag = undefined;
    if (!this.closing) this.options.onLost?.();
  }

  /** The channel, once connected; fails after {@link PUBLISH_WAIT_MS}. */
  private async ready(): Promise<ConfirmChannel> {
    const deadline = Date.now() + PUBLISH_WAIT_MS;
    while (!this.channel) {
      if (this.closing) throw new Error('the queue is closing');
      if (Date.now() > deadline) throw new Error(`not connected to RabbitMQ (${this.lastError})`);
      await sleep(50);
    }
    return this.channel;
  }

  private async publish(queue: string, job: BuildJob): Promise<void> {
    const channel = await this.ready();
    await new Promise<void>((done, fail) => {
      channel.sendToQueue(queue, encodeJob(job), { persistent: true, contentType: 'application/json', messageId: `${job.id}/${job.attempts}`, type: 'nixyard.build' }, (error: unknown) =>
        error ? fail(error instanceof Error ? error : new Error(`RabbitMQ refused the job ${job.id}`)) : done(),
      );
    });
  }
}
