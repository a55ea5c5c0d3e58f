/**
 * The builder contract: the image service asks a builder for an image's layers, the builder
 * makes and stores them. Each kind of image (package names today) has its builder behind this
 * one interface, so records, runner and queue never ask which kind they run.
 */
import type { LayerLayout } from '../../storage/keys.js';
import type { BuildProgress, BuildSpec } from '../builds/build-runner.js';
import type { BuildClient } from '../builds/types.js';
import type { Architecture } from '../image/image-name.js';
import type { LayerInfo } from '../image/manifest.js';
import type { ResolvedSource } from '../pkgsource/types.js';

/** One image to build: packages for one architecture from one pinned package set. */
export interface ImageBuildRequest {
  packages: string[];
  arch: Architecture;
  hasShell: boolean;
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
  buildLayers(request: ImageBuildRequest, progress?: BuildProgress): Promise<LayerInfo[]>;
}

/** A build of one image, pinned and ready to run here or on any replica. */
export interface ImageBuildPlan {
  /** The record's fields and the image's cache key (builds with the same key are the same build). */
  spec: BuildSpec;
  request: ImageBuildRequest;
  /** Who the build counts against (build limits). */
  client: BuildClient;
}
