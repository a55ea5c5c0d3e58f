/**
 * The queue counts (stats, /readyz, metrics) read a queue that may not be declared yet, while an
 * instance is still connecting: the broker then closes the channel with 404, which must come back
 * as unknown counts, not as an 'error' event that ends the process (seen in CI: a replica died
 * on its first stats request).
 */
import { connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { RabbitJobQueue } from '../../src/queue/rabbitmq.js';
import { startRabbitMq, type RabbitBroker } from '../helpers/rabbitmq.js';

describe('queue counts of a queue that is not there', () => {
  let broker: RabbitBroker;
  beforeAll(async () => {
    broker = await startRabbitMq();
  }, 120_000);
  afterAll(async () => broker?.stop());

  it('answer unknown counts and keep the process and the connection alive', async () => {
    const queueName = `counts-${randomUUID().slice(0, 8)}`;
    const queue = await RabbitJobQueue.open({ url: broker.url, queue: queueName, prefetch: 1, retryDelaysMs: [1000], log: silentLogger });
    try {
      await vi.waitFor(async () => expect((await queue.counts()).connected).toBe(true), { timeout: 20_000, interval: 100 });
      // Another client deletes the queue: the next check gets 404 from the broker.
      const other = await connect(broker.url);
      const channel = await other.createChannel();
      await channel.deleteQueue(queueName);
      await other.close();
      const counts = await queue.counts();
      expect(counts).toMatchObject({ waiting: null, consumers: null });
      // Still connected: its own channel was not the one the broker closed.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await queue.counts()).waiting).toBeNull();
    } finally {
      await queue.close();
    }
  });
});
