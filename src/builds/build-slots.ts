/**
 * At most `size` builds run at once on this instance (`NIXYARD_MAX_BUILDS`); the others wait
 * in arrival order. A waiting build can be cancelled, which takes it out of the line.
 */

/** A counting semaphore for builds. */
export class BuildSlots {
  private active = 0;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`build slots must be a positive integer, not ${size}`);
  }

  /** Builds running now. */
  get running(): number {
    return this.active;
  }

  /** Builds waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Waits for a slot; resolves with its release (call once), rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.active += 1;
          resolve(this.releaser());
        },
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal?.reason);
      };
      if (this.active < this.size) {
        entry.grant();
        return;
      }
      this.waiting.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      this.waiting.shift()?.grant();
    };
  }
}
