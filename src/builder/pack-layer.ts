/**
 * Packs tar entries into a gzip layer streamed to storage: tar → sha256 (diff_id) → gzip →
 * sha256 (digest) → staging object, renamed to `layers/<sha256>` at the end. A layer is
 * never held in memory. Same entries → same bytes → same digest (DESIGN.md, determinism).
 *
 * The tar stream is made here (`tar-format.ts`) in chunks of about {@link CHUNK} bytes: headers,
 * small files (read at once: the store is in the page cache) and paddings are gathered, big
 * files read in chunks; every write to gzip is a round trip through the thread pool, so few
 * large writes keep the compression, which is most of the work, busy.
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline as pipelineCallback } from 'node:stream';
import { createGzip } from 'node:zlib';
import { blobKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import type { LayerInfo } from '../image/manifest.js';
import { MediaType } from '../image/media-types.js';
import { layerBytesPacked, layersStored } from '../metrics/metrics.js';
import { HashStream } from './hash-stream.js';
import { END_OF_ARCHIVE, headerBlocks, padding, type TarHeader } from './tar-format.js';
import type { TarEntry } from './tar-entries.js';

/** Bump when packing changes the bytes of a layer for the same store paths (part of the cache identity). */
export const PACKING_VERSION = 1;
/** gzip level: fixed, so output bytes never depend on a default that might change. */
export const GZIP_LEVEL = 6;
/** Size of the chunks handed to gzip, and of gzip's output chunks (bytes are unchanged by it). */
const CHUNK = 256 * 1024;
/** Files up to this size are read in one call; bigger ones a chunk at a time. */
const READ_AT_ONCE = 4 * 1024 * 1024;
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

/** Gathers small pieces into chunks of about {@link CHUNK} bytes. */
class Chunker {
  private buffer = Buffer.allocUnsafe(CHUNK);
  private used = 0;

  /** Adds `piece`; returns the chunks that are full (none, or one). */
  add(piece: Buffer): Buffer[] {
    if (piece.length >= CHUNK) return [...this.flush(), piece];
    if (this.used + piece.length > CHUNK) {
      const full = this.flush();
      piece.copy(this.buffer, this.used);
      this.used += piece.length;
      return full;
    }
    piece.copy(this.buffer, this.used);
    this.used += piece.length;
    return [];
  }

  /** What is gathered, as one chunk (none when empty). */
  flush(): Buffer[] {
    if (this.used === 0) return [];
    const chunk = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
    return [chunk];
  }
}

/** The contents of a file of `size` bytes, read at once or a chunk at a time. */
async function* fileContents(path: string, size: number): AsyncGenerator<Buffer> {
  if (size <= READ_AT_ONCE) {
    const contents = readFileSync(path);
    if (contents.length !== size) throw new Error(`${path} changed while it was packed (${size} bytes, now ${contents.length})`);
    yield contents;
    return;
  }
  const handle = await open(path, 'r');
  try {
    for (let offset = 0; offset < size; ) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK * 4, size - offset));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset);
      if (bytesRead === 0) throw new Error(`${path} changed while it was packed (${size} bytes, ended at ${offset})`);
      offset += bytesRead;
      yield chunk.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** The tar stream of `entries` in chunks. */
export async function* tarChunks(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): AsyncGenerator<Buffer> {
  const chunker = new Chunker();
  for await (const entry of entries) {
    for (const block of headerBlocks(header(entry))) yield* chunker.add(block);
    if (entry.type === 'contents') yield* chunker.add(entry.contents);
    if (entry.type === 'file') for await (const piece of fileContents(entry.sourcePath, entry.size)) yield* chunker.add(piece);
    if (entry.type === 'file' || entry.type === 'contents') yield* chunker.add(padding(header(entry).size));
  }
  yield* chunker.add(END_OF_ARCHIVE);
  yield* chunker.flush();
}

/** Packs `entries` (already in their final order) into a layer blob stored under `layers/`. */
export async function packLayer(storage: Storage, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Promise<LayerInfo> {
  const uncompressed = new HashStream();
  const compressed = new HashStream();
  const gzip = createGzip({ level: GZIP_LEVEL, chunkSize: CHUNK });
  // Errors anywhere in the chain destroy the whole chain, so stage() rejects and cleans up.
  const body = pipelineCallback(Readable.from(tarChunks(entries), { objectMode: false }), uncompressed, gzip, compressed, () => {});
  const staged = await storage.stage(body, MediaType.ociLayerGzip);
  const layer = { digest: compressed.digest, size: compressed.size, diff_id: uncompressed.digest };
  await commitBlob(storage, staged, layer.digest);
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
