/**
 * The symlink layer: a root filesystem whose `/bin`, `/lib`, `/share`, `/etc` … hold symlinks
 * into the image's packages, merged like nixpkgs' buildEnv, plus `/tmp`, `/usr/bin/env`, the
 * users every image has (`/etc/passwd`, `/etc/group`, `/etc/nsswitch.conf`, `image/users.ts`;
 * a package that has one of these files wins: its file is linked, ours left out) and their
 * homes (`/root`, `/home/nonroot` owned by nonroot). `/etc` is always a real directory.
 *
 * Merging: a name that only one package has becomes one symlink to it; a name that several
 * packages have as directories becomes a real directory, merged one level deeper; any other
 * clash goes to the first package (packages come in the sorted order of the request), so the
 * layer is the same whichever instance builds it.
 *
 *   hello/bin/hello, coreutils/bin/ls, cacert/etc/ssl, iana-etc/etc/services
 *   → bin/ (dir), bin/hello → …-hello/bin/hello, bin/ls → …-coreutils/bin/ls,
 *     etc/ (dir), etc/services → …-iana-etc/etc/services, etc/ssl → …-cacert/etc/ssl
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NONROOT, USER_FILES } from '../image/users.js';
import type { TarEntry } from './tar-entries.js';

/** Kind of a directory entry, as far as merging cares. */
export type EntryKind = 'directory' | 'other';

/** Lists a directory's entries; `undefined` when the path is not a directory. */
export type ListDirectory = (path: string) => Promise<{ name: string; kind: EntryKind }[] | undefined>;

/** Top-level names of packages never linked: Nix metadata, and the store itself. */
export const IGNORED_TOP_LEVEL: ReadonlySet<string> = new Set(['nix-support', 'nix']);

const DIR_MODE = 0o755;
const TMP_MODE = 0o1777;

/**
 * Lists a real directory (symlinks are "other": they are linked, never merged through).
 * Synchronously, as the store walk of the layers does: store paths are in the page cache, and a
 * trip through the thread pool would wait behind the compression of the other layers.
 */
export const listRealDirectory: ListDirectory = async (path) => {
  if (!lstatSync(path).isDirectory()) return undefined;
  const entries = readdirSync(path, { withFileTypes: true });
  return entries.map((entry) => ({ name: entry.name, kind: entry.isDirectory() ? 'directory' : 'other' }));
};

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function mergeInto(entries: TarEntry[], relative: string, dirs: readonly string[], list: ListDirectory): Promise<void> {
  const owners = new Map<string, { dir: string; kind: EntryKind }[]>();
  for (const dir of dirs) {
    for (const entry of (await list(dir)) ?? []) {
      if (relative === '' && IGNORED_TOP_LEVEL.has(entry.name)) continue;
      const list = owners.get(entry.name) ?? [];
      list.push({ dir, kind: entry.kind });
      owners.set(entry.name, list);
    }
  }
  for (const name of [...owners.keys()].sort(byName)) {
    const candidates = owners.get(name) ?? [];
    const path = relative === '' ? name : `${relative}/${name}`;
    const first = candidates[0];
    if (!first) continue;
    // `etc` stays a directory even when one package has it: the users' files go into it.
    const merge = candidates.length > 1 || (relative === '' && name === 'etc');
    if (merge && candidates.every((candidate) => candidate.kind === 'directory')) {
      entries.push({ type: 'directory', name: path, mode: DIR_MODE });
      await mergeInto(entries, path, candidates.map((candidate) => join(candidate.dir, name)), list);
    } else {
      entries.push({ type: 'symlink', name: path, target: join(first.dir, name) });
    }
  }
}

/**
 * Entries of the symlink layer for the image's root store paths, in tar order. `list` reads
 * directories (the real filesystem by default; tests may pass a fake).
 */
export async function symlinkLayerEntries(roots: readonly string[], list: ListDirectory = listRealDirectory): Promise<TarEntry[]> {
  const merged: TarEntry[] = [];
  await mergeInto(merged, '', roots, list);
  const extras: TarEntry[] = [{ type: 'directory', name: 'tmp', mode: TMP_MODE }, ...userEntries(merged)];
  if (!merged.some((entry) => entry.name === 'usr')) {
    extras.push({ type: 'directory', name: 'usr', mode: DIR_MODE }, { type: 'directory', name: 'usr/bin', mode: DIR_MODE });
    extras.push({ type: 'symlink', name: 'usr/bin/env', target: '/bin/env' });
  }
  return sortForTar([...merged, ...extras]);
}

/** `/etc`'s users files that no package has, and the homes (what the packages have wins). */
function userEntries(merged: readonly TarEntry[]): TarEntry[] {
  const has = (name: string) => merged.some((entry) => entry.name === name);
  const etc = merged.find((entry) => entry.name === 'etc');
  if (etc && etc.type !== 'directory') return [];
  const entries: TarEntry[] = etc ? [] : [{ type: 'directory', name: 'etc', mode: DIR_MODE }];
  for (const [file, text] of Object.entries(USER_FILES)) {
    if (!has(`etc/${file}`)) entries.push({ type: 'contents', name: `etc/${file}`, mode: 0o644, contents: Buffer.from(text) });
  }
  if (!has('root')) entries.push({ type: 'directory', name: 'root', mode: 0o700 });
  if (!has('home')) {
    entries.push({ type: 'directory', name: 'home', mode: DIR_MODE });
    entries.push({ type: 'directory', name: NONROOT.home.slice(1), mode: 0o755, uid: NONROOT.uid, gid: NONROOT.gid });
  }
  return entries;
}

/** Orders entries so each directory precedes its contents and siblings are sorted by name. */
export function sortForTar(entries: TarEntry[]): TarEntry[] {
  const key = (entry: TarEntry) => entry.name.split('/');
  return [...entries].sort((a, b) => {
    const [pa, pb] = [key(a), key(b)];
    for (let i = 0; i < Math.min(pa.length, pb.length); i += 1) {
      const order = byName(pa[i] ?? '', pb[i] ?? '');
      if (order !== 0) return order;
    }
    return pa.length - pb.length;
  });
}
