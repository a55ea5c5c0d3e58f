/** How a package set is located and pinned for one build. */

/** What `nix/load-pkgs.nix` needs to import the package set, passed as `--argstr`. */
export interface NixSourceArgs {
  srcType: 'nixpkgs' | 'git' | 'path';
  /** JSON, validated by the package source; never built from unvalidated input. */
  srcArgs: string;
}

/** A package source pinned to a concrete revision for a given tag. */
export interface ResolvedSource {
  /** Identifies the package set's content exactly (commit, directory hash…): part of the cache key. */
  revision: string;
  nix: NixSourceArgs;
}

/** A package source: resolves image tags to revisions. */
export interface PackageSource {
  /** Human-readable description for the index page and logs (`channel nixos-unstable`). */
  readonly description: string;
  /**
   * Pins `tag` to a revision; throws `RegistryError`: `MANIFEST_UNKNOWN` for a tag that names
   * nothing, `UNAVAILABLE` when the source cannot be read (channel server, repository, directory).
   */
  resolve(tag: string): Promise<ResolvedSource>;
  /** Tags that mean something for this source (`latest`, branches…), for `/tags/list`. */
  tags(): Promise<string[]>;
  /** nixpkgs channels only: the package set at another nixpkgs commit (the one a nixpacks plan pins). */
  atCommit?(commit: string): ResolvedSource;
}
