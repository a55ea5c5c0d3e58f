import { describe, expect, it } from 'vitest';
import { BUILD_STATUSES } from '../builds/record.js';
import { describeOutcome, isRetryable, nextStep, NOTIFY_STATUSES, outcomeOfFetchError, shouldNotify, stoppedResult, type AttemptOutcome } from './policy.js';

const response = (status: number, statusText = ''): AttemptOutcome => ({ kind: 'response', status, statusText });
const refused: AttemptOutcome = { kind: 'network-error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:9' };

describe('which statuses are notified', () => {
  it('notifies building and the final statuses, not the steps every build passes', () => {
    expect(BUILD_STATUSES.filter(shouldNotify)).toEqual(['building', 'succeeded', 'failed', 'cancelled']);
    expect(NOTIFY_STATUSES).toEqual(['building', 'succeeded', 'failed', 'cancelled']);
  });
});

describe('deciding from an outcome', () => {
  it('retries network errors, timeouts, 408, 429 and 5xx; not other 4xx, 3xx', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(isRetryable(response(status))).toBe(true);
    for (const status of [301, 302, 400, 401, 403, 404, 410, 422]) expect(isRetryable(response(status))).toBe(false);
    expect(isRetryable(refused)).toBe(true);
    expect(isRetryable({ kind: 'timeout', afterMs: 10_000 })).toBe(true);
  });

  it('says what happened and what follows (the example of the module comment)', () => {
    expect(nextStep(response(503, 'Service Unavailable'), 2, 6, 1000)).toEqual({ kind: 'retry', afterMs: 2000, lastResult: 'HTTP 503 Service Unavailable (next attempt in 2.0s)' });
    expect(nextStep(response(204, 'No Content'), 3, 6)).toEqual({ kind: 'delivered', lastResult: 'HTTP 204 No Content' });
    expect(nextStep(response(200), 1, 1)).toEqual({ kind: 'delivered', lastResult: 'HTTP 200' });
    expect(nextStep(response(401, 'Unauthorized'), 1, 6)).toEqual({ kind: 'give-up', lastResult: 'HTTP 401 Unauthorized (not retried)' });
    expect(nextStep(response(302, 'Found'), 1, 6)).toEqual({ kind: 'give-up', lastResult: 'HTTP 302 Found, a redirect (not followed) (not retried)' });
    expect(nextStep(refused, 6, 6)).toEqual({ kind: 'give-up', lastResult: 'connect ECONNREFUSED 127.0.0.1:9 (gave up after 6 attempts)' });
    expect(nextStep(refused, 1, 1).lastResult).toBe('connect ECONNREFUSED 127.0.0.1:9 (gave up after 1 attempt)');
    expect(nextStep({ kind: 'timeout', afterMs: 10_000 }, 1, 6, 1000)).toEqual({ kind: 'retry', afterMs: 1000, lastResult: 'timed out after 10s (next attempt in 1.0s)' });
  });

  it('names the system error code when the message does not', () => {
    expect(describeOutcome({ kind: 'network-error', code: 'ECONNRESET', message: 'other side closed' })).toBe('ECONNRESET: other side closed');
    expect(describeOutcome({ kind: 'network-error', code: undefined, message: 'fetch failed' })).toBe('fetch failed');
  });

  it('says when the server stopped before the next attempt', () => {
    expect(stoppedResult(refused)).toBe('connect ECONNREFUSED 127.0.0.1:9 (no more attempts: nixyard stopped)');
    expect(stoppedResult(undefined)).toBe('not sent: nixyard stopped first');
  });
});

describe('outcomes of a fetch that threw', () => {
  it('reads the timeout, the cause of a network error, and the first error of an AggregateError', () => {
    expect(outcomeOfFetchError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 10_000)).toEqual({ kind: 'timeout', afterMs: 10_000 });
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(outcomeOfFetchError(new TypeError('fetch failed', { cause }), 10_000)).toEqual(refused);
    const both = Object.assign(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:9'), { code: 'ECONNREFUSED' })], ''), { code: 'ECONNREFUSED' });
    expect(outcomeOfFetchError(new TypeError('fetch failed', { cause: both }), 10_000)).toEqual({ kind: 'network-error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED ::1:9' });
    expect(outcomeOfFetchError(new TypeError('fetch failed', { cause: new Error('bad port') }), 10_000)).toEqual({ kind: 'network-error', code: undefined, message: 'bad port' });
    expect(outcomeOfFetchError('odd', 10_000)).toEqual({ kind: 'network-error', code: undefined, message: 'odd' });
  });
});
