/** The builder contract: the image service asks for layers, the builder makes and stores them. */
import type { BuildProgress } from '../builds/build-runner.js';
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
  /**
   * Changes whenever the same request would give different layers (layering algorithm,
   * packing format): part of the manifest cache key.
   */
  readonly version: string;
  /**
   * Builds the image's layers and stores each under `layers/<sha256>`; returns them bottom
   * first. Throws `RegistryError` for failures the client should see (missing packages…).
   * Reports its phases and log through `progress` and stops when its signal aborts.
   */
  buildLayers(request: ImageBuildRequest, progress?: BuildProgress): Promise<LayerInfo[]>;
}
