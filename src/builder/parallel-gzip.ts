/**
 * gzip of one stream on several cores, the way pigz does it: the input is cut into blocks of
 * exactly {@link BLOCK} bytes, each compressed on its own (raw deflate in the thread pool, primed
 * with the 32 KiB before it, so matches across the cut are still found) and ended with a sync
 * flush, which leaves the output byte-aligned so the pieces can be joined in order; the last
 * block ends the deflate stream. One gzip header and a CRC-32/size trailer wrap them.
 *
 * The bytes depend only on the input (block boundaries are offsets, not arrival times), so
 * layers stay reproducible; an input of at most one block gives exactly the bytes of
 * `createGzip` with the same level and memory level.
 */
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { constants, crc32, deflateRaw as deflateRawCallback, deflateRawSync, type ZlibOptions } from 'node:zlib';
import { Semaphore } from '../concurrency.js';

const deflateRaw = promisify<Buffer, ZlibOptions, Buffer>(deflateRawCallback);

/**
 * Blocks compressing at once in the whole process, one more than cores: the thread pool (four threads)
 * is shared with every file operation, which would otherwise wait behind queued compression.
 */
const compressing = new Semaphore(availableParallelism() + 1);
/** Blocks this small are compressed at once on the main thread: quicker than a round trip through the pool. */
const SMALL = 16 * 1024;

/** Uncompressed bytes per block: large enough that the cuts cost nothing measurable in size. */
export const BLOCK = 256 * 1024;
/** Deflate's window: how much of the previous block primes the next. */
const WINDOW = 32 * 1024;
/** gzip header: deflate, no flags, no mtime, no extra flags, OS Unix (what zlib writes). */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);

export interface ParallelGzipOptions {
  level: number;
  /** zlib's memory level (1–9): the size of its hash table and of its output blocks. */
  memLevel: number;
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

/**
 * The gzip stream of `input`, in order, with up to `parallel` blocks compressing at once.
 * `onInput` sees every input block in order (to hash the uncompressed bytes on the way). The
 * gzip header comes with the first compressed block and the trailer with the last, so a small
 * layer is one piece (one write to storage).
 */
export async function* parallelGzip(input: AsyncIterable<Buffer> | Iterable<Buffer>, options: ParallelGzipOptions, onInput?: (block: Buffer) => void): AsyncGenerator<Buffer> {
  let crc = 0;
  let length = 0;
  let previous: Buffer | undefined;
  let header: Buffer | undefined = HEADER;
  const inFlight: Promise<Buffer>[] = [];
  const compress = (block: Buffer, last: boolean) => {
    const primed = previous === undefined ? {} : { dictionary: previous.subarray(Math.max(0, previous.length - WINDOW)) };
    const settings = { level: options.level, memLevel: options.memLevel, chunkSize: BLOCK + 1024, finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH, ...primed };
    if (block.length <= SMALL) return Promise.resolve(deflateRawSync(block, settings));
    const compressed = compressing.acquire().then(async (release) => {
      try {
        return await deflateRaw(block, settings);
      } finally {
        release();
      }
    });
    // Awaited in order below; when the consumer stops early, a failure must not go unhandled.
    compressed.catch(() => undefined);
    return compressed;
  };
  /** The next compressed piece, the header in front of the first. */
  const next = async (): Promise<Buffer> => {
    const piece = await (inFlight.shift() as Promise<Buffer>);
    if (header === undefined) return piece;
    const first = Buffer.concat([header, piece]);
    header = undefined;
    return first;
  };
  // A block is only known to be the last when the input ends, so each is held back one step.
  let pending: Buffer | undefined;
  for await (const block of exactBlocks(input)) {
    onInput?.(block);
    crc = crc32(block, crc);
    length += block.length;
    if (pending !== undefined) {
      inFlight.push(compress(pending, false));
      previous = pending;
    }
    pending = block;
    while (inFlight.length >= Math.max(1, options.parallel)) yield await next();
  }
  inFlight.push(compress(pending ?? Buffer.alloc(0), true));
  while (inFlight.length > 1) yield await next();
  const trailer = Buffer.allocUnsafe(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  yield Buffer.concat([await next(), trailer]);
}
