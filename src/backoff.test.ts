import { describe, expect, it } from 'vitest';
import { backoffDelay, backoffSchedule, BACKOFF_BASE_MS, MAX_BACKOFF_MS } from './backoff.js';
import { DEFAULT_NOTIFY_ATTEMPTS } from './config.js';

describe('backoff', () => {
  it('waits 1 s, 2 s, 4 s, 8 s, 16 s between the 6 default attempts', () => {
    expect(backoffSchedule(DEFAULT_NOTIFY_ATTEMPTS)).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(backoffSchedule(DEFAULT_NOTIFY_ATTEMPTS, 10)).toEqual([10, 20, 40, 80, 160]);
    expect(backoffSchedule(1)).toEqual([]);
    expect(backoffDelay(1)).toBe(BACKOFF_BASE_MS);
  });

  it('never waits longer than MAX_BACKOFF_MS', () => {
    expect(backoffDelay(20)).toBe(MAX_BACKOFF_MS);
    expect(Math.max(...backoffSchedule(20))).toBe(MAX_BACKOFF_MS);
  });
});
