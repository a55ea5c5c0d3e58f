/**
 * Builds of one architecture's image, whoever asked (a pull, the API, a webhook, a queued job):
 * pins what to build into an {@link ImageBuildPlan} (the cache key from the image's identity,
 * the record's fields, the builder's request, the client), and runs a plan through the
 * {@link BuildRunner}, which records it, bounds how many run at once and joins builds of the
 * same image. The work of a build: the image already stored (built by another instance or an
 * earlier request) → done; else the client's build limits admit it, the builder makes the
 * layers, and the config and manifests are stored under the cache key and remembered.
 */
import { manifestCacheKey, manifestKey } from '../../storage/keys.js';
import type { ImageBuildPlan, ImageBuilder } from '../builder/types.js';
import type { BuildOutcome, BuildProgress, BuildRunner, RunningBuild, StartOptions } from '../builds/build-runner.js';
import type { ClientLimits } from '../builds/client-limits.js';
import type { BuildRecord } from '../builds/record.js';
import type { BuildOrigin } from '../builds/types.js';
import { RegistryError } from '../errors.js';
import type { Architecture, ImageRequest } from '../image/image-name.js';
import { imageDocuments, type ImageManifests } from '../image/manifest.js';
import type { Logger } from '../log.js';
import type { PackageSource, ResolvedSource } from '../pkgsource/types.js';
import type { ManifestCache } from './manifest-cache.js';

/** The architectures this registry builds. */
export interface Platforms {
  /** Architecture of names that pick none, and of the single-platform fallback. */
  defaultArch: Architecture;
  /** Architectures an image without `arm64`/`amd64` in its name is built for; more than one gives an index. */
  architectures: readonly Architecture[];
}

/** What image builds need. */
export interface ImageBuildsDeps {
  builder: ImageBuilder;
  runner: BuildRunner<ImageManifests>;
  cache: ManifestCache;
  packageSource: PackageSource;
  platforms: Platforms;
  /** Per-client build limits; none when absent. */
  limits?: ClientLimits;
  log: Logger;
}

/** Plans and runs builds of images. */
export class ImageBuilds {
  constructor(private readonly deps: ImageBuildsDeps) {}

  /** The cache key of `request`'s image for `arch` at the pinned `source`. */
  cacheKey(request: ImageRequest, source: ResolvedSource, arch: Architecture): string {
    return manifestCacheKey({ revision: source.revision, packages: request.packages, arch, ...this.deps.builder.layout });
  }

  /** The plan of the build of `request`'s image for `arch` at the pinned `source`. */
  planFor(request: ImageRequest, source: ResolvedSource, arch: Architecture, origin: BuildOrigin): ImageBuildPlan {
    const key = this.cacheKey(request, source, arch);
    return {
      spec: { key, image: request.name, tag: request.tag, packages: request.packages, arch, revision: source.revision, trigger: origin.trigger, retryOf: origin.retryOf },
      request: { packages: request.packages, arch, hasShell: request.hasShell, source },
      client: origin.client,
    };
  }

  /**
   * The plan of a build asked for through the API or a webhook: one architecture (the name's,
   * else the origin's, else the default), the tag pinned to a revision now.
   */
  async plan(request: ImageRequest, origin: BuildOrigin): Promise<ImageBuildPlan> {
    const { architectures, defaultArch } = this.deps.platforms;
    const arch = request.arch ?? (origin.arch as Architecture | undefined) ?? defaultArch;
    if (!architectures.includes(arch)) {
      throw new RegistryError('PARAMETER_INVALID', `this registry builds for ${architectures.join(', ')} (NIXYARD_ARCHITECTURES), not ${arch}`, { detail: { arch } });
    }
    return this.planFor(request, await this.deps.packageSource.resolve(request.tag), arch, origin);
  }

  /** Starts the build of a plan here, or joins the running build of the same image (see {@link BuildRunner.startOrJoin}). */
  start(plan: ImageBuildPlan, options?: StartOptions): RunningBuild<ImageManifests> {
    return this.deps.runner.startOrJoin(plan.spec, (progress) => this.work(plan, progress), options);
  }

  /** Starts the build of a plan here and resolves with its record once it is stored. */
  async submit(plan: ImageBuildPlan): Promise<BuildRecord> {
    const build = this.start(plan);
    // The caller gets the record; how the build ends is in it (and in the log).
    build.done.catch(() => undefined);
    await build.saved;
    return build.record;
  }

  private async work(plan: ImageBuildPlan, progress: BuildProgress): Promise<BuildOutcome<ImageManifests>> {
    const { key } = plan.spec;
    const { cache } = this.deps;
    const stored = await cache.storedImage(key);
    if (stored) {
      progress.note(`already built: ${manifestKey(key)} is in storage, nothing to do`);
      return this.outcomeOf(key, stored);
    }
    const release = this.deps.limits?.admit(plan.client);
    try {
      const { request } = plan;
      const started = Date.now();
      this.deps.log.info('building image', { key, packages: request.packages.join(','), arch: request.arch, revision: request.source.revision });
      const layers = await this.deps.builder.buildLayers(request, progress);
      progress.phase('uploading', 'image config and manifests');
      const documents = imageDocuments({ arch: request.arch, layers, hasShell: request.hasShell });
      await cache.storeImage(key, documents, progress.signal);
      this.deps.log.info('built image', { key, arch: request.arch, layers: layers.length, digest: documents.manifests.oci.digest, ms: Date.now() - started });
      return this.outcomeOf(key, documents.manifests);
    } finally {
      release?.();
    }
  }

  /** What a build record keeps of a built image, which is remembered for the next pull. */
  private outcomeOf(key: string, manifests: ImageManifests): BuildOutcome<ImageManifests> {
    this.deps.cache.remember(key, [manifests.oci, manifests.docker]);
    const { layers } = JSON.parse(manifests.oci.body.toString('utf8')) as { layers: { digest: string; size: number }[] };
    return { value: manifests, layers: layers.map(({ digest, size }) => ({ digest, size })), manifestDigest: manifests.oci.digest };
  }
}
