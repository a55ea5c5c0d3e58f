/**
 * Manifests for image requests: memory cache (lru-cache) → storage `manifests/<cache key>` →
 * single-flight build. A built image's config and both manifest flavours are stored as blobs
 * (so every manifest served by tag can be fetched by digest, on any instance) and the OCI
 * manifest under `manifests/<cache key>`.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Storage } from '../../storage/types.js';
import { toRegistryError } from '../errors.js';
import { canonicalJson } from '../image/canonical-json.js';
import { digestHex } from '../image/grammar.js';
import type { Architecture, ImageRequest } from '../image/image-name.js';
import { imageDocuments, manifestsFromStoredOci, type Document } from '../image/manifest.js';
import { MANIFEST_MEDIA_TYPES, MediaType, type ManifestFlavour } from '../image/media-types.js';
import type { Logger } from '../log.js';
import type { PackageSource, ResolvedSource } from '../pkgsource/types.js';
import type { BuildHistory } from './build-history.js';
import { blobKey } from './pack-layer.js';
import { SingleFlight } from './single-flight.js';
import type { ImageBuildRequest, ImageBuilder } from './types.js';

/** Bump when the meaning of a cache entry changes (manifest layout, config fields). */
export const MANIFEST_CACHE_VERSION = 1;

/** An image's manifests in both flavours. */
export type ImageManifests = Record<ManifestFlavour, Document>;

/** What the image service needs. */
export interface ImageServiceDeps {
  storage: Storage;
  builder: ImageBuilder;
  packageSource: PackageSource;
  defaultArch: Architecture;
  cacheSize: number;
  log: Logger;
  /** Where finished builds are recorded for the index page. */
  history?: BuildHistory;
}

/** The manifest cache key of an image: hash of everything that determines its content. */
export function manifestCacheKey(source: ResolvedSource, packages: readonly string[], arch: Architecture, builderVersion: string): string {
  const identity = canonicalJson({ v: MANIFEST_CACHE_VERSION, revision: source.revision, packages, arch, builder: builderVersion });
  return createHash('sha256').update(identity).digest('hex');
}

/** Finds or builds images' manifests; serves manifests by digest. */
export class ImageService {
  private readonly byKey: LRUCache<string, ImageManifests>;
  private readonly byDigest: LRUCache<string, Document>;
  private readonly builds = new SingleFlight<ImageManifests>();

  constructor(private readonly deps: ImageServiceDeps) {
    this.byKey = new LRUCache({ max: deps.cacheSize });
    this.byDigest = new LRUCache({ max: deps.cacheSize * 2 });
  }

  /** The manifests of an image, from cache or storage, or built once for all concurrent callers. */
  async manifests(request: ImageRequest): Promise<ImageManifests> {
    const source = await this.deps.packageSource.resolve(request.tag);
    const arch = request.arch ?? this.deps.defaultArch;
    const key = manifestCacheKey(source, request.packages, arch, this.deps.builder.version);
    const cached = this.byKey.get(key);
    if (cached) return cached;
    return this.builds.run(key, async () => {
      const stored = await this.deps.storage.get(`manifests/${key}`);
      const manifests = stored
        ? manifestsFromStoredOci(stored)
        : await this.build(key, { packages: request.packages, arch, hasShell: request.hasShell, source });
      this.remember(key, manifests);
      return manifests;
    });
  }

  private async build(key: string, request: ImageBuildRequest): Promise<ImageManifests> {
    const started = Date.now();
    const summary = { packages: request.packages, arch: request.arch, revision: request.source.revision };
    try {
      const manifests = await this.buildAndStore(key, request);
      const layers = (JSON.parse(manifests.oci.body.toString('utf8')) as { layers: unknown[] }).layers.length;
      this.deps.history?.add({ ...summary, finishedAt: new Date(), durationMs: Date.now() - started, outcome: { status: 'succeeded', digest: manifests.oci.digest, layers } });
      return manifests;
    } catch (error) {
      const { code, message } = toRegistryError(error);
      this.deps.history?.add({ ...summary, finishedAt: new Date(), durationMs: Date.now() - started, outcome: { status: 'failed', code, message } });
      this.deps.log.warn('image build failed', { key, packages: request.packages.join(','), code, message });
      throw error;
    }
  }

  private async buildAndStore(key: string, request: ImageBuildRequest): Promise<ImageManifests> {
    const started = Date.now();
    this.deps.log.info('building image', { key, packages: request.packages.join(','), arch: request.arch, revision: request.source.revision });
    const layers = await this.deps.builder.buildLayers(request);
    const documents = imageDocuments({ arch: request.arch, layers, hasShell: request.hasShell });
    const { storage } = this.deps;
    await Promise.all([documents.config, documents.manifests.oci, documents.manifests.docker].map((doc) => putBlob(storage, doc)));
    await storage.put(`manifests/${key}`, documents.manifests.oci.body, MediaType.ociManifest);
    this.deps.log.info('built image', { key, layers: layers.length, digest: documents.manifests.oci.digest, ms: Date.now() - started });
    return documents.manifests;
  }

  private remember(key: string, manifests: ImageManifests): void {
    this.byKey.set(key, manifests);
    this.byDigest.set(manifests.oci.digest, manifests.oci);
    this.byDigest.set(manifests.docker.digest, manifests.docker);
  }

  /** A stored manifest by digest, or `undefined` when no manifest has that digest. */
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

/** Stores a small document as a blob unless it is already there. */
async function putBlob(storage: Storage, document: Document): Promise<void> {
  const key = blobKey(document.digest);
  if (!(await storage.stat(key))) await storage.put(key, document.body, document.mediaType);
}
