import { describe, expect, it } from 'vitest';
import { BUSY_RETRY_AFTER_SECONDS, BuildLimiter } from './build-limits.js';

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (seconds: number) => (now += seconds * 1000) };
}

describe('build limits', () => {
  it('the example of the doc comment', () => {
    const time = clock();
    const limiter = new BuildLimiter({ maxConcurrent: 1, perMinute: 2 }, time.now);
    const a = limiter.start('ip');
    expect(a.kind).toBe('started');
    time.advance(1);
    expect(limiter.start('ip')).toEqual({ kind: 'busy', running: 1, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS });
    time.advance(1);
    if (a.kind === 'started') a.release();
    const c = limiter.start('ip');
    expect(c.kind).toBe('started');
    time.advance(1);
    if (c.kind === 'started') c.release();
    expect(limiter.start('ip')).toEqual({ kind: 'rate-limited', retryAfterSeconds: 27 });
  });

  it('refills at perMinute / 60 per second, up to perMinute', () => {
    const time = clock();
    const limiter = new BuildLimiter({ maxConcurrent: 0, perMinute: 3 }, time.now);
    for (let i = 0; i < 3; i += 1) limiter.start('a');
    expect(limiter.start('a')).toEqual({ kind: 'rate-limited', retryAfterSeconds: 20 });
    time.advance(20);
    expect(limiter.start('a').kind).toBe('started');
    time.advance(3600);
    for (let i = 0; i < 3; i += 1) expect(limiter.start('a').kind).toBe('started');
    expect(limiter.start('a').kind).toBe('rate-limited');
  });

  it('counts clients apart; a refused start costs no token; release is idempotent', () => {
    const time = clock();
    const limiter = new BuildLimiter({ maxConcurrent: 2, perMinute: 2 }, time.now);
    const first = limiter.start('a');
    const second = limiter.start('a');
    expect(limiter.start('a').kind).toBe('busy');
    expect(limiter.start('b').kind).toBe('started');
    if (first.kind === 'started') {
      first.release();
      first.release();
    }
    expect(limiter.runningFor('a')).toBe(1);
    if (second.kind === 'started') second.release();
    expect(limiter.runningFor('a')).toBe(0);
    expect(limiter.start('a').kind).toBe('rate-limited');
  });

  it('no limits: everything starts; chargeRate false takes no token', () => {
    const unlimited = new BuildLimiter({ maxConcurrent: 0, perMinute: 0 });
    expect(unlimited.enabled).toBe(false);
    for (let i = 0; i < 100; i += 1) expect(unlimited.start('a').kind).toBe('started');
    const time = clock();
    const limiter = new BuildLimiter({ maxConcurrent: 0, perMinute: 1 }, time.now);
    expect(limiter.start('a').kind).toBe('started');
    expect(limiter.start('a', { chargeRate: false }).kind).toBe('started');
    expect(limiter.start('a').kind).toBe('rate-limited');
  });
});
