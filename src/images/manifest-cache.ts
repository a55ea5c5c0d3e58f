/**
 * Built images' manifests, kept where every instance finds them: in memory (lru-cache, by
 * cache key and by digest, bounded in entries and in bytes) over storage, where each image's config and both manifest flavours
 * are blobs (`layers/<hex>`, so that every manifest served by tag can be fetched by digest, on
 * any instance) and the OCI manifest or index also sits under `manifests/<cache key>`.
 */
import { LRUCache } from 'lru-cache';
import { appTagKey, appTagsPrefix, blobKey, manifestKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import { RegistryError } from '../errors.js';
import { manifestsFromStoredOci, parseStoredIndex, type Document, type ImageDocuments, type ImageManifests, type PlatformImage } from '../image/manifest.js';
import { MANIFEST_MEDIA_TYPES, MediaType } from '../image/media-types.js';

/** Bytes of manifests kept in memory by default: thousands of images' documents. */
const MEMORY_BYTES = 16 * 1024 * 1024;

/** What a document costs in memory: its bytes and the object around them. */
const documentBytes = (document: Document): number => document.body.length + 200;

/** What `app-tags/<image>/<tag>` holds: the manifest, and the order of the build that moved it there. */
interface TagPointer {
  digest: string;
  order?: number;
}

/** What can be served for one image name: an image's manifests, or an index and its fallback. */
export type ServableDocuments = readonly Document[];

/** The manifests of built images: memory, then storage. */
export class ManifestCache {
  private readonly byKey: LRUCache<string, ServableDocuments>;
  private readonly byDigest: LRUCache<string, Document>;

  constructor(
    private readonly storage: Storage,
    /** Cache keys remembered in memory (`NIXYARD_MANIFEST_CACHE_SIZE`). */
    size: number,
    /** Bytes of documents kept in memory at most, by key and by digest each. */
    maxBytes = MEMORY_BYTES,
  ) {
    this.byKey = new LRUCache({ max: size, maxSize: maxBytes, sizeCalculation: (documents) => documents.reduce((sum, document) => sum + documentBytes(document), 0) });
    this.byDigest = new LRUCache({ max: size * 4, maxSize: maxBytes, sizeCalculation: documentBytes });
  }

  /** The documents remembered in memory for a cache key. */
  recall(key: string): ServableDocuments | undefined {
    return this.byKey.get(key);
  }

  /** Remembers the documents of a cache key, and each by its digest. */
  remember(key: string, documents: ServableDocuments): void {
    this.byKey.set(key, documents);
    for (const document of documents) this.byDigest.set(document.digest, document);
  }

  /** The stored image of a cache key, both flavours; `undefined` when it has not been built. */
  async storedImage(key: string): Promise<ImageManifests | undefined> {
    const stored = await this.storage.get(manifestKey(key));
    return stored && manifestsFromStoredOci(stored);
  }

  /** Stores the cache entry of an image whose documents ({@link storeDocuments}) are stored: from now on it is built. */
  async storeEntry(key: string, documents: ImageDocuments): Promise<void> {
    await this.storage.put(manifestKey(key), documents.manifests.oci.body, MediaType.ociManifest);
  }

  /** Stores an image's config and both manifests as blobs (fetchable by digest). */
  async storeDocuments(documents: ImageDocuments): Promise<void> {
    await Promise.all([documents.config, documents.manifests.oci, documents.manifests.docker].map((doc) => this.putBlob(doc)));
  }

  /**
   * Points `image:tag` (an image built from application source) at the stored OCI manifest
   * `digest`; `order` (when the push that asked for it arrived) lets {@link movableTags} keep a
   * newer build's tag from being moved back by an older one.
   */
  async tag(image: string, tag: string, digest: string, order?: number): Promise<void> {
    const pointer: TagPointer = order === undefined ? { digest } : { digest, order };
    await this.storage.put(appTagKey(image, tag), JSON.stringify(pointer), 'application/json');
  }

  /** Those of `tags` a build ordered `order` may move: none of them points to a build ordered later. */
  async movableTags(image: string, tags: readonly string[], order: number): Promise<string[]> {
    const pointers = await Promise.all(tags.map(async (tag) => ({ tag, pointer: await this.pointer(image, tag) })));
    return pointers.filter(({ pointer }) => (pointer?.order ?? -Infinity) <= order).map(({ tag }) => tag);
  }

  private async pointer(image: string, tag: string): Promise<TagPointer | undefined> {
    const stored = await this.storage.get(appTagKey(image, tag));
    return stored && (JSON.parse(stored.toString('utf8')) as TagPointer);
  }

  /** The image a tag of an image built from application source points to; `undefined` when it has no such tag. */
  async tagged(image: string, tag: string): Promise<ImageManifests | undefined> {
    const pointer = await this.pointer(image, tag);
    if (!pointer) return undefined;
    const { digest } = pointer;
    const manifest = await this.storage.get(blobKey(digest));
    if (!manifest) throw new RegistryError('MANIFEST_UNKNOWN', `${image}:${tag} points to ${digest}, which is missing from storage`);
    return manifestsFromStoredOci(manifest);
  }

  /** The tags of an image built from application source, sorted. */
  async tags(image: string): Promise<string[]> {
    const prefix = appTagsPrefix(image);
    return (await this.storage.list(prefix)).map((key) => key.slice(prefix.length)).filter((tag) => !tag.includes('/')).sort();
  }

  /** The platforms' images a stored index lists; `undefined` when the index has not been built. */
  async storedIndex(key: string): Promise<PlatformImage[] | undefined> {
    const stored = await this.storage.get(manifestKey(key));
    if (!stored) return undefined;
    return Promise.all(
      parseStoredIndex(stored).map(async ({ arch, digest }) => {
        const manifest = await this.storage.get(blobKey(digest));
        if (!manifest) throw new RegistryError('MANIFEST_UNKNOWN', `the stored index lists ${digest}, which is missing from storage`);
        return { arch, manifests: manifestsFromStoredOci(manifest) };
      }),
    );
  }

  /** Stores an index in both flavours as blobs, then the OCI one as the cache entry. */
  async storeIndex(key: string, indexes: Record<'oci' | 'docker', Document>): Promise<void> {
    await Promise.all([indexes.oci, indexes.docker].map((doc) => this.putBlob(doc)));
    await this.storage.put(manifestKey(key), indexes.oci.body, MediaType.ociIndex);
  }

  /** A stored manifest or index by digest, or `undefined` when none has that digest. */
  async manifestByDigest(digest: string): Promise<Document | undefined> {
    const cached = this.byDigest.get(digest);
    if (cached) return cached;
    const key = blobKey(digest);
    const info = await this.storage.stat(key);
    if (!info || !MANIFEST_MEDIA_TYPES.has(info.contentType)) return undefined;
    const body = await this.storage.get(key);
    if (!body) return undefined;
    const document = { mediaType: info.contentType, body, digest };
    this.byDigest.set(digest, document);
    return document;
  }

  /** Stores a small document as a blob unless it is already there. */
  async putBlob(document: Document): Promise<void> {
    const key = blobKey(document.digest);
    if (!(await this.storage.stat(key))) await this.storage.put(key, document.body, document.mediaType);
  }
}
