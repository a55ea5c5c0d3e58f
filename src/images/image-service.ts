/**
 * Manifests for image requests: memory cache (lru-cache) → storage `manifests/<cache key>` →
 * single-flight build. A built image's config and both manifest flavours are stored as blobs
 * (so every manifest served by tag can be fetched by digest, on any instance) and the OCI
 * manifest under `manifests/<cache key>`. When several architectures are configured and the
 * name picks none, each architecture's image is built and an index (OCI image index and Docker
 * manifest list) lists them; the OCI index is stored under its own cache key. Every build runs
 * through the {@link BuildRunner}, which records it, bounds how many run at once and joins
 * builds of the same image, whether a pull or the API asked for it.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Storage } from '../../storage/types.js';
import type { BuildOutcome, BuildProgress, BuildRunner, BuildSpec, RunningBuild, StartOptions } from '../builds/build-runner.js';
import type { BuildRecord, BuildTrigger } from '../builds/record.js';
import { RegistryError, toRegistryError, type ErrorCode } from '../errors.js';
import { canonicalJson } from '../image/canonical-json.js';
import { digestHex } from '../image/grammar.js';
import type { Architecture, ImageRequest } from '../image/image-name.js';
import {
  imageDocuments,
  imageIndexes,
  manifestsFromStoredOci,
  parseStoredIndex,
  type Document,
  type ImageManifests,
  type PlatformImage,
} from '../image/manifest.js';
import { MANIFEST_MEDIA_TYPES, MediaType } from '../image/media-types.js';
import type { Logger } from '../log.js';
import type { PackageSource, ResolvedSource } from '../pkgsource/types.js';
import { JOB_VERSION, type BuildJob } from '../queue/job.js';
import { blobKey } from '../builder/pack-layer.js';
import { SingleFlight } from '../concurrency.js';
import type { ImageBuildRequest, ImageBuilder } from '../builder/types.js';

/** Bump when the meaning of a cache entry changes (manifest layout, config fields). */
export const MANIFEST_CACHE_VERSION = 1;

/**
 * Failures that belong to one architecture's package set (the package does not exist, build or
 * evaluate there): that architecture is left out of an index. Anything else (timeouts, storage)
 * fails the whole pull, so that no incomplete index is ever cached.
 */
export const PLATFORM_SPECIFIC_FAILURES: ReadonlySet<ErrorCode> = new Set(['MANIFEST_UNKNOWN', 'PACKAGE_BROKEN', 'PACKAGE_UNFREE', 'NIX_EVALUATION_ERROR', 'NIX_BUILD_FAILED']);

/** What the image service needs. */
export interface ImageServiceDeps {
  storage: Storage;
  builder: ImageBuilder;
  packageSource: PackageSource;
  defaultArch: Architecture;
  /** Architectures an image without `arm64`/`amd64` in its name is built for; more than one gives an index. */
  architectures?: readonly Architecture[];
  cacheSize: number;
  log: Logger;
  /** Runs and records builds. */
  runner: BuildRunner<ImageManifests>;
  /** Where API and webhook builds go to be run by any replica (RabbitMQ); absent, they run here. */
  queue?: JobQueue;
}

/** A queue of build jobs shared by the replicas. */
export interface JobQueue {
  /** Publishes a job; resolves once the queue has it (and rejects when it could not take it). */
  enqueue(job: BuildJob): Promise<void>;
}

/** Who asked for a build besides the image name (API and webhook builds). */
export interface BuildOrigin {
  trigger: BuildTrigger;
  /** Architecture when the name picks none; the default architecture otherwise. */
  arch?: Architecture;
  retryOf?: string;
}

/** The manifest cache key of an image: hash of everything that determines its content. */
export function manifestCacheKey(source: ResolvedSource, packages: readonly string[], arch: Architecture, builderVersion: string): string {
  const identity = canonicalJson({ v: MANIFEST_CACHE_VERSION, revision: source.revision, packages, arch, builder: builderVersion });
  return createHash('sha256').update(identity).digest('hex');
}

/** The cache key of the index over the given architectures' images (by their cache keys). */
export function indexCacheKey(imageKeys: readonly string[]): string {
  return createHash('sha256').update(canonicalJson({ v: MANIFEST_CACHE_VERSION, index: imageKeys })).digest('hex');
}

/**
 * What can be served for an image name, most preferred first: for a single-platform image its
 * OCI and Docker manifests; for a multi-platform one the OCI index, the Docker manifest list,
 * then the default architecture's manifests for clients that accept no index.
 */
export type ServableDocuments = readonly Document[];

/** Finds or builds images' manifests; serves manifests by digest. */
export class ImageService {
  private readonly byKey: LRUCache<string, ServableDocuments>;
  private readonly byDigest: LRUCache<string, Document>;
  private readonly images = new SingleFlight<ImageManifests>();
  private readonly indexes = new SingleFlight<ServableDocuments>();

  constructor(private readonly deps: ImageServiceDeps) {
    this.byKey = new LRUCache({ max: deps.cacheSize });
    this.byDigest = new LRUCache({ max: deps.cacheSize * 4 });
  }

  private get architectures(): readonly Architecture[] {
    return this.deps.architectures ?? [this.deps.defaultArch];
  }

  /** The documents for an image name, from cache or storage, or built once for all concurrent callers. */
  async manifests(request: ImageRequest): Promise<ServableDocuments> {
    const source = await this.deps.packageSource.resolve(request.tag);
    if (request.arch || this.architectures.length === 1) {
      const image = await this.image(request, source, request.arch ?? this.deps.defaultArch);
      return [image.oci, image.docker];
    }
    return this.index(request, source);
  }

  /** One architecture's image. */
  private async image(request: ImageRequest, source: ResolvedSource, arch: Architecture): Promise<ImageManifests> {
    const key = manifestCacheKey(source, request.packages, arch, this.deps.builder.version);
    const cached = this.byKey.get(key);
    if (cached) return { oci: cached[0] as Document, docker: cached[1] as Document };
    return this.images.run(key, async () => {
      const stored = await this.deps.storage.get(`manifests/${key}`);
      const manifests = stored ? manifestsFromStoredOci(stored) : await this.startBuild(key, buildRequestOf(request, source, arch), buildSpecOf(key, request, source, arch, { trigger: 'pull' })).done;
      this.remember(key, [manifests.oci, manifests.docker]);
      return manifests;
    });
  }

  /** The index over the configured architectures' images. */
  private async index(request: ImageRequest, source: ResolvedSource): Promise<ServableDocuments> {
    const archs = this.architectures;
    const key = indexCacheKey(archs.map((arch) => manifestCacheKey(source, request.packages, arch, this.deps.builder.version)));
    const cached = this.byKey.get(key);
    if (cached) return cached;
    return this.indexes.run(key, async () => {
      const stored = await this.deps.storage.get(`manifests/${key}`);
      const images = stored ? await this.loadIndexedImages(stored) : await this.buildPlatforms(request, source, archs);
      const indexes = imageIndexes(images);
      if (!stored) {
        await Promise.all([indexes.oci, indexes.docker].map((doc) => putBlob(this.deps.storage, doc)));
        await this.deps.storage.put(`manifests/${key}`, indexes.oci.body, MediaType.ociIndex);
      }
      const fallback = images.find((image) => image.arch === this.deps.defaultArch) ?? (images[0] as PlatformImage);
      const documents = [indexes.oci, indexes.docker, fallback.manifests.oci, fallback.manifests.docker];
      this.remember(key, documents);
      return documents;
    });
  }

  /** Builds every architecture; leaves out those whose package set cannot have the image. */
  private async buildPlatforms(request: ImageRequest, source: ResolvedSource, archs: readonly Architecture[]): Promise<PlatformImage[]> {
    const outcomes = await Promise.allSettled(archs.map((arch) => this.image(request, source, arch)));
    const images: PlatformImage[] = [];
    outcomes.forEach((outcome, i) => {
      const arch = archs[i] as Architecture;
      if (outcome.status === 'fulfilled') {
        images.push({ arch, manifests: outcome.value });
        return;
      }
      const error = toRegistryError(outcome.reason);
      if (arch === this.deps.defaultArch || !PLATFORM_SPECIFIC_FAILURES.has(error.code)) throw outcome.reason;
      this.deps.log.warn('architecture left out of the index', { arch, packages: request.packages.join(','), code: error.code });
    });
    return images;
  }

  /** The images a stored index lists, read back from their stored OCI manifests. */
  private async loadIndexedImages(body: Buffer): Promise<PlatformImage[]> {
    return Promise.all(
      parseStoredIndex(body).map(async ({ arch, digest }) => {
        const manifest = await this.deps.storage.get(blobKey(digest));
        if (!manifest) throw new RegistryError('MANIFEST_UNKNOWN', `the stored index lists ${digest}, which is missing from storage`);
        return { arch, manifests: manifestsFromStoredOci(manifest) };
      }),
    );
  }

  /**
   * Starts a build of one architecture's image for the API (or a webhook) and returns its
   * record once it is stored: on the queue when there is one, else here, joining the build of
   * the same image already running. An image that is already built gets a record that
   * succeeds at once.
   */
  async submit(request: ImageRequest, origin: BuildOrigin): Promise<BuildRecord> {
    const arch = request.arch ?? origin.arch ?? this.deps.defaultArch;
    if (!this.architectures.includes(arch)) {
      throw new RegistryError('PARAMETER_INVALID', `this registry builds for ${this.architectures.join(', ')} (NIXYARD_ARCHITECTURES), not ${arch}`, { detail: { arch } });
    }
    const source = await this.deps.packageSource.resolve(request.tag);
    const key = manifestCacheKey(source, request.packages, arch, this.deps.builder.version);
    const buildRequest = buildRequestOf(request, source, arch);
    const spec = buildSpecOf(key, request, source, arch, origin);
    if (this.deps.queue) return this.enqueue(this.deps.queue, spec, buildRequest);
    const build = this.startBuild(key, buildRequest, spec);
    await build.saved;
    return build.record;
  }

  /** Writes the queued record of a build and publishes its job; no record is left when the queue refuses it. */
  private async enqueue(queue: JobQueue, spec: BuildSpec, request: ImageBuildRequest): Promise<BuildRecord> {
    const record = await this.deps.runner.create(spec);
    const job: BuildJob = { v: JOB_VERSION, id: record.id, key: spec.key, image: spec.image, tag: spec.tag, packages: [...request.packages], arch: request.arch, hasShell: request.hasShell, source: request.source, attempts: 0 };
    try {
      await queue.enqueue(job);
    } catch (error) {
      await this.deps.runner.store.remove(record.id).catch(() => undefined);
      throw new RegistryError('UNAVAILABLE', `the build queue (RabbitMQ, NIXYARD_AMQP_URL) did not take the build: ${(error as Error).message}; retry later`, {
        cause: error,
        headers: { 'Retry-After': '10' },
      });
    }
    return record;
  }

  /** Runs a job from the queue: the build of its (stored) record, taken over by this instance. */
  runJob(job: BuildJob, adopt: NonNullable<StartOptions['adopt']>, onFailure: StartOptions['onFailure']): RunningBuild<ImageManifests> {
    const { record } = adopt;
    const request: ImageBuildRequest = { packages: job.packages, arch: job.arch as Architecture, hasShell: job.hasShell, source: job.source };
    const spec: BuildSpec = { key: job.key, image: record.image, tag: record.tag, packages: record.packages, arch: record.arch, revision: record.revision, trigger: record.trigger, retryOf: record.retryOf ?? undefined };
    return this.startBuild(job.key, request, spec, { adopt, onFailure });
  }

  /** The running build of an image, or a new one (see {@link BuildRunner.startOrJoin}); a success is remembered. */
  private startBuild(key: string, request: ImageBuildRequest, spec: BuildSpec, options?: StartOptions): RunningBuild<ImageManifests> {
    const build = this.deps.runner.startOrJoin(
      spec,
      async (progress) => {
        const stored = await this.deps.storage.get(`manifests/${key}`);
        if (stored) {
          progress.note(`already built: manifests/${key} is in storage, nothing to do`);
          return outcomeOf(manifestsFromStoredOci(stored));
        }
        return this.buildAndStore(key, request, progress);
      },
      options,
    );
    // Whoever asked gets the record or the manifests; the cache gets the outcome either way.
    build.done.then(
      (manifests) => this.remember(key, [manifests.oci, manifests.docker]),
      () => undefined,
    );
    return build;
  }

  private async buildAndStore(key: string, request: ImageBuildRequest, progress: BuildProgress): Promise<BuildOutcome<ImageManifests>> {
    const started = Date.now();
    this.deps.log.info('building image', { key, packages: request.packages.join(','), arch: request.arch, revision: request.source.revision });
    try {
      const layers = await this.deps.builder.buildLayers(request, progress);
      progress.phase('uploading', 'image config and manifests');
      const documents = imageDocuments({ arch: request.arch, layers, hasShell: request.hasShell });
      const { storage } = this.deps;
      await Promise.all([documents.config, documents.manifests.oci, documents.manifests.docker].map((doc) => putBlob(storage, doc)));
      progress.signal.throwIfAborted();
      await storage.put(`manifests/${key}`, documents.manifests.oci.body, MediaType.ociManifest);
      this.deps.log.info('built image', { key, arch: request.arch, layers: layers.length, digest: documents.manifests.oci.digest, ms: Date.now() - started });
      return outcomeOf(documents.manifests);
    } catch (error) {
      const { code, message } = toRegistryError(error);
      if (code !== 'TOOMANYREQUESTS' && !progress.signal.aborted) this.deps.log.warn('image build failed', { key, packages: request.packages.join(','), arch: request.arch, code, message });
      throw error;
    }
  }

  private remember(key: string, documents: ServableDocuments): void {
    this.byKey.set(key, documents);
    for (const document of documents) this.byDigest.set(document.digest, document);
  }

  /** A stored manifest or index by digest, or `undefined` when none has that digest. */
  async manifestByDigest(digest: string): Promise<Document | undefined> {
    const cached = this.byDigest.get(digest);
    if (cached) return cached;
    const key = `layers/${digestHex(digest)}`;
    const info = await this.deps.storage.stat(key);
    if (!info || !MANIFEST_MEDIA_TYPES.has(info.contentType)) return undefined;
    const body = await this.deps.storage.get(key);
    if (!body) return undefined;
    const document = { mediaType: info.contentType, body, digest };
    this.byDigest.set(digest, document);
    return document;
  }
}

/** What Nix builds for an image request on one architecture. */
function buildRequestOf(request: ImageRequest, source: ResolvedSource, arch: Architecture): ImageBuildRequest {
  return { packages: request.packages, arch, hasShell: request.hasShell, source };
}

/** What the record of a build of `request` says. */
function buildSpecOf(key: string, request: ImageRequest, source: ResolvedSource, arch: Architecture, origin: BuildOrigin): BuildSpec {
  return { key, image: request.name, tag: request.tag, packages: request.packages, arch, revision: source.revision, trigger: origin.trigger, retryOf: origin.retryOf };
}

/** What a build record keeps of a built image: its layers and manifest digest. */
function outcomeOf(manifests: ImageManifests): BuildOutcome<ImageManifests> {
  const { layers } = JSON.parse(manifests.oci.body.toString('utf8')) as { layers: { digest: string; size: number }[] };
  return { value: manifests, layers: layers.map(({ digest, size }) => ({ digest, size })), manifestDigest: manifests.oci.digest };
}

/** Stores a small document as a blob unless it is already there. */
async function putBlob(storage: Storage, document: Document): Promise<void> {
  const key = blobKey(document.digest);
  if (!(await storage.stat(key))) await storage.put(key, document.body, document.mediaType);
}
