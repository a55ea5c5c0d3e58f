/**
 * gzip of one stream on several cores: the input is cut into blocks of exactly {@link BLOCK}
 * bytes and each becomes a gzip member of its own (libdeflate in the thread pool,
 * `gzip-member.ts`), the members in input order. RFC 1952 lets a gzip file be members one after
 * another and every reader (Go's, zlib's, pigz, Java's, Python's) reads them as one stream;
 * eStargz layers are made the same way. Members need no shared state, so blocks compress in any
 * order on any thread.
 *
 * The bytes depend only on the input and the level (block boundaries are offsets, not arrival
 * times), so layers stay reproducible.
 */
import { availableParallelism } from 'node:os';
import { Semaphore } from '../concurrency.js';
import { gzipMember, gzipMemberSync } from './gzip-member.js';

/**
 * Blocks compressing at once in the whole process, one more than cores: the thread pool (four threads)
 * is shared with every file operation, which would otherwise wait behind queued compression.
 */
const compressing = new Semaphore(availableParallelism() + 1);
/** Blocks this small are compressed at once on the main thread: quicker than a round trip through the pool. */
const SMALL = 16 * 1024;

/** Uncompressed bytes per block: large enough that the cuts cost nothing measurable in size. */
export const BLOCK = 256 * 1024;

export interface ParallelGzipOptions {
  /** libdeflate's compression level (0–12). */
  level: number;
  /** Blocks compressed at once. */
  parallel: number;
}

/** Fills blocks of exactly {@link BLOCK} bytes, the blocks compressed one by one. */
export class BlockFiller {
  protected block = Buffer.allocUnsafe(BLOCK);
  protected used = 0;

  /** Copies `piece` in (a whole block at a block's start is taken as it is); returns the blocks it filled. */
  add(piece: Buffer): Buffer[] {
    if (this.used === 0 && piece.length === BLOCK) return [piece];
    const full: Buffer[] = [];
    for (let offset = 0; offset < piece.length; ) {
      const copied = piece.copy(this.block, this.used, offset, offset + Math.min(BLOCK - this.used, piece.length - offset));
      offset += copied;
      this.used += copied;
      if (this.used === BLOCK) full.push(this.take());
    }
    return full;
  }

  /** What is left, as one shorter block (none when empty). */
  rest(): Buffer[] {
    return this.used === 0 ? [] : [this.take()];
  }

  protected take(): Buffer {
    const block = this.block.subarray(0, this.used);
    this.block = Buffer.allocUnsafe(BLOCK);
    this.used = 0;
    return block;
  }
}

/** The input in blocks of exactly {@link BLOCK} bytes (the last may be shorter, empty only for an empty input). */
async function* exactBlocks(input: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  const filler = new BlockFiller();
  let any = false;
  for await (const chunk of input) {
    for (const block of filler.add(chunk)) {
      any = true;
      yield block;
    }
  }
  const rest = filler.rest();
  for (const block of rest.length > 0 || any ? rest : [Buffer.alloc(0)]) yield block;
}

/** One member of `block`: small ones right here, others in the thread pool, a bounded number at once. */
function compress(block: Buffer, level: number): Promise<Buffer> {
  if (block.length <= SMALL) return Promise.resolve(gzipMemberSync(block, level));
  const compressed = compressing.acquire().then(async (release) => {
    try {
      return await gzipMember(block, level);
    } finally {
      release();
    }
  });
  // Awaited in order by the caller; when its consumer stops early, a failure must not go unhandled.
  compressed.catch(() => undefined);
  return compressed;
}

/**
 * The gzip stream of `input` (a member per block), in order, with up to `parallel` blocks
 * compressing at once. `onInput` sees every input block in order (to hash the uncompressed
 * bytes on the way).
 */
export async function* parallelGzip(input: AsyncIterable<Buffer> | Iterable<Buffer>, options: ParallelGzipOptions, onInput?: (block: Buffer) => void): AsyncGenerator<Buffer> {
  const inFlight: Promise<Buffer>[] = [];
  for await (const block of exactBlocks(input)) {
    onInput?.(block);
    inFlight.push(compress(block, options.level));
    while (inFlight.length >= Math.max(1, options.parallel)) yield await (inFlight.shift() as Promise<Buffer>);
  }
  while (inFlight.length > 0) yield await (inFlight.shift() as Promise<Buffer>);
}
