/** Bounded and shared asynchronous work: at most N calls in flight, at most one task per key, counted slots. */

/** Maps over items with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Runs at most one task per key at a time; concurrent callers of a key share its promise. */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  /** Returns the running task for `key`, or starts `task` and shares it until it settles. */
  run(key: string, task: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const started = task().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  /** Number of tasks running now. */
  get size(): number {
    return this.inFlight.size;
  }
}

/**
 * Work started in the background (no caller waits for it), owned until it settles, so that
 * whoever stops the owner can wait for all of it. Each task handles its own errors.
 */
export class BackgroundTasks {
  private readonly pending = new Set<Promise<unknown>>();

  /** Owns `task` until it settles. */
  add(task: Promise<unknown>): void {
    this.pending.add(task);
    const forget = () => this.pending.delete(task);
    task.then(forget, forget);
  }

  /** Tasks not settled yet. */
  get size(): number {
    return this.pending.size;
  }

  /** Resolves once every task, those added meanwhile too, has settled. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled(this.pending);
  }
}

/**
 * A counting semaphore: at most `size` holders at once, the others wait in arrival order; a waiter
 * can be cancelled, which takes it out of the line.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a semaphore's size must be a positive integer, not ${size}`);
  }

  /** Holders now. */
  get running(): number {
    return this.active;
  }

  /** Waiting for a slot. */
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
