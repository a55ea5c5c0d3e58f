import { describe, expect, it } from 'vitest';
import { BASE_WAIT_MS, FREE_FAILURES, LoginThrottle, MAX_WAIT_MS } from './login-throttle.js';

describe('LoginThrottle', () => {
  it('lets the first failures through, then doubles the wait of the user and of the client, up to the longest', () => {
    const throttle = new LoginThrottle();
    let now = 1_000_000;
    for (let i = 0; i < FREE_FAILURES; i++) {
      expect(throttle.waitMs('alice', '10.0.0.1', now)).toBe(0);
      throttle.failed('alice', '10.0.0.1', now);
    }
    expect(throttle.waitMs('alice', '10.0.0.1', now)).toBe(BASE_WAIT_MS);
    // The same user from another address waits too, and so does another user from this address.
    expect(throttle.waitMs('alice', '10.0.0.2', now)).toBe(BASE_WAIT_MS);
    expect(throttle.waitMs('bob', '10.0.0.1', now)).toBe(BASE_WAIT_MS);
    now += BASE_WAIT_MS;
    throttle.failed('alice', '10.0.0.1', now);
    expect(throttle.waitMs('alice', '10.0.0.1', now)).toBe(2 * BASE_WAIT_MS);
    for (let i = 0; i < 30; i++) throttle.failed('alice', '10.0.0.1', now);
    expect(throttle.waitMs('alice', '10.0.0.1', now)).toBe(MAX_WAIT_MS);
  });

  it('says when a burst starts (for one log line), and a success clears the user and the client', () => {
    const throttle = new LoginThrottle();
    expect(throttle.failed('alice', 'c', 0)).toBe(true);
    expect(throttle.failed('alice', 'c', 1)).toBe(false);
    throttle.succeeded('alice', 'c');
    expect(throttle.waitMs('alice', 'c', 2)).toBe(0);
    expect(throttle.failed('alice', 'c', 3)).toBe(true);
  });

  it('forgets failures after a quiet quarter of an hour', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < FREE_FAILURES + 3; i++) throttle.failed('alice', 'c', 0);
    expect(throttle.waitMs('alice', 'c', 0)).toBeGreaterThan(0);
    expect(throttle.waitMs('alice', 'c', 16 * 60 * 1000)).toBe(0);
  });
});
