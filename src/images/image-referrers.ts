/**
 * The artifacts attached to images, and the referrers API's answers: an image's SBOMs and
 * provenance (`attachments.ts`) are stored as artifacts whose subject is each of its manifests
 * (both flavours), with their descriptors under `referrers/<subject>/`, which every instance
 * lists. A subject's referrers are kept in memory once read, and wait for attachments this
 * instance is still writing (a pull is answered before its image's SBOMs are stored).
 */
import { LRUCache } from 'lru-cache';
import { referrerKey, referrersPrefix } from '../../storage/keys.js';
import type { BuildArtifact } from '../builds/record.js';
import type { Storage } from '../../storage/types.js';
import type { ReferrerDescriptor } from '../image/referrers.js';
import type { PreparedArtifacts } from './attachments.js';
import type { ManifestCache } from './manifest-cache.js';

/** Subjects whose referrers are kept in memory. */
const MEMORY_SUBJECTS = 10_000;

/** Artifacts referring to images, in storage. */
export class ImageReferrers {
  private readonly known = new LRUCache<string, readonly ReferrerDescriptor[]>({ max: MEMORY_SUBJECTS });
  /** Attachments still being written, by subject: their referrers wait for them here. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly storage: Storage,
    private readonly cache: Pick<ManifestCache, 'putBlob' | 'manifestByDigest'>,
  ) {}

  /** Stores prepared artifacts; until they are stored, this instance's referrers of their subjects wait for them. */
  store(prepared: PreparedArtifacts): Promise<void> {
    // All at once: nothing lists them before they are all written.
    const written = Promise.all([
      ...prepared.blobs.map((document) => this.cache.putBlob(document)),
      ...prepared.lists.map(({ subject, name, descriptors }) => this.storage.put(referrerKey(subject, name), JSON.stringify(descriptors), 'application/json')),
    ]).then(() => undefined);
    for (const subject of prepared.subjects) {
      this.known.delete(subject);
      this.pending.set(subject, written);
      void written.catch(() => undefined).finally(() => this.pending.get(subject) === written && this.pending.delete(subject));
    }
    return written;
  }

  /** The artifacts referring to the manifest `subject`, with the digests of their content (read from their manifests). */
  async artifactsOf(subject: string): Promise<BuildArtifact[]> {
    const descriptors = await this.referrers(subject);
    const artifacts = await Promise.all(
      descriptors.map(async (descriptor) => {
        const manifest = await this.cache.manifestByDigest(descriptor.digest);
        const content = manifest && (JSON.parse(manifest.body.toString('utf8')) as { layers?: { digest: string }[] }).layers?.[0]?.digest;
        return content ? [{ artifactType: descriptor.artifactType, manifest: descriptor.digest, content }] : [];
      }),
    );
    return artifacts.flat().sort((a, b) => (a.artifactType < b.artifactType ? -1 : 1));
  }

  /**
   * The descriptors of the artifacts referring to the manifest `subject` (none for an unknown
   * one). Only lists that have some are kept in memory: a subject without any may be built later.
   */
  async referrers(subject: string): Promise<readonly ReferrerDescriptor[]> {
    await this.pending.get(subject)?.catch(() => undefined);
    const known = this.known.get(subject);
    if (known) return known;
    const keys = await this.storage.list(referrersPrefix(subject));
    const bodies = await Promise.all(keys.map((key) => this.storage.get(key)));
    const descriptors = bodies.flatMap((body) => (body ? (JSON.parse(body.toString('utf8')) as ReferrerDescriptor[]) : []));
    if (descriptors.length > 0) this.known.set(subject, descriptors);
    return descriptors;
  }
}
