/**
 * Filesystem backend: objects are files under the root at their key (`layers/<sha256>` …, the
 * same tree as Nixery's filesystem storage). Content types live in small sidecar files under
 * `.meta/` rather than in extended attributes, which tmpfs and some overlay filesystems lack;
 * the sidecars of one content type are hard links to one file (`.meta/.types/`), so storing an
 * object creates and flushes no file but its own. Every write goes to `staging/` first, is
 * flushed to disk and renamed into place, so a crash never leaves a partial file under a final key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BufferPool } from './buffer-pool.js';
import { byteCounter } from './byte-counter.js';
import { checkedStorage } from './checked.js';
import { ObjectNotFoundError } from './errors.js';
import { newStagingKey, STAGING_PREFIX } from './keys.js';
import type { ByteRange, ObjectInfo, StagedObject, Storage } from './types.js';

const META_DIR = '.meta';
/** Under {@link META_DIR}: the files the sidecars of each content type are links to. */
const TYPES_DIR = '.types';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** Read buffer size of streams: large chunks keep reads near disk speed. */
const READ_CHUNK = 1024 * 1024;
/**
 * Size of each of the two buffers of {@link FilesystemStorage.copyTo}: big blobs move in big
 * chunks (throughput), others in smaller ones (memory under many concurrent downloads of layers).
 */
const COPY_CHUNK = { big: 256 * 1024, other: 128 * 1024, bigFrom: 4 * 1024 * 1024 };
/** Copy buffers kept for the next downloads. */
const copyBuffers = new BufferPool(8 * 1024 * 1024);
/** Directories remembered as made (each ~100 bytes); the set starts again when it holds more. */
const KNOWN_DIRS = 10_000;

/** Writes `chunk`; resolves true once it is handed on, false when `destination` went away. */
function writeChunk(destination: Writable, chunk: Buffer): Promise<boolean> {
  if (destination.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => destination.write(chunk, (error) => resolve(!error && !destination.destroyed)));
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Removes a file that may already be gone. */
async function unlinkIfThere(path: string): Promise<void> {
  await unlink(path).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
}

/** Creates a filesystem storage rooted at `root` (created if missing). */
export async function createFilesystemStorage(root: string): Promise<Storage> {
  await mkdir(join(root, STAGING_PREFIX), { recursive: true });
  return checkedStorage(new FilesystemStorage(root));
}

class FilesystemStorage implements Storage {
  readonly name = 'filesystem';
  /**
   * Directories made (or found) by this instance: a write does not ask for them again, each
   * `mkdir` being a round trip through the thread pool. One removed since is made again when a
   * rename into it fails.
   */
  private readonly knownDirs = new Set<string>();
  /** Per content type, the file its sidecars are hard links to (written once, flushed). */
  private readonly typeFiles = new Map<string, Promise<string>>();

  constructor(private readonly root: string) {}

  private path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  private metaPath(key: string): string {
    return join(this.root, META_DIR, ...key.split('/'));
  }

  async put(key: string, body: Buffer | string, contentType: string): Promise<void> {
    const stagingPath = this.path(newStagingKey());
    await this.promote(stagingPath, key, contentType, { written: writeFile(stagingPath, body, { flush: true }) });
  }

  async stage(body: Readable, contentType: string): Promise<StagedObject> {
    const stagingPath = this.path(newStagingKey());
    const counter = byteCounter();
    try {
      await pipeline(body, counter.stream, createWriteStream(stagingPath, { flush: true }));
    } catch (error) {
      await unlinkIfThere(stagingPath);
      throw error;
    }
    return {
      size: counter.bytes(),
      commit: async (key) => {
        await this.promote(stagingPath, key, contentType, { createOnly: true });
      },
      discard: async () => {
        await unlinkIfThere(stagingPath);
      },
    };
  }

  /**
   * Metadata first, then the object: an object never exists without its content type. The
   * directories and (`written`) the object's staged bytes are written at once, each a round trip
   * through the thread pool; then the sidecar is linked and the object renamed, in order. With
   * `createOnly`, the object is hard-linked into place (which fails atomically when the key
   * exists: the existing object is kept) instead of renamed over it. Staged files left by a
   * failure are swept with the rest of `staging/`.
   */
  private async promote(stagingPath: string, key: string, contentType: string, options: { createOnly?: boolean; written?: Promise<void> } = {}): Promise<void> {
    const metaPath = this.metaPath(key);
    const target = this.path(key);
    const dirs = [dirname(metaPath), dirname(target)];
    await Promise.all([options.written, ...dirs.map((dir) => this.madeDir(dir))]);
    await this.intoDirs(dirs, () => this.placeSidecar(contentType, metaPath, `${stagingPath}.meta`));
    if (!options.createOnly) {
      await this.intoDirs(dirs, () => rename(stagingPath, target));
      return;
    }
    try {
      await this.intoDirs(dirs, () => link(stagingPath, target));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlinkIfThere(stagingPath);
    }
  }

  /**
   * Puts the sidecar of `contentType` at `metaPath`: a new link there, or, over an existing one,
   * a link staged at `stagingPath` and renamed over it. (When the old sidecar is already a link to
   * the same file, rename leaves both names as they are, so the staged one is then removed.)
   */
  private async placeSidecar(contentType: string, metaPath: string, stagingPath: string): Promise<void> {
    try {
      await this.linkSidecar(contentType, metaPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      await this.linkSidecar(contentType, stagingPath);
      await rename(stagingPath, metaPath);
      await unlinkIfThere(stagingPath);
    }
  }

  /**
   * Links `path` to the file of `contentType`. A type file that is gone (removed by hand) is
   * written again; one with as many links as the filesystem allows (ext4: 65 000) is replaced, for
   * this instance, by a new one.
   */
  private async linkSidecar(contentType: string, path: string): Promise<void> {
    try {
      await link(await this.typeFile(contentType), path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EMLINK') throw error;
      this.typeFiles.delete(contentType);
      await link(await this.typeFile(contentType, code === 'EMLINK'), path);
    }
  }

  private typeFile(contentType: string, fresh = false): Promise<string> {
    let file = this.typeFiles.get(contentType);
    if (file === undefined) {
      file = this.writeTypeFile(contentType, fresh);
      this.typeFiles.set(contentType, file);
      // A failed write is tried again by the next object.
      file.catch(() => this.typeFiles.delete(contentType));
    }
    return file;
  }

  /**
   * The file holding the metadata of `contentType`, named after it so that every instance (and
   * the next start) links to the same one; `fresh`: a new one beside it. Written to staging and
   * flushed before it is linked into place, so whoever links to it links to whole metadata.
   */
  private async writeTypeFile(contentType: string, fresh: boolean): Promise<string> {
    const dir = join(this.root, META_DIR, TYPES_DIR);
    const name = createHash('sha256').update(contentType).digest('hex').slice(0, 32);
    const path = join(dir, fresh ? `${name}-${randomUUID()}` : name);
    const staged = this.path(newStagingKey());
    this.knownDirs.delete(dir);
    await Promise.all([this.madeDir(dir), writeFile(staged, JSON.stringify({ contentType }), { flush: true })]);
    try {
      await link(staged, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlinkIfThere(staged);
    }
    return path;
  }

  /** Makes `dir` (and its parents) unless this instance already did. */
  private async madeDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.knownDirs.size >= KNOWN_DIRS) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  /** Moves a file into `dirs`; when one of them was removed since it was made, makes them again and moves once more. */
  private async intoDirs(dirs: readonly string[], move: () => Promise<void>): Promise<void> {
    try {
      await move();
    } catch (error) {
      if (!isNotFound(error)) throw error;
      for (const dir of dirs) this.knownDirs.delete(dir);
      await Promise.all(dirs.map((dir) => this.madeDir(dir)));
      await move();
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.path(key));
      if (!info.isFile()) return undefined;
      return { size: info.size, contentType: await this.contentType(key), updated: info.mtime };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async contentType(key: string): Promise<string> {
    try {
      const meta = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as { contentType?: string };
      return meta.contentType ?? DEFAULT_CONTENT_TYPE;
    } catch (error) {
      if (isNotFound(error)) return DEFAULT_CONTENT_TYPE;
      throw error;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      if (isNotFound(error) || (error as NodeJS.ErrnoException)?.code === 'EISDIR') return undefined;
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const handle = await open(this.path(key), 'r');
      return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: READ_CHUNK });
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      throw error;
    }
  }

  /**
   * Copies with two reused buffers, reading the next chunk while the previous one is written:
   * no buffer per chunk, so large downloads make no garbage for the collector to chase.
   */
  async copyTo(key: string, destination: Writable, range?: ByteRange): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(this.path(key), 'r');
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      throw error;
    }
    try {
      const end = range ? range.end + 1 : (await handle.stat()).size;
      let position = range?.start ?? 0;
      // A small blob gets buffers of about its own size: many concurrent downloads of small
      // layers then hold little memory, big ones still move in large chunks.
      const length = end - position;
      const size = Math.min(length >= COPY_CHUNK.bigFrom ? COPY_CHUNK.big : COPY_CHUNK.other, Math.max(1, length));
      const buffers = [copyBuffers.take(size), copyBuffers.take(size)];
      let previousWrite: Promise<boolean> = Promise.resolve(true);
      try {
        for (let turn = 0; position < end; turn += 1) {
          const buffer = buffers[turn % 2] as Buffer;
          const { bytesRead } = await handle.read(buffer, 0, Math.min(size, end - position), position);
          if (bytesRead === 0) break;
          position += bytesRead;
          // The other buffer's write must be done before this one goes out (and before it is reused).
          if (!(await previousWrite)) return;
          previousWrite = writeChunk(destination, buffer.subarray(0, bytesRead));
        }
        if (await previousWrite) destination.end();
      } finally {
        // Only once no write holds them: every write was awaited, or none was started after a failed read.
        await previousWrite;
        for (const buffer of buffers) copyBuffers.give(buffer);
      }
    } finally {
      await handle.close();
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        const key = relative(this.root, full).split(sep).join('/');
        if (key === META_DIR) continue;
        if (entry.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix) || key.startsWith(prefix)) await walk(full);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          keys.push(key);
        }
      }
    };
    await walk(this.root);
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
    await rm(this.metaPath(key), { force: true });
  }
}
