import { describe, expect, it } from 'vitest';
import { Semaphore } from './concurrency.js';

describe('Semaphore', () => {
  it('runs at most size builds and lets the others in in arrival order', async () => {
    const slots = new Semaphore(1);
    const first = await slots.acquire();
    const order: string[] = [];
    const second = slots.acquire().then((release) => (order.push('second'), release));
    const third = slots.acquire().then((release) => (order.push('third'), release));
    expect([slots.running, slots.queued]).toEqual([1, 2]);
    first();
    first(); // a second release of the same slot changes nothing
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect([slots.running, slots.queued]).toEqual([0, 0]);
  });

  it('takes a cancelled waiter out of the line', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    expect(slots.queued).toBe(0);
    release();
    expect(slots.running).toBe(0);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new Semaphore(0)).toThrow('positive integer');
  });
});
