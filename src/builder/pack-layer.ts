/**
 * Packs tar entries into a gzip layer streamed to storage: tar → sha256 (diff_id) → gzip in
 * blocks on every core (`parallel-gzip.ts`, a member per block) → sha256 (digest) → staging
 * object, committed as `layers/<sha256>` at the end. A layer is never held in memory. Same
 * entries → same bytes → same digest (DESIGN.md, determinism).
 *
 * The tar stream is made here (`tar-format.ts`) straight into the blocks gzip compresses:
 * headers and paddings are copied in, files read into them, so no file gets a buffer of its own.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline as pipelineCallback } from 'node:stream';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { blobKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import type { LayerInfo } from '../image/manifest.js';
import { MediaType } from '../image/media-types.js';
import { layerBytesPacked, layersStored } from '../metrics/metrics.js';
import { HashStream } from './hash-stream.js';
import { BLOCK, BlockFiller, parallelGzip } from './parallel-gzip.js';
import { END_OF_ARCHIVE, headerBlocks, padding, type TarHeader } from './tar-format.js';
import type { TarEntry } from './tar-entries.js';

/**
 * Bump when packing changes the bytes of a layer for the same store paths (part of the cache
 * identity); 2: gzip in blocks (parallel-gzip.ts); 3: zlib's memory level 9; 4: a gzip member
 * per block, made by libdeflate.
 */
export const PACKING_VERSION = 4;
/**
 * libdeflate's level: fixed, so output bytes never depend on a default that might change. At 4
 * layers are smaller than zlib's level 6 made them (`shell/hello`'s by 0.7 %, the synthetic
 * apps' by 1.8 %) and take ~40 % less CPU (README, performance).
 */
export const GZIP_LEVEL = 4;
/** Blocks of one layer compressed at once (on top of the layers packed at once). */
const GZIP_PARALLEL = availableParallelism() + 1;
/** mtime of every entry: 1 s after the epoch, as in the Nix store. */
export const ENTRY_MTIME = new Date(1000);

function header(entry: TarEntry): TarHeader {
  const mtimeSeconds = ENTRY_MTIME.getTime() / 1000;
  switch (entry.type) {
    case 'directory':
      return { name: entry.name, type: 'directory', mode: entry.mode, size: 0, mtimeSeconds, uid: entry.uid, gid: entry.gid };
    case 'file':
      return { name: entry.name, type: 'file', mode: entry.mode, size: entry.size, mtimeSeconds, uid: entry.uid, gid: entry.gid };
    case 'contents':
      return { name: entry.name, type: 'file', mode: entry.mode, size: entry.contents.length, mtimeSeconds, uid: entry.uid, gid: entry.gid };
    case 'symlink':
      return { name: entry.name, type: 'symlink', mode: 0o777, size: 0, linkname: entry.target, mtimeSeconds };
  }
}

/**
 * Fills the blocks gzip compresses with a tar stream: headers and paddings are copied in, files
 * read straight into them (no buffer per file, no copy).
 */
class TarBlockFiller extends BlockFiller {
  /**
   * Reads the `size` bytes of the file at `path` in, yielding each block it fills. Synchronous
   * reads of at most one block: store paths are in the page cache, and a read through the
   * thread pool would wait behind compression.
   */
  *readFile(path: string, size: number): Generator<Buffer> {
    const fd = openSync(path, 'r');
    try {
      for (let position = 0; position < size; ) {
        const bytesRead = readSync(fd, this.block, this.used, Math.min(BLOCK - this.used, size - position), position);
        if (bytesRead === 0) throw new Error(`${path} changed while it was packed (${size} bytes, ended at ${position})`);
        position += bytesRead;
        this.used += bytesRead;
        if (this.used === BLOCK) yield this.take();
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Puts one entry in: its header, contents and padding; yields the blocks it fills. */
  *entry(entry: TarEntry): Generator<Buffer> {
    const head = header(entry);
    for (const block of headerBlocks(head)) yield* this.add(block);
    if (entry.type === 'contents') yield* this.add(entry.contents);
    if (entry.type === 'file') yield* this.readFile(entry.sourcePath, entry.size);
    if (entry.type === 'file' || entry.type === 'contents') yield* this.add(padding(head.size));
  }
}

/** The tar stream of `entries` in blocks of {@link BLOCK} bytes (the last may be shorter). */
export async function* tarBlocks(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): AsyncGenerator<Buffer> {
  const filler = new TarBlockFiller();
  // Iterated synchronously where they can be (a walk of store paths): a promise per entry, or
  // per `yield*`, cost more than the tar encoding of a store path of small files and symlinks.
  if (Symbol.iterator in entries) {
    for (const entry of entries) for (const block of filler.entry(entry)) yield block;
  } else {
    for await (const entry of entries) for (const block of filler.entry(entry)) yield block;
  }
  for (const block of [...filler.add(END_OF_ARCHIVE), ...filler.rest()]) yield block;
}

/**
 * Packs `entries` (already in their final order) into a layer blob stored under `layers/`.
 * `besideCommit` runs with the layer's digests while the blob is committed (the layer's record:
 * whoever reads a record checks that its blob exists).
 */
export async function packLayer(storage: Storage, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, besideCommit?: (layer: LayerInfo) => Promise<void>): Promise<LayerInfo> {
  const uncompressed = createHash('sha256');
  const compressed = new HashStream();
  const gzip = parallelGzip(tarBlocks(entries), { level: GZIP_LEVEL, parallel: GZIP_PARALLEL }, (block) => uncompressed.update(block));
  // Errors anywhere in the chain destroy the whole chain, so stage() rejects and cleans up.
  const body = pipelineCallback(Readable.from(gzip, { objectMode: false }), compressed, () => {});
  const staged = await storage.stage(body, MediaType.ociLayerGzip);
  const layer = { digest: compressed.digest, size: compressed.size, diff_id: `sha256:${uncompressed.digest('hex')}` };
  await Promise.all([commitBlob(storage, staged, layer.digest), besideCommit?.(layer)]);
  return layer;
}

/** Commits a staged blob under `layers/<hex>`, or drops it when that blob is already stored. */
export async function commitBlob(storage: Storage, staged: { size: number; commit(key: string): Promise<void>; discard(): Promise<void> }, digest: string): Promise<void> {
  const key = blobKey(digest);
  if (await storage.stat(key)) {
    await staged.discard();
    layersStored.inc({ outcome: 'reused' });
    return;
  }
  await staged.commit(key);
  layersStored.inc({ outcome: 'packed' });
  layerBytesPacked.inc(staged.size);
}
