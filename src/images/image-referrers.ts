/**
 * The artifacts attached to images, and the referrers API's answers: an image's SBOMs (SPDX and
 * CycloneDX, made from the closure its build knows) are stored as artifacts whose subject is each
 * of its manifests (both flavours), with a descriptor under `referrers/<subject>/` that every
 * instance lists. What a subject's referrers are is kept in memory once read (they are written
 * once, with the image, before its manifest is stored).
 */
import { LRUCache } from 'lru-cache';
import { referrerKey, referrersPrefix } from '../../storage/keys.js';
import type { BuildArtifact } from '../builds/record.js';
import type { Storage } from '../../storage/types.js';
import { toDocument, toDocumentAsBuilt, type Document, type ImageManifests } from '../image/manifest.js';
import { artifactManifest, EMPTY_JSON, type ReferrerDescriptor } from '../image/referrers.js';
import type { ImageContents } from '../sbom/contents.js';
import { CYCLONEDX_MEDIA_TYPE, cycloneDxDocument } from '../sbom/cyclonedx.js';
import type { SbomSubject } from '../sbom/packages.js';
import type { ManifestCache } from './manifest-cache.js';
import { SPDX_MEDIA_TYPE, spdxDocument } from '../sbom/spdx.js';
import { IN_TOTO_MEDIA_TYPE, provenanceStatement, type ProvenanceRun, type SourceProvenance } from '../sbom/provenance.js';

/**
 * Artifacts made for an image, not stored yet: every digest they add (for the image's links),
 * the OCI manifest's artifacts (for the record), and what {@link ImageReferrers.store} writes.
 */
export interface PreparedArtifacts {
  digests: string[];
  artifacts: BuildArtifact[];
  /** The subjects (both manifests), the documents to store as blobs, and each subject's descriptors. */
  subjects: string[];
  blobs: Document[];
  lists: { subject: string; name: string; descriptors: ReferrerDescriptor[] }[];
}

/** Subjects whose referrers are kept in memory. */
const MEMORY_SUBJECTS = 10_000;

/** A document to attach to an image, and the file name clients save it under. */
export interface Attachment {
  document: Document;
  title: string;
}

/** An image's SBOMs, SPDX and CycloneDX, to attach (pure). */
export function sbomArtifacts(contents: ImageContents, subject: SbomSubject): Attachment[] {
  return [
    { document: toDocumentAsBuilt(SPDX_MEDIA_TYPE, spdxDocument(contents, subject)), title: 'sbom.spdx.json' },
    { document: toDocumentAsBuilt(CYCLONEDX_MEDIA_TYPE, cycloneDxDocument(contents, subject)), title: 'sbom.cdx.json' },
  ];
}

/**
 * The artifacts of `documents` referring to both manifests of an image, ready to store (pure):
 * one referrers object per subject for the artifacts attached together, named after the first.
 */
export function prepareArtifacts(manifests: ImageManifests, documents: readonly Attachment[]): PreparedArtifacts {
  const images = [manifests.oci, manifests.docker];
  const artifacts = images.flatMap((image) => documents.map(({ document, title }) => ({ subject: image, content: document, ...artifactManifest(document.mediaType, document, title, image) })));
  const blobs = [...documents.map(({ document }) => document), EMPTY_JSON, ...artifacts.map((artifact) => artifact.manifest)];
  return {
    digests: blobs.map((document) => document.digest),
    artifacts: artifacts.filter((artifact) => artifact.subject === manifests.oci).map(({ descriptor, content }) => ({ artifactType: descriptor.artifactType, manifest: descriptor.digest, content: content.digest })),
    subjects: images.map((image) => image.digest),
    blobs,
    lists: images.map((image) => {
      const own = artifacts.filter((artifact) => artifact.subject === image);
      return { subject: image.digest, name: (own[0] as (typeof own)[number]).manifest.digest, descriptors: own.map((artifact) => artifact.descriptor) };
    }),
  };
}

/** The provenance of an image from source (an in-toto statement, SLSA v1), to attach (pure). */
export function provenanceArtifact(source: SourceProvenance, run: ProvenanceRun): Attachment {
  return { document: toDocument(IN_TOTO_MEDIA_TYPE, provenanceStatement(source, run)), title: 'provenance.intoto.json' };
}

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
