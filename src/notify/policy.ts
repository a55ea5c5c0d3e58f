/**
 * Which status changes are notified and how a delivery is retried (pure: data in, data out).
 *
 * Inputs: a build's new status; the outcome of one POST to `NIXYARD_NOTIFY_URL` (a response's
 * status, a network error, or the request timing out); the attempt's number (from 1);
 * `NIXYARD_NOTIFY_ATTEMPTS`; the backoff base.
 *
 * Algorithm:
 *
 *   status  building, succeeded, failed, cancelled           → notified
 *           queued, fetching, planning, evaluating,           → not (every build passes them)
 *           installing, compiling, packing, uploading
 *
 *   outcome 2xx                                              → delivered
 *           408, 429, 5xx, network error, timeout             → retried, while attempts are left
 *           an address the callback guard refuses             → given up at once
 *           anything else: other 4xx (the receiver refuses:  → given up at once
 *           a wrong secret, a wrong URL), 3xx (redirects
 *           are not followed), 1xx
 *
 *   waits   the retry schedule of `src/backoff.ts`: base · 2^(n−1) after attempt n (base 1 s,
 *           6 attempts: 31 s of waiting at most)
 *
 * A delivery's `lastResult` is the outcome for people, with what happens next: `HTTP 204 No
 * Content`, `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9 (next attempt in 2.0s)`, `HTTP 401
 * Unauthorized (not retried)`, `… (gave up after 6 attempts)`.
 *
 * Thresholds: {@link NOTIFY_STATUSES}, {@link REQUEST_TIMEOUT_MS}; the attempts
 * (`NIXYARD_NOTIFY_ATTEMPTS`, 6 by default) and the backoff's base (1 s) and cap (5 min).
 *
 * Example:
 *
 *   nextStep({kind: 'response', status: 503, statusText: 'Service Unavailable'}, 2, 6, 1000)
 *     → {kind: 'retry', afterMs: 2000, lastResult: 'HTTP 503 Service Unavailable (next attempt in 2.0s)'}
 */
import { backoffDelay, BACKOFF_BASE_MS } from '../backoff.js';
import type { BuildStatus } from '../builds/record.js';
import { formatDuration } from '../units.js';

/** The error code of a connection the callback guard refused (see `callback-address.ts`): never retried. */
export const ADDRESS_REFUSED = 'EADDRREFUSED';

/**
 * Statuses that are notified: the build really builds (`building`, which a build of paths
 * already in the Nix store skips) and every way it ends. `cancelled` is among them: whoever
 * waits for `succeeded` or `failed` would otherwise wait forever for a cancelled build.
 */
export const NOTIFY_STATUSES = ['building', 'succeeded', 'failed', 'cancelled'] as const satisfies readonly BuildStatus[];
/** A status that is notified. */
export type NotifyStatus = (typeof NOTIFY_STATUSES)[number];

/** Longest one attempt (connecting, sending, receiving the response) may take. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Whether a build entering `status` is notified. */
export function shouldNotify(status: BuildStatus): status is NotifyStatus {
  return (NOTIFY_STATUSES as readonly BuildStatus[]).includes(status);
}

/** What one attempt got. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; statusText: string }
  | { kind: 'network-error'; code: string | undefined; message: string }
  | { kind: 'timeout'; afterMs: number };

/** What follows an attempt, and what the record says of it. */
export type NextStep = { kind: 'delivered'; lastResult: string } | { kind: 'retry'; afterMs: number; lastResult: string } | { kind: 'give-up'; lastResult: string };

/** Whether the receiver took the notification (any 2xx). */
export function isDelivered(outcome: AttemptOutcome): boolean {
  return outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300;
}

/** Whether another attempt may succeed: the receiver or the way to it had a passing problem. */
export function isRetryable(outcome: AttemptOutcome): boolean {
  // An address the callback guard refused stays refused.
  if (outcome.kind === 'network-error') return outcome.code !== ADDRESS_REFUSED;
  if (outcome.kind !== 'response') return true;
  return outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
}

/** An outcome for people: `HTTP 204 No Content`, `ECONNREFUSED: connect …`, `timed out after 10s`. */
export function describeOutcome(outcome: AttemptOutcome): string {
  switch (outcome.kind) {
    case 'response':
      return `HTTP ${outcome.status}${outcome.statusText ? ` ${outcome.statusText}` : ''}${outcome.status >= 300 && outcome.status < 400 ? ', a redirect (not followed)' : ''}`;
    case 'network-error':
      return outcome.code && !outcome.message.includes(outcome.code) ? `${outcome.code}: ${outcome.message}` : outcome.message;
    case 'timeout':
      return `timed out after ${formatDuration(outcome.afterMs)}`;
  }
}

/** What follows attempt `attempt` (from 1) of at most `maxAttempts`, given its outcome. */
export function nextStep(outcome: AttemptOutcome, attempt: number, maxAttempts: number, baseMs: number = BACKOFF_BASE_MS): NextStep {
  const described = describeOutcome(outcome);
  if (isDelivered(outcome)) return { kind: 'delivered', lastResult: described };
  if (!isRetryable(outcome)) return { kind: 'give-up', lastResult: `${described} (not retried)` };
  if (attempt >= maxAttempts) return { kind: 'give-up', lastResult: `${described} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'})` };
  const afterMs = backoffDelay(attempt, baseMs);
  return { kind: 'retry', afterMs, lastResult: `${described} (next attempt in ${formatDuration(afterMs)})` };
}

/** What a delivery's `lastResult` says when the server stops before its next attempt (`last`: the last outcome, if any). */
export function stoppedResult(last: AttemptOutcome | undefined): string {
  return last ? `${describeOutcome(last)} (no more attempts: nixyard stopped)` : 'not sent: nixyard stopped first';
}

/**
 * The outcome of a `fetch` that threw: `timeout` when its `AbortSignal.timeout` fired, else a
 * network error named by the system's code (`ECONNREFUSED`, `ENOTFOUND`), found on the error's
 * `cause` (or the first of an `AggregateError`'s errors, when every address of a name failed).
 */
export function outcomeOfFetchError(error: unknown, timeoutMs: number): AttemptOutcome {
  const named = (value: unknown) => (typeof value === 'object' && value !== null ? (value as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown }) : {});
  const top = named(error);
  if (top.name === 'TimeoutError') return { kind: 'timeout', afterMs: timeoutMs };
  const cause = named(top.cause);
  const first = Array.isArray(cause.errors) ? named(cause.errors[0]) : {};
  const code = [cause.code, first.code, top.code].find((value): value is string => typeof value === 'string');
  const message = [cause.message, first.message, top.message].find((value): value is string => typeof value === 'string' && value !== '') ?? String(error);
  return { kind: 'network-error', code, message };
}
