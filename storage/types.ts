/**
 * The storage contract every backend (filesystem, GCS) fulfils, with Nixery's key scheme (made in
 * `keys.ts`, which documents the whole layout):
 * `layers/<sha256 hex>` for every blob, `manifests/<cache key>`, `builds/<layer key>`,
 * `staging/<random>` for uploads in flight. Keys are `/`-separated segments of
 * `[A-Za-z0-9._-]`, none starting with a dot.
 */
import type { Readable, Writable } from 'node:stream';

/** What is known about a stored object without reading it. */
export interface ObjectInfo {
  size: number;
  contentType: string;
  /** When the object was written. */
  updated: Date;
}

/** An inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/** An upload that has landed in `staging/` and waits to be committed under its final key. */
export interface StagedObject {
  /** Bytes written. */
  readonly size: number;
  /**
   * Moves the object to `key` atomically, create-only: when `key` already exists (a racing
   * writer of the same content-addressed key won), the existing object is kept and the staged
   * one dropped, so a final key is never rewritten under a reader.
   */
  commit(key: string): Promise<void>;
  /** Deletes the staged object; committing afterwards is an error. */
  discard(): Promise<void>;
}

/** A storage backend. Methods throw `StorageError` when the backend itself fails. */
export interface Storage {
  /** Backend name for messages (`filesystem`, `gcs`). */
  readonly name: string;
  /** Writes a small object through staging and an atomic rename; replaces an existing one. */
  put(key: string, body: Buffer | string, contentType: string): Promise<void>;
  /**
   * Streams `body` into a new staging object. Nothing appears under a final key until the
   * returned handle is committed; if the stream fails, nothing is left behind and it rejects.
   */
  stage(body: Readable, contentType: string): Promise<StagedObject>;
  /** Size and content type, or `undefined` when the key does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** The whole object (for small objects: manifests, records), or `undefined` when absent. */
  get(key: string): Promise<Buffer | undefined>;
  /** A stream of the object or of `range` of it; throws `ObjectNotFoundError` when absent. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /**
   * Writes the object (or `range` of it) to `destination` and ends it, as fast as the backend
   * can (blob downloads); throws `ObjectNotFoundError` when absent, before writing anything.
   * Stops early without an error when `destination` is destroyed (a client hanging up).
   * `destination` must be done with a chunk when it calls back from `write` (sockets, HTTP
   * responses and files are; a PassThrough, which hands the chunk on, is not): backends may
   * reuse their buffers after that.
   */
  copyTo(key: string, destination: Writable, range?: ByteRange): Promise<void>;
  /** Keys that start with `prefix` (e.g. `layers/`), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deletes `key`; does nothing when it is absent. */
  delete(key: string): Promise<void>;
  /**
   * A URL clients can download `key` from directly (a signed or public bucket URL), or
   * `undefined` when this backend serves blobs itself. Does not check that `key` exists.
   */
  downloadUrl?(key: string): Promise<string | undefined>;
}
