/**
 * A value read from outside (a channel's commit, a repository's refs, a directory's hash),
 * trusted for a time-to-live. The TTL counts from the moment the read *started*, so a value is
 * never used longer than the TTL after it was observed, however slow the read was. Callers
 * that find the value expired share one read; a failed read is not kept, so the next caller
 * reads again (nothing stale is served in its place).
 */

/** A monotonic clock in milliseconds. */
export type Clock = () => number;

const monotonic: Clock = () => performance.now();

/** A lazily read value with a time-to-live. */
export class Expiring<T> {
  private current: { value: T; observedAt: number } | undefined;
  private reading: Promise<T> | undefined;

  /**
   * `read` fetches the value; `ttlMs` is how long a value is trusted (0: read on every `get`
   * that does not join a read in progress), or a function of the value for values that deserve
   * a different lifetime.
   */
  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs: number | ((value: T) => number),
    private readonly now: Clock = monotonic,
  ) {}

  /** The value, read again when it is older than its TTL. */
  async get(): Promise<T> {
    const current = this.current;
    if (current !== undefined && this.now() - current.observedAt < this.ttlOf(current.value)) return current.value;
    if (this.reading === undefined) {
      // Cleared in a promise reaction, so always after this assignment (even when `read` throws at once).
      const reading: Promise<T> = this.refresh().finally(() => {
        if (this.reading === reading) this.reading = undefined;
      });
      this.reading = reading;
    }
    return this.reading;
  }

  /** Forgets the value: the next `get` reads again. */
  invalidate(): void {
    this.current = undefined;
  }

  private ttlOf(value: T): number {
    return typeof this.ttlMs === 'number' ? this.ttlMs : this.ttlMs(value);
  }

  private async refresh(): Promise<T> {
    const observedAt = this.now();
    const value = await this.read();
    this.current = { value, observedAt };
    return value;
  }
}
