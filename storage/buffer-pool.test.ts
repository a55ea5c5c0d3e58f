import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';

describe('BufferPool', () => {
  it('hands out power-of-two buffers of at least the size asked, from the smallest size up', () => {
    const pool = new BufferPool(1 << 20, 4096);
    expect(pool.take(1).length).toBe(4096);
    expect(pool.take(4096).length).toBe(4096);
    expect(pool.take(4097).length).toBe(8192);
    expect(pool.take(200_000).length).toBe(262_144);
  });

  it('gives a freed buffer to the next taker of its size', () => {
    const pool = new BufferPool(1 << 20);
    const first = pool.take(10_000);
    pool.give(first);
    expect(pool.retainedBytes()).toBe(16_384);
    expect(pool.take(9_000)).toBe(first);
    expect(pool.retainedBytes()).toBe(0);
    expect(pool.take(9_000)).not.toBe(first);
  });

  it('keeps no more free bytes than its bound', () => {
    const pool = new BufferPool(3 * 4096);
    const buffers = [1, 2, 3, 4].map(() => pool.take(4096));
    for (const buffer of buffers) pool.give(buffer);
    expect(pool.retainedBytes()).toBe(3 * 4096);
  });
});
