/**
 * Tar entries for layers, and how to list them from store paths on disk. Entries come out in
 * a fixed order (depth-first, children sorted by name) with the determinism rules of
 * DESIGN.md applied by the packer: uid/gid 0 unless an entry says otherwise (the home of the
 * image's unprivileged user), empty owner names, fixed mtime.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** One entry of a layer tarball. Names are relative (`nix/store/…`), without a leading slash. */
export type TarEntry =
  | ({ type: 'directory'; name: string; mode: number } & Ownership)
  | ({ type: 'file'; name: string; mode: number; size: number; sourcePath: string } & Ownership)
  | ({ type: 'contents'; name: string; mode: number; contents: Buffer } & Ownership)
  | { type: 'symlink'; name: string; target: string };

/** Who owns an entry: uid and gid 0 (root) when absent. */
export interface Ownership {
  uid?: number;
  gid?: number;
}

/** Directory entries every store-path layer starts with, so that the layer is self-contained. */
export const STORE_DIR_ENTRIES: readonly TarEntry[] = [
  { type: 'directory', name: 'nix', mode: 0o755 },
  { type: 'directory', name: 'nix/store', mode: 0o755 },
];

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Walks `absolutePath` (a store path, or any directory) and yields its entries, named by their
 * absolute path without the leading slash unless `name` says where it goes in the layer;
 * entries whose name `skip` accepts are left out, with everything under them.
 */
export function* entriesUnder(absolutePath: string, name = absolutePath.replace(/^\/+/, ''), skip?: (name: string) => boolean): Generator<TarEntry> {
  // Synchronous calls: a store path's metadata is in the page cache, and one call costs
  // microseconds where a promise through the thread pool costs a hundred.
  const info = lstatSync(absolutePath);
  const mode = info.mode & 0o7777;
  if (info.isSymbolicLink()) {
    yield { type: 'symlink', name, target: readlinkSync(absolutePath) };
  } else if (info.isDirectory()) {
    yield { type: 'directory', name, mode };
    const children = readdirSync(absolutePath).sort(byName);
    for (const child of children) {
      const childName = `${name}/${child}`;
      if (!skip?.(childName)) yield* entriesUnder(join(absolutePath, child), childName, skip);
    }
  } else if (info.isFile()) {
    yield { type: 'file', name, mode, size: info.size, sourcePath: absolutePath };
  } else {
    throw new Error(`cannot pack ${absolutePath}: not a file, directory or symlink`);
  }
}

/** Entries of a layer holding the given store paths (sorted), store directories first. */
export function* storePathEntries(storePaths: readonly string[]): Generator<TarEntry> {
  yield* STORE_DIR_ENTRIES;
  for (const storePath of [...storePaths].sort(byName)) yield* entriesUnder(storePath);
}
