/** What an image holds, as its build knows it: the input of its SBOMs (`spdx.ts`, `cyclonedx.ts`). */
import type { StorePathInfo } from '../layers/types.js';
import type { AppDependency } from './lockfiles.js';

/** The application of an image built from source, and its own dependencies. */
export interface AppContents {
  /** The repository (without credentials), the commit built and the app's directory. */
  repository: string;
  commit: string;
  dir: string;
  /** What its lockfiles state (`lockfiles.ts`). */
  dependencies: readonly AppDependency[];
}

/** The Nix closure of an image and what the package set said of its packages. */
export interface ImageContents {
  /** Each package name the image asked for and its output path: the image's top-level packages. */
  packages: Readonly<Record<string, string>>;
  /** The licenses each package's `meta.license` states (SPDX ids where the package set gives them). */
  licenses: Readonly<Record<string, readonly string[]>>;
  /** Every store path of the closure, with its NAR hash and references. */
  graph: readonly StorePathInfo[];
  /** Images built from source: the application and its dependencies. */
  app?: AppContents;
}
