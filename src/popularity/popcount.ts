/**
 * Popularity counting, the way Nixery's popcount does it: how many store paths of a package set
 * refer to each package. Pure: data in, data out; fetching is in `channel.ts` and `pkgs.ts`.
 *
 * Inputs
 *   The store paths of a package set, each with the store paths it refers to: for a channel,
 *   every path of its `store-paths` list with the `References:` of its narinfo; for a local
 *   package set, every path of the closure of its top-level packages with the references
 *   `nix path-info` reports. Nix lists a path's reference to itself like any other.
 *
 * Algorithm
 *   1. Every reference of every path adds 1 to the count of the referenced path's name, its
 *      basename without the `<32-character hash>-` prefix (`name-version`). Paths with the same
 *      name add up; a self-reference counts too, as in Nixery.
 *   2. Names counted fewer than {@link MIN_REPORTED_COUNT} times are dropped (Nixery: "remove
 *      all self-references, i.e. packages not referenced by anyone else"); layering rates a
 *      missing name as 1, so nothing is lost.
 *
 *       path                 references              counts
 *       hello-2.12           glibc-2.39, hello-2.12   glibc-2.39   3  (hello, bash, itself)
 *       bash-5.2             glibc-2.39, bash-5.2     hello-2.12   1  dropped
 *       glibc-2.39           glibc-2.39               bash-5.2     1  dropped
 *       zlib-1.3             (none)
 *
 * Thresholds
 *   {@link MIN_REPORTED_COUNT} = 2.
 *
 * Example (repeated in `popcount.test.ts`)
 *   countPopularity([
 *     { path: '/nix/store/<h1>-hello-2.12', references: ['/nix/store/<h3>-glibc-2.39', '/nix/store/<h1>-hello-2.12'] },
 *     { path: '/nix/store/<h2>-bash-5.2', references: ['/nix/store/<h3>-glibc-2.39', '/nix/store/<h2>-bash-5.2'] },
 *     { path: '/nix/store/<h3>-glibc-2.39', references: ['/nix/store/<h3>-glibc-2.39'] },
 *     { path: '/nix/store/<h4>-zlib-1.3', references: [] },
 *   ]) → { 'glibc-2.39': 3 }
 */
import type { Popularity } from '../layers/types.js';

/** The smallest count kept in the output: names counted once (only by themselves) are dropped. */
export const MIN_REPORTED_COUNT = 2;

/** Length of a store path hash in Nix's base-32 (`0-9a-z` without `e o u t`). */
export const STORE_HASH_LENGTH = 32;

/** A store path basename: `<hash>-<name>`, the hash in Nix's base-32 alphabet. */
const BASENAME = /^([0-9a-df-np-sv-z]{32})-(.+)$/;

/** One store path of a package set and the store paths it refers to. */
export interface PathReferences {
  /** Absolute store path (`/nix/store/<hash>-<name>`). */
  path: string;
  /** Store paths (absolute, or basenames as narinfo files list them) this path refers to. */
  references: readonly string[];
}

/** A store path (or basename) that does not have the `<32-character hash>-<name>` form. */
export class StorePathError extends Error {
  constructor(readonly path: string) {
    super(`not a store path: ${JSON.stringify(path)} (expected /nix/store/<32-character hash>-<name>)`);
    this.name = 'StorePathError';
  }
}

/** Splits a store path or basename into its hash and `name-version`; throws `StorePathError`. */
export function parseStorePath(path: string): { hash: string; name: string } {
  const basename = path.slice(path.lastIndexOf('/') + 1);
  const match = BASENAME.exec(basename);
  if (!match) throw new StorePathError(path);
  return { hash: match[1] as string, name: match[2] as string };
}

/** The `name-version` of a store path: its basename without the hash (the popularity key). */
export function storePathName(path: string): string {
  return parseStorePath(path).name;
}

/**
 * Counts references as they come (a channel has ~100,000 paths: keep counts, not paths), then
 * gives the popularity. See the module comment for the algorithm.
 */
export class PopularityCounter {
  private readonly counts = new Map<string, number>();
  private pathCount = 0;

  /** Adds one store path's references; throws `StorePathError` for a malformed reference. */
  add(references: readonly string[]): void {
    const names = references.filter((reference) => reference !== '').map(storePathName);
    for (const name of names) this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    this.pathCount += 1;
  }

  /** How many store paths were added. */
  get paths(): number {
    return this.pathCount;
  }

  /** Names counted at least {@link MIN_REPORTED_COUNT} times, keys sorted (stable output). */
  popularity(): Popularity {
    const kept = [...this.counts].filter(([, count]) => count >= MIN_REPORTED_COUNT);
    kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(kept);
  }
}

/** Popularity of a package set from its store paths and their references (Nixery's popcount). */
export function countPopularity(paths: Iterable<PathReferences>): Popularity {
  const counter = new PopularityCounter();
  for (const item of paths) counter.add(item.references);
  return counter.popularity();
}

/** Popularity as text: sorted keys, one entry per line (diffs well), newline at the end. */
export function formatPopularity(popularity: Popularity): string {
  const keys = Object.keys(popularity).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length === 0) return '{}\n';
  return `{\n${keys.map((key) => `  ${JSON.stringify(key)}: ${popularity[key]}`).join(',\n')}\n}\n`;
}
