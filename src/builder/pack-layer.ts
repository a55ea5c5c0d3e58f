/**
 * Packs tar entries into a gzip layer streamed to storage: tar → sha256 (diff_id) → gzip →
 * sha256 (digest) → staging object, renamed to `layers/<sha256>` at the end. A layer is
 * never held in memory. Same entries → same bytes → same digest (DESIGN.md, determinism).
 */
import { createReadStream } from 'node:fs';
import { pipeline as pipelineCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { blobKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import type { LayerInfo } from '../image/manifest.js';
import { MediaType } from '../image/media-types.js';
import { HashStream } from './hash-stream.js';
import type { TarEntry } from './tar-entries.js';

/** Bump when packing changes the bytes of a layer for the same store paths (part of the cache identity). */
export const PACKING_VERSION = 1;
/** gzip level: fixed, so output bytes never depend on a default that might change. */
export const GZIP_LEVEL = 6;
/** Read size for files and output size of gzip: big chunks mean fewer callbacks (bytes are unchanged). */
const FILE_CHUNK = 1024 * 1024;
const GZIP_CHUNK = 256 * 1024;
/** mtime of every entry: 1 s after the epoch, as in the Nix store. */
export const ENTRY_MTIME = new Date(1000);

function header(entry: TarEntry): Partial<Header> & { name: string } {
  const common = { name: entry.name, uid: 0, gid: 0, uname: '', gname: '', mtime: ENTRY_MTIME };
  switch (entry.type) {
    case 'directory':
      return { ...common, type: 'directory', mode: entry.mode };
    case 'file':
      return { ...common, type: 'file', mode: entry.mode, size: entry.size };
    case 'contents':
      return { ...common, type: 'file', mode: entry.mode, size: entry.contents.length };
    case 'symlink':
      return { ...common, type: 'symlink', mode: 0o777, linkname: entry.target };
  }
}

async function writeEntries(tar: Pack, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Promise<void> {
  for await (const entry of entries) {
    if (entry.type === 'file') {
      await pipeline(createReadStream(entry.sourcePath, { highWaterMark: FILE_CHUNK }), tar.entry(header(entry)));
    } else {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error | null) => (error ? reject(error) : resolve());
        if (entry.type === 'contents') tar.entry(header(entry), entry.contents, done);
        else tar.entry(header(entry), done);
      });
    }
  }
  tar.finalize();
}

/** Packs `entries` (already in their final order) into a layer blob stored under `layers/`. */
export async function packLayer(storage: Storage, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Promise<LayerInfo> {
  const tar = tarPack();
  const uncompressed = new HashStream();
  const compressed = new HashStream();
  const gzip = createGzip({ level: GZIP_LEVEL, chunkSize: GZIP_CHUNK });
  const written = writeEntries(tar, entries).catch((error: unknown) => {
    tar.destroy(error as Error);
    throw error;
  });
  // Errors anywhere in the chain destroy the whole chain, so stage() rejects and cleans up.
  const body = pipelineCallback(tar, uncompressed, gzip, compressed, () => {});
  // Wait for both sides to settle: on failure, stage() must finish removing its staging object.
  const [staging, writing] = await Promise.allSettled([storage.stage(body, MediaType.ociLayerGzip), written]);
  if (writing.status === 'rejected') {
    if (staging.status === 'fulfilled') await staging.value.discard();
    throw writing.reason;
  }
  if (staging.status === 'rejected') throw staging.reason;
  const staged = staging.value;
  const layer = { digest: compressed.digest, size: compressed.size, diff_id: uncompressed.digest };
  await commitBlob(storage, staged, layer.digest);
  return layer;
}

/** Commits a staged blob under `layers/<hex>`, or drops it when that blob is already stored. */
export async function commitBlob(storage: Storage, staged: { commit(key: string): Promise<void>; discard(): Promise<void> }, digest: string): Promise<void> {
  const key = blobKey(digest);
  if (await storage.stat(key)) await staged.discard();
  else await staged.commit(key);
}
