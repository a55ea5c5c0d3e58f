/**
 * The data layering works on: a closure graph as `nix path-info --json --recursive` reports it,
 * the popularity of packages, and the layers that come out.
 */

/** One store path of a closure: its size and the store paths it refers to (itself included, as Nix reports). */
export interface StorePathInfo {
  /** Absolute store path, `/nix/store/<hash>-<name>-<version>`. */
  path: string;
  /** Size of the path's NAR serialisation in bytes. */
  narSize: number;
  /** Store paths this path refers to; Nix lists a self-reference too, which layering ignores. */
  references: string[];
  /** The hash of its NAR serialisation as Nix reports it (`sha256-<base64>` or `sha256:<nix32>`); for SBOMs. */
  narHash?: string;
}

/**
 * Popularity of packages: `name-version` (a store path's basename without its `<hash>-` prefix)
 * → how many packages of the package set refer to it directly. Nixery's popcount format.
 */
export type Popularity = Record<string, number>;

/** What a layering strategy gets: one image's closure, the popularity data and the layer budget. */
export interface LayeringInput {
  /** The store paths the image was asked for (the requested packages' outputs). */
  roots: string[];
  /** The runtime closure of the roots: every path once, references closed within the graph. */
  graph: StorePathInfo[];
  /** Popularity by `name-version`; missing names count as 1. */
  popularity: Popularity;
  /** Most store-path layers the image may have (at least 1). */
  budget: number;
  /**
   * Name prefixes of the packages added to every image, which Nixery's strategy rates as the most
   * popular of all. Defaults to {@link DEFAULT_ALWAYS_INCLUDED} (`nss-cacert`, `iana-etc`).
   */
  alwaysIncluded?: readonly string[];
}

/** One layer: the store paths it holds, sorted. Layers are cached by exactly this set. */
export type Layer = string[];

/** The packages nixyard (like Nixery) adds to every image: CA certificates and `/etc/services`. */
export const DEFAULT_ALWAYS_INCLUDED: readonly string[] = ['nss-cacert', 'iana-etc'];
