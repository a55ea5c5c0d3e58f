/**
 * Which blobs and manifests a name may serve by digest, as CNCF distribution links blobs into
 * repositories: only those of an image served or built through a name of the same scope (the same
 * packages, however spelled; the same name for images from source). Without this, whoever learns
 * a protected image's digests could read it through an open name.
 *
 * A link (`links/<scope>/<digest>`, see `storage/keys.ts`) is written once, when an image is built
 * or first served by an instance, before its manifest is answered; every instance reads them. In
 * memory: the links this instance knows to be stored, and each scope's digests, so that the warm
 * path asks storage nothing.
 */
import { LRUCache } from 'lru-cache';
import { linkKey, linksPrefix, packageLinkScope, sourceLinkScope } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import { SingleFlight } from '../concurrency.js';
import { matchesPrefix } from '../image/grammar.js';
import { parseImageName } from '../image/image-name.js';
import { imageDigests, indexDigests, type Document, type ImageManifests, type PlatformImage } from '../image/manifest.js';
import type { ManifestFlavour } from '../image/media-types.js';

/** Bytes of digests kept in memory: tens of thousands of images' worth. */
const MEMORY_BYTES = 8 * 1024 * 1024;
/** What a digest costs in a set: its 71 characters and the set's slot. */
const DIGEST_BYTES = 120;

/** What a link holds. */
interface LinkRecord {
  digests: string[];
}

/** The links of images to the names they are served through. */
export class ImageLinks {
  /** Links known to be in storage: `<scope>/<document digest>`. */
  private readonly stored = new LRUCache<string, true>({ max: 50_000 });
  /** The digests of each scope's links, as last read or written here. */
  private readonly digests: LRUCache<string, Set<string>>;
  private readonly scopes = new LRUCache<string, string>({ max: 10_000 });
  private readonly loads = new SingleFlight<Set<string>>();

  constructor(
    private readonly storage: Storage,
    /** Names under this prefix are images from source; `undefined`: there are none. */
    private readonly sourcePrefix: string | undefined,
    maxBytes = MEMORY_BYTES,
  ) {
    this.digests = new LRUCache({ maxSize: maxBytes, sizeCalculation: (set) => Math.max(1, set.size * DIGEST_BYTES) });
  }

  /**
   * Links an image, and `attached` (the digests of its artifacts: SBOMs), to `name`'s scope;
   * resolves once it is stored (at once when this instance did so before).
   */
  linkImage(name: string, manifests: ImageManifests, attached: readonly string[] = []): Promise<void> {
    return this.link(name, manifests.oci.digest, () => [...new Set([...imageDigests(manifests), ...attached])].sort());
  }

  /** Links an index and its platforms' images to `name`'s scope. */
  linkIndex(name: string, indexes: Record<ManifestFlavour, Document>, images: readonly PlatformImage[]): Promise<void> {
    return this.link(name, indexes.oci.digest, () => indexDigests(indexes, images));
  }

  /**
   * Links the image or index whose OCI document is `documentDigest`, holding `digests` (asked for
   * only when the link is not known here), to `name`'s scope.
   */
  private async link(name: string, documentDigest: string, digests: () => readonly string[]): Promise<void> {
    const scope = this.scopeOf(name);
    const id = `${scope}/${documentDigest}`;
    if (this.stored.has(id)) return;
    const held = digests();
    const key = linkKey(scope, documentDigest);
    if (!(await this.storage.stat(key))) await this.storage.put(key, JSON.stringify({ digests: [...held] } satisfies LinkRecord), 'application/json');
    this.stored.set(id, true);
    const known = this.digests.get(scope);
    if (known) {
      held.forEach((digest) => known.add(digest));
      this.digests.set(scope, known);
    }
  }

  /** True when this instance knows the image or index `documentDigest` to be linked to `name`'s scope. */
  linked(name: string, documentDigest: string): boolean {
    return this.stored.has(`${this.scopeOf(name)}/${documentDigest}`);
  }

  /** True when an image linked to `name`'s scope holds `digest` (read from storage when not known here). */
  async holds(name: string, digest: string): Promise<boolean> {
    const scope = this.scopeOf(name);
    if (this.digests.get(scope)?.has(digest)) return true;
    return (await this.loads.run(scope, () => this.load(scope))).has(digest);
  }

  /** Every digest the stored links of `scope` hold. */
  private async load(scope: string): Promise<Set<string>> {
    const keys = await this.storage.list(linksPrefix(scope));
    const records = await Promise.all(keys.map((key) => this.storage.get(key)));
    const digests = new Set<string>();
    for (const body of records) {
      if (body) (JSON.parse(body.toString('utf8')) as LinkRecord).digests.forEach((digest) => digests.add(digest));
    }
    this.digests.set(scope, digests);
    return digests;
  }

  /** The scope of a name: its packages, or the name itself for an image from source. */
  private scopeOf(name: string): string {
    let scope = this.scopes.get(name);
    if (scope === undefined) {
      const fromSource = this.sourcePrefix !== undefined && matchesPrefix(name, this.sourcePrefix);
      scope = fromSource ? sourceLinkScope(name) : packageLinkScope(parseImageName(name, 'latest').packages);
      this.scopes.set(name, scope);
    }
    return scope;
  }
}
