/**
 * The images side wired from its parts: one manifest cache shared by the pull-facing service
 * and the image builds (which the builds API and the queue also run).
 */
import type { Storage } from '../../storage/types.js';
import type { ImageBuilder } from '../builder/types.js';
import type { BuildRunner } from '../builds/build-runner.js';
import type { ClientLimits } from '../builds/client-limits.js';
import type { ImageManifests } from '../image/manifest.js';
import type { Logger } from '../log.js';
import type { PackageSource } from '../pkgsource/types.js';
import { ImageBuilds, type Platforms, type SourceImages } from './image-builds.js';
import { ImageDelivery, type ImageDeliveryDeps } from './image-delivery.js';
import { ImageLinks } from './image-links.js';
import { ImageReferrers } from './image-referrers.js';
import { ImageService } from './image-service.js';
import { ManifestCache } from './manifest-cache.js';

export type { Platforms, SourceImages } from './image-builds.js';

/** What the images side is made from. */
export interface ImagesDeps {
  storage: Storage;
  builder: ImageBuilder;
  packageSource: PackageSource;
  platforms: Platforms;
  runner: BuildRunner<ImageManifests>;
  /** Manifests kept in memory (`NIXYARD_MANIFEST_CACHE_SIZE`). */
  cacheSize: number;
  limits?: ClientLimits;
  /** Why this instance takes no new builds now (serve-only, stopping); `undefined` when it does. */
  refusal?: () => string | undefined;
  /** Builds from application source; off when absent. */
  source?: SourceImages;
  /** Pushes and callbacks; none when absent. */
  delivery?: Omit<ImageDeliveryDeps, 'cache'>;
  /** Whether images get SBOMs (`NIXYARD_SBOMS`, on by default). */
  sboms?: boolean;
  log: Logger;
}

const NO_DELIVERY: Omit<ImageDeliveryDeps, 'cache'> = { pusher: undefined, defaultPush: [], appsPrefix: 'apps', callbacks: undefined, allowPrivateCallbacks: false, publicHost: undefined };

/** The pull-facing service (`images`) and the builds of images (`builds`). */
export function createImages(deps: ImagesDeps): { images: ImageService; builds: ImageBuilds; delivery: ImageDelivery } {
  const cache = new ManifestCache(deps.storage, deps.cacheSize);
  const links = new ImageLinks(deps.storage, deps.source?.prefix);
  const referrers = new ImageReferrers(deps.storage, cache);
  const delivery = new ImageDelivery({ ...(deps.delivery ?? NO_DELIVERY), cache });
  const builds = new ImageBuilds({ builder: deps.builder, source: deps.source, runner: deps.runner, cache, links, referrers: deps.sboms === false ? undefined : referrers, delivery, packageSource: deps.packageSource, platforms: deps.platforms, limits: deps.limits, refusal: deps.refusal, log: deps.log });
  const images = new ImageService({ packageSource: deps.packageSource, builds, cache, links, referrers, platforms: deps.platforms, log: deps.log });
  return { images, builds, delivery };
}
