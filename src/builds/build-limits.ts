/**
 * Per-client limits on builds, so that no client can keep the machine busy with random
 * package combinations.
 *
 * Inputs: the client (the authenticated user, else the remote address), the most builds a
 * client may have running at once, and builds a client may start per minute.
 *
 * Algorithm: a token bucket per client holding up to `perMinute` tokens, refilled at
 * `perMinute / 60` tokens per second; starting a build takes one token. Running builds are
 * counted per client and released when they finish. A start is refused when the client
 * already runs `maxConcurrent` builds (checked first, so a refused start costs no token) or
 * its bucket has less than one token.
 *
 *     perMinute = 2, maxConcurrent = 1
 *     t=0s   start A → ok (tokens 2 → 1, running 1)
 *     t=1s   start B → busy (running 1 = max)
 *     t=2s   A ends  (running 0)
 *     t=2s   start C → ok (tokens 1 + 2 s × 1/30 ≈ 1.07 → 0.07)
 *     t=3s   C ends; start D → rate-limited (tokens 0.10), retry after 27 s (0.90 to refill at 1/30 per s)
 *
 * Thresholds: `0` turns a limit off; {@link MAX_TRACKED_CLIENTS} buckets are kept (the least
 * recently used is forgotten, which only gives that client a full bucket again).
 */
import { LRUCache } from 'lru-cache';

/** Most clients whose buckets are remembered. */
export const MAX_TRACKED_CLIENTS = 100_000;
/** `Retry-After` of a refusal for too many running builds (how long a build takes is unknown). */
export const BUSY_RETRY_AFTER_SECONDS = 10;

/** The limits; `0` means no limit. */
export interface BuildLimits {
  /** Most builds one client may have running at once. */
  maxConcurrent: number;
  /** Builds one client may start per minute (burst up to this many). */
  perMinute: number;
}

/** What `start` decided. */
export type StartOutcome =
  | { kind: 'started'; release: () => void }
  | { kind: 'busy'; running: number; retryAfterSeconds: number }
  | { kind: 'rate-limited'; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Counts builds per client against {@link BuildLimits}; the clock is injected. */
export class BuildLimiter {
  private readonly buckets = new LRUCache<string, Bucket>({ max: MAX_TRACKED_CLIENTS });
  private readonly running = new Map<string, number>();

  constructor(
    readonly limits: BuildLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when some limit is on. */
  get enabled(): boolean {
    return this.limits.maxConcurrent > 0 || this.limits.perMinute > 0;
  }

  /** Builds `client` has running now. */
  runningFor(client: string): number {
    return this.running.get(client) ?? 0;
  }

  /**
   * Starts a build for `client` unless a limit refuses it. `chargeRate: false` starts one
   * without taking a token (a request already charged, building another architecture).
   * Call `release` exactly once when the build ends.
   */
  start(client: string, options: { chargeRate: boolean } = { chargeRate: true }): StartOutcome {
    const running = this.runningFor(client);
    const { maxConcurrent, perMinute } = this.limits;
    if (maxConcurrent > 0 && running >= maxConcurrent) return { kind: 'busy', running, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
    if (perMinute > 0 && options.chargeRate) {
      const now = this.now();
      const perMs = perMinute / 60_000;
      const bucket = this.buckets.get(client) ?? { tokens: perMinute, updatedAt: now };
      const tokens = Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.updatedAt) * perMs);
      if (tokens < 1) {
        this.buckets.set(client, { tokens, updatedAt: now });
        return { kind: 'rate-limited', retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
      }
      this.buckets.set(client, { tokens: tokens - 1, updatedAt: now });
    }
    this.running.set(client, running + 1);
    let released = false;
    return {
      kind: 'started',
      release: () => {
        if (released) return;
        released = true;
        const left = this.runningFor(client) - 1;
        if (left > 0) this.running.set(client, left);
        else this.running.delete(client);
      },
    };
  }
}
