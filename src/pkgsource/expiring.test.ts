import { describe, expect, it } from 'vitest';
import { Expiring } from './expiring.js';

/** A clock the test moves by hand. */
function manualClock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('Expiring', () => {
  it('reads once, trusts the value for the TTL, then reads again', async () => {
    const clock = manualClock();
    let reads = 0;
    const value = new Expiring(async () => `v${++reads}`, 1000, clock.now);
    expect(await value.get()).toBe('v1');
    clock.advance(999);
    expect(await value.get()).toBe('v1');
    clock.advance(1);
    expect(await value.get()).toBe('v2');
    expect(reads).toBe(2);
  });

  it('counts the TTL from when the read started, not when it finished', async () => {
    const clock = manualClock();
    let reads = 0;
    const value = new Expiring(
      async () => {
        reads++;
        clock.advance(600); // a slow read
        return reads;
      },
      1000,
      clock.now,
    );
    expect(await value.get()).toBe(1);
    clock.advance(400); // 1000 ms after the first read started
    expect(await value.get()).toBe(2);
  });

  it('TTL 0 reads on every call that does not join a read in progress', async () => {
    let reads = 0;
    const value = new Expiring(async () => ++reads, 0);
    expect(await value.get()).toBe(1);
    expect(await value.get()).toBe(2);
    expect(await Promise.all([value.get(), value.get(), value.get()])).toEqual([3, 3, 3]);
  });

  it('concurrent callers share one read', async () => {
    let reads = 0;
    let release: (v: string) => void = () => {};
    const value = new Expiring(() => {
      reads++;
      return new Promise<string>((resolve) => (release = resolve));
    }, 1000);
    const all = Promise.all([value.get(), value.get(), value.get()]);
    release('x');
    expect(await all).toEqual(['x', 'x', 'x']);
    expect(reads).toBe(1);
  });

  it('a failed read is not kept and does not serve the old value', async () => {
    const clock = manualClock();
    let fail = false;
    let reads = 0;
    const value = new Expiring(
      async () => {
        reads++;
        if (fail) throw new Error('down');
        return reads;
      },
      1000,
      clock.now,
    );
    expect(await value.get()).toBe(1);
    clock.advance(1000);
    fail = true;
    await expect(value.get()).rejects.toThrow('down');
    await expect(value.get()).rejects.toThrow('down');
    fail = false;
    expect(await value.get()).toBe(4);
  });

  it('a read that throws at once is not kept either', async () => {
    let calls = 0;
    const value = new Expiring<number>(() => {
      calls++;
      if (calls === 1) throw new Error('sync');
      return Promise.resolve(calls);
    }, 1000);
    await expect(value.get()).rejects.toThrow('sync');
    expect(await value.get()).toBe(2);
  });

  it('the TTL can depend on the value; invalidate forgets it', async () => {
    const clock = manualClock();
    let reads = 0;
    const value = new Expiring(async () => ++reads, (n) => (n === 1 ? 10 : 1000), clock.now);
    expect(await value.get()).toBe(1);
    clock.advance(10);
    expect(await value.get()).toBe(2);
    clock.advance(500);
    expect(await value.get()).toBe(2);
    value.invalidate();
    expect(await value.get()).toBe(3);
  });
});
