/**
 * Buffers handed out again after use. Blob downloads copy through buffers of up to a few hundred
 * KiB; allocated per download, thousands of them are garbage outside the V8 heap, which the
 * collector frees late (it counts only the small Buffer objects), so memory under many
 * concurrent pulls grew by ~100 MB of dead buffers. Buffers come in power-of-two sizes so that
 * a freed one fits the next blob of about the same size.
 */

/** A pool of reusable buffers holding at most `maxRetainedBytes` of free ones. */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private retained = 0;

  constructor(
    private readonly maxRetainedBytes: number,
    private readonly minSize = 4096,
  ) {}

  /** A buffer of at least `size` bytes (its contents are whatever was there). */
  take(size: number): Buffer {
    const sizeClass = this.sizeClass(size);
    const reused = this.free.get(sizeClass)?.pop();
    if (reused) {
      this.retained -= sizeClass;
      return reused;
    }
    return Buffer.allocUnsafeSlow(sizeClass);
  }

  /** Gives back a buffer from {@link take}; the caller must not touch it any more. */
  give(buffer: Buffer): void {
    if (this.retained + buffer.length > this.maxRetainedBytes) return;
    const list = this.free.get(buffer.length) ?? [];
    list.push(buffer);
    this.free.set(buffer.length, list);
    this.retained += buffer.length;
  }

  /** Bytes held in free buffers. */
  retainedBytes(): number {
    return this.retained;
  }

  private sizeClass(size: number): number {
    let sizeClass = this.minSize;
    while (sizeClass < size) sizeClass *= 2;
    return sizeClass;
  }
}
