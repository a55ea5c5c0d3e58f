/**
 * Retry waits, the one schedule for everything nixyard tries again: notification deliveries and
 * queued builds (pure).
 *
 * Algorithm: after failed attempt n (from 1) wait base · 2^(n−1), at most MAX_BACKOFF_MS.
 *
 *   base 1 s, 6 attempts:   1 ─1 s─▶ 2 ─2 s─▶ 3 ─4 s─▶ 4 ─8 s─▶ 5 ─16 s─▶ 6   (31 s of waiting)
 *   base 10 s, 5 attempts:  1 ─10 s─▶ 2 ─20 s─▶ 3 ─40 s─▶ 4 ─80 s─▶ 5
 *
 * Thresholds: {@link BACKOFF_BASE_MS} (the default base), {@link MAX_BACKOFF_MS}.
 */

/** Wait after the first failed attempt when no base is given; it doubles after each further one. */
export const BACKOFF_BASE_MS = 1000;
/** Longest wait between two attempts. */
export const MAX_BACKOFF_MS = 5 * 60 * 1000;

/** Milliseconds to wait after failed attempt `attempt` (from 1) before the next one. */
export function backoffDelay(attempt: number, baseMs: number = BACKOFF_BASE_MS): number {
  return Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** The waits between `attempts` attempts, in order (one fewer than the attempts). */
export function backoffSchedule(attempts: number, baseMs: number = BACKOFF_BASE_MS): number[] {
  return Array.from({ length: Math.max(0, attempts - 1) }, (_, i) => backoffDelay(i + 1, baseMs));
}
