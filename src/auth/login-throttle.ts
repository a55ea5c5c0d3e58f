/**
 * Failed logins slow down the next ones: after {@link FREE_FAILURES} failures in a row, a user
 * name and a client address each wait 1 s, then 2 s, 4 s … up to {@link MAX_WAIT_MS} before their
 * password is checked again (answered `429` with `Retry-After` meanwhile, without a bcrypt check:
 * guessing stays slow, and a flood of wrong passwords cannot keep the CPU busy hashing). A
 * success clears both. Pure bookkeeping: the caller says when, what happened, and logs.
 */
import { LRUCache } from 'lru-cache';

/** Failures in a row that cost nothing. */
export const FREE_FAILURES = 5;
/** The first wait after the free failures. */
export const BASE_WAIT_MS = 1000;
/** The longest wait. */
export const MAX_WAIT_MS = 5 * 60 * 1000;
/** A key whose last failure is older than this starts again from nothing. */
const FORGET_MS = 15 * 60 * 1000;

interface Failures {
  count: number;
  last: number;
  blockedUntil: number;
}

export class LoginThrottle {
  // Bounded: a spray of user names or addresses cannot grow it without end.
  private readonly failures = new LRUCache<string, Failures>({ max: 10_000 });

  private keys(user: string, client: string): string[] {
    return [`user:${user}`, `client:${client}`];
  }

  private entry(key: string, now: number): Failures | undefined {
    const entry = this.failures.get(key);
    if (entry && now - entry.last > FORGET_MS) {
      this.failures.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Milliseconds `user` from `client` must wait before a password is checked; 0 when it may be. */
  waitMs(user: string, client: string, now: number): number {
    return Math.max(0, ...this.keys(user, client).map((key) => (this.entry(key, now)?.blockedUntil ?? 0) - now));
  }

  /** Counts a failure; true when it starts a burst (the first failure after a success or a pause): log it then, once. */
  failed(user: string, client: string, now: number): boolean {
    let starts = false;
    for (const key of this.keys(user, client)) {
      const entry = this.entry(key, now) ?? { count: 0, last: now, blockedUntil: 0 };
      if (entry.count === 0 && key.startsWith('user:')) starts = true;
      entry.count += 1;
      entry.last = now;
      const over = entry.count - FREE_FAILURES + 1;
      entry.blockedUntil = over > 0 ? now + Math.min(MAX_WAIT_MS, BASE_WAIT_MS * 2 ** (over - 1)) : 0;
      this.failures.set(key, entry);
    }
    return starts;
  }

  /** A correct password: the user and the client start again from nothing. */
  succeeded(user: string, client: string): void {
    for (const key of this.keys(user, client)) this.failures.delete(key);
  }
}
