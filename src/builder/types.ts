/**
 * The builder contract: the image service asks a builder for an image's layers, the builder
 * makes and stores them. Each kind of image (package names today) has its builder behind this
 * one interface, so records, runner and queue never ask which kind they run.
 */
import type { LayerLayout } from '../../storage/keys.js';
import type { BuildProgress, BuildSpec } from '../builds/build-runner.js';
import type { SourceOverrides } from '../builds/record.js';
import type { BuildClient } from '../builds/types.js';
import type { Architecture } from '../image/image-name.js';
import type { LayerInfo } from '../image/manifest.js';
import type { ImageConfigInput } from '../image/manifest.js';
import type { ResolvedSource } from '../pkgsource/types.js';
import type { ImageUser } from '../image/users.js';
import type { ImageContents } from '../sbom/contents.js';
import type { SourceProvenance } from '../sbom/provenance.js';
import type { Secret } from '../secret.js';

/** One image to build from package names: packages for one architecture from one pinned package set. */
export interface ImageBuildRequest {
  kind?: 'packages';
  packages: string[];
  arch: Architecture;
  hasShell: boolean;
  /** Who the image runs as; root when absent. */
  user?: ImageUser;
  source: ResolvedSource;
}

/** Something that turns an image request into stored layer blobs. */
export interface ImageBuilder {
  /** How this builder turns a closure into layers: part of the cache identity of its images. */
  readonly layout: LayerLayout;
  /**
   * Builds the image's layers and stores each under `layers/<sha256>`; returns them bottom
   * first. Throws `RegistryError` for failures the client should see (missing packages…).
   * Reports its phases and log through `progress` and stops when its signal aborts.
   */
  buildLayers(request: ImageBuildRequest, progress?: BuildProgress): Promise<BuiltLayers>;
}

/** An image's stored layers, bottom first, and what they hold (for its SBOMs; absent when the builder cannot tell). */
export interface BuiltLayers {
  layers: LayerInfo[];
  contents?: ImageContents;
}

/** One image to build from an app's source (see `source/source-builder.ts`). */
export interface SourceBuildRequest {
  kind: 'source';
  /** The repository URL (it may hold credentials: a secret). */
  repo: Secret;
  /** A branch, a tag or a full commit; the default branch when absent. */
  ref: string | undefined;
  /** The app's directory inside the repository (`''`: the top). */
  dir: string;
  overrides: SourceOverrides;
  arch: Architecture;
  /** The package set the plan's packages come from. */
  source: ResolvedSource;
  /** Longest the whole build may take, in seconds. */
  timeoutSeconds: number;
}

/** An image a builder made: its layers (stored), what its config says, what it holds, and (from source) how it was made. */
export interface BuiltImage {
  layers: LayerInfo[];
  config: ImageConfigInput;
  contents?: ImageContents;
  provenance?: SourceProvenance;
}

/** Realises packages and packs their layers, with other work in between (the package builder). */
export interface PackageLayers {
  build<T>(request: ImageBuildRequest, progress: BuildProgress | undefined, between: (roots: readonly string[]) => Promise<T>): Promise<{ layers: LayerInfo[]; value: T; contents: ImageContents }>;
}

/** What a build makes: an image of package names, or one from application source. */
export type BuildRequest = ImageBuildRequest | SourceBuildRequest;

/** A build's callback as planned: the token is a secret, kept apart from the record. */
export interface PlannedCallback {
  url: string;
  token: Secret;
  /** The host[:port] clients pull from, for the image reference in the POSTs. */
  registryHost: string;
}

/** A build of one image, pinned and ready to run here or on any replica. */
export interface ImageBuildPlan {
  /** The record's fields and the image's cache key (builds with the same key are the same build). */
  spec: BuildSpec;
  request: BuildRequest;
  /** Who the build counts against (build limits). */
  client: BuildClient;
  /** The callback to keep once the build has its id (not part of the queue's job). */
  callback?: PlannedCallback;
}
