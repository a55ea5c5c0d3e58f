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
