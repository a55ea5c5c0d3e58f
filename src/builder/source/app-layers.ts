/**
 * The two layers a source image adds on top of its packages (the split Jib made standard): the
 * dependency layer, with what the install phase produced (`/app/node_modules`, `/app/.venv`,
 * everything under `/opt` such as a Python venv), and the app layer, with the app's own files.
 * A change of code alone gives a new app layer only. `.git` and the build's cache directories
 * are in neither. Entries follow the layer determinism rules (sorted, fixed mtime and owner: the
 * packer's).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { entriesUnder, type TarEntry } from '../tar-entries.js';

/** Directories of the app that hold installed dependencies: they go in the dependency layer. */
export const DEPENDENCY_DIRS: readonly string[] = ['.venv', 'node_modules'];

/** Where the app is in the image, without the leading slash (tar entry names). */
export const APP_ENTRY = 'app';

/** The directories a build wrote, and the entries to leave out of the image (cache mounts). */
export interface AppTree {
  /** The app directory (`/app`). */
  appDir: string;
  /** What the build wrote under `/opt`. */
  optDir: string;
  /** Entry names to leave out (`app/node_modules/.cache`), with everything under them. */
  leaveOut: ReadonlySet<string>;
}

/**
 * `entries` with those of the app directory (`app`, `app/…`) owned by `owner` (the user an image
 * from source runs as, so that the app may write where it lives); other entries as they are.
 */
export async function* ownedApp(entries: AsyncIterable<TarEntry>, owner: { uid: number; gid: number } | undefined): AsyncGenerator<TarEntry> {
  for await (const entry of entries) {
    const inApp = entry.name === APP_ENTRY || entry.name.startsWith(`${APP_ENTRY}/`);
    yield owner && inApp && entry.type !== 'symlink' ? { ...entry, uid: owner.uid, gid: owner.gid } : entry;
  }
}

/** Entries of the dependency layer. */
export async function* dependencyEntries(tree: AppTree): AsyncGenerator<TarEntry> {
  const skip = (name: string) => tree.leaveOut.has(name);
  const present = new Set(await readdir(tree.appDir));
  yield { type: 'directory', name: APP_ENTRY, mode: 0o755 };
  for (const dir of DEPENDENCY_DIRS) {
    if (present.has(dir)) yield* entriesUnder(join(tree.appDir, dir), `${APP_ENTRY}/${dir}`, skip);
  }
  if ((await readdir(tree.optDir)).length > 0) yield* entriesUnder(tree.optDir, 'opt', skip);
}

/** Entries of the app layer: the app directory without its dependencies, `.git` and caches. */
export async function* appEntries(tree: AppTree): AsyncGenerator<TarEntry> {
  const dependencies = new Set([...DEPENDENCY_DIRS, '.git'].map((dir) => `${APP_ENTRY}/${dir}`));
  const skip = (name: string) => dependencies.has(name) || tree.leaveOut.has(name);
  for await (const entry of entriesUnder(tree.appDir, APP_ENTRY, skip)) {
    // The app directory itself is the same in both layers (0755, as in the dependency layer).
    yield entry.name === APP_ENTRY && entry.type === 'directory' ? { ...entry, mode: 0o755 } : entry;
  }
}
