/**
 * The pull-facing side: name + tag → revision → cache key → the manifests to serve. The tag is
 * pinned by the package source, the cache key made from the image's identity; the manifests
 * come from memory, else storage, else one build for all concurrent requests of the key
 * ({@link ImageBuilds}). When several architectures are configured and the name picks none,
 * each architecture's image is built and an index (OCI image index and Docker manifest list)
 * lists them, stored under a cache key of its own. Which document a client gets is decided by
 * content negotiation (`image/negotiate.ts`).
 */
import { indexCacheKey } from '../../storage/keys.js';
import type { BuildClient } from '../builds/types.js';
import { SingleFlight } from '../concurrency.js';
import { RegistryError, toRegistryError, type ErrorCode } from '../errors.js';
import type { Architecture, ImageRequest } from '../image/image-name.js';
import { referrersIndex } from '../image/referrers.js';
import { imageIndexes, type Document, type ImageManifests, type PlatformImage } from '../image/manifest.js';
import type { Logger } from '../log.js';
import { manifestsServed } from '../metrics/metrics.js';
import type { PackageSource, ResolvedSource } from '../pkgsource/types.js';
import type { ImageBuilds, Platforms } from './image-builds.js';
import type { ImageLinks } from './image-links.js';
import type { ImageReferrers } from './image-referrers.js';
import type { ManifestCache, ServableDocuments } from './manifest-cache.js';

/**
 * Failures that belong to one architecture's package set (the package does not exist, build or
 * evaluate there): that architecture is left out of an index. Anything else (timeouts, storage)
 * fails the whole pull, so that no incomplete index is ever cached.
 */
export const PLATFORM_SPECIFIC_FAILURES: ReadonlySet<ErrorCode> = new Set(['MANIFEST_UNKNOWN', 'PACKAGE_BROKEN', 'PACKAGE_UNFREE', 'NIX_EVALUATION_ERROR', 'NIX_BUILD_FAILED']);

/** Where the documents of a pull came from (the `from` label of `nixyard_manifests_served_total`). */
type Served = 'memory' | 'storage' | 'build';

/** What the image service needs. */
export interface ImageServiceDeps {
  packageSource: PackageSource;
  builds: ImageBuilds;
  cache: ManifestCache;
  links: ImageLinks;
  referrers: ImageReferrers;
  platforms: Platforms;
  log: Logger;
}

/** Finds or builds images' manifests for pulls; serves manifests by digest. */
export class ImageService {
  private readonly images = new SingleFlight<{ manifests: ImageManifests; from: Served }>();
  private readonly indexes = new SingleFlight<{ documents: ServableDocuments; from: Served }>();

  constructor(private readonly deps: ImageServiceDeps) {}

  /**
   * The documents that can be served for an image name (an image's manifests, or an index and
   * the default architecture's manifests), from cache or storage, or built once for all
   * concurrent callers; a build counts against `client`.
   */
  async manifests(request: ImageRequest, client: BuildClient): Promise<ServableDocuments> {
    if (this.deps.builds.isSourceImage(request.name)) return this.tagged(request.name, request.tag);
    const source = await this.deps.packageSource.resolve(request.tag);
    const { architectures, defaultArch } = this.deps.platforms;
    if (request.arch || architectures.length === 1) {
      const { manifests, from } = await this.image(request, source, request.arch ?? defaultArch, client);
      manifestsServed.inc({ from });
      return [manifests.oci, manifests.docker];
    }
    const { documents, from } = await this.index(request, source, client);
    manifestsServed.inc({ from });
    return documents;
  }

  /** The manifest or index with `digest` of an image served through `name`'s scope, or `undefined` when it has none. */
  async manifestByDigest(name: string, digest: string): Promise<Document | undefined> {
    return (await this.deps.links.holds(name, digest)) ? this.deps.cache.manifestByDigest(digest) : undefined;
  }

  /**
   * The referrers index of the manifest `subject` through `name` (`artifactType` only, when
   * given): empty when the name's images do not hold the subject, as for an unknown one.
   */
  async referrers(name: string, subject: string, artifactType?: string): Promise<Document> {
    const held = await this.deps.links.holds(name, subject);
    return referrersIndex(held ? await this.deps.referrers.referrers(subject) : [], artifactType);
  }

  /** True when an image served through `name`'s scope holds the blob `digest`. */
  holds(name: string, digest: string): Promise<boolean> {
    return this.deps.links.holds(name, digest);
  }

  /** The tags of an image built from source (those its builds stored); `undefined` for package names, whose tags are the package source's. */
  sourceTags(name: string): Promise<string[]> | undefined {
    return this.deps.builds.isSourceImage(name) ? this.deps.cache.tags(name) : undefined;
  }

  /** An image built from source, by tag: never built on a pull, never read as package names. */
  private async tagged(name: string, tag: string): Promise<ServableDocuments> {
    const image = await this.deps.cache.tagged(name, tag);
    if (!image) {
      const tags = await this.deps.cache.tags(name);
      const known = tags.length === 0 ? `${name} has no tags yet` : `its tags are ${tags.join(', ')}`;
      throw new RegistryError('MANIFEST_UNKNOWN', `${name}:${tag} has not been built: images under the apps prefix come from builds of their source (POST /v1/builds with a source); ${known}`, { detail: { name, tag } });
    }
    await this.deps.links.linkImage(name, image);
    return [image.oci, image.docker];
  }

  /** One architecture's image, linked to the request's name. */
  private async image(request: ImageRequest, source: ResolvedSource, arch: Architecture, client: BuildClient): Promise<{ manifests: ImageManifests; from: Served }> {
    const found = await this.unlinkedImage(request, source, arch, client);
    await this.deps.links.linkImage(request.name, found.manifests);
    return found;
  }

  private async unlinkedImage(request: ImageRequest, source: ResolvedSource, arch: Architecture, client: BuildClient): Promise<{ manifests: ImageManifests; from: Served }> {
    const { builds, cache } = this.deps;
    const key = builds.cacheKey(request, source, arch);
    const cached = cache.recall(key);
    if (cached) return { manifests: { oci: cached[0] as Document, docker: cached[1] as Document }, from: 'memory' };
    return this.images.run(key, async () => {
      const stored = await cache.storedImage(key);
      if (stored) {
        cache.remember(key, [stored.oci, stored.docker]);
        return { manifests: stored, from: 'storage' };
      }
      // Answered once the image is stored; the record says `succeeded` a moment later (how the
      // build ends is the pull's answer: `done` settles the same way).
      const build = builds.start(builds.planFor(request, source, arch, { trigger: 'pull', client }));
      build.done.catch(() => undefined);
      return { manifests: await build.ready, from: 'build' };
    });
  }

  /**
   * The index over the configured architectures' images, linked to the request's name (from
   * memory only once this instance linked it: linking needs every platform's image).
   */
  private async index(request: ImageRequest, source: ResolvedSource, client: BuildClient): Promise<{ documents: ServableDocuments; from: Served }> {
    const { builds, cache, platforms, links } = this.deps;
    const key = indexCacheKey(platforms.architectures.map((arch) => builds.cacheKey(request, source, arch)));
    const cached = cache.recall(key);
    if (cached && links.linked(request.name, (cached[0] as Document).digest)) return { documents: cached, from: 'memory' };
    return this.indexes.run(key, async () => {
      const stored = await cache.storedIndex(key);
      const images = stored ?? (await this.buildPlatforms(request, source, client));
      const indexes = imageIndexes(images);
      if (!stored) await cache.storeIndex(key, indexes);
      await links.linkIndex(request.name, indexes, images);
      const fallback = images.find((image) => image.arch === platforms.defaultArch) ?? (images[0] as PlatformImage);
      const documents = [indexes.oci, indexes.docker, fallback.manifests.oci, fallback.manifests.docker];
      cache.remember(key, documents);
      return { documents, from: stored ? 'storage' : 'build' };
    });
  }

  /** Builds every architecture; leaves out those whose package set cannot have the image. */
  private async buildPlatforms(request: ImageRequest, source: ResolvedSource, client: BuildClient): Promise<PlatformImage[]> {
    const { architectures, defaultArch } = this.deps.platforms;
    const outcomes = await Promise.allSettled(architectures.map((arch) => this.image(request, source, arch, client)));
    const images: PlatformImage[] = [];
    outcomes.forEach((outcome, i) => {
      const arch = architectures[i] as Architecture;
      if (outcome.status === 'fulfilled') {
        images.push({ arch, manifests: outcome.value.manifests });
        return;
      }
      const error = toRegistryError(outcome.reason);
      if (arch === defaultArch || !PLATFORM_SPECIFIC_FAILURES.has(error.code)) throw outcome.reason;
      this.deps.log.warn('architecture left out of the index', { arch, packages: request.packages.join(','), code: error.code });
    });
    return images;
  }
}
