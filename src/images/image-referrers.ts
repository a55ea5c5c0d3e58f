/**
 * The artifacts attached to images, and the referrers API's answers: an image's SBOMs (SPDX and
 * CycloneDX, made from the closure its build knows) are stored as artifacts whose subject is each
 * of its manifests (both flavours), with a descriptor under `referrers/<subject>/` that every
 * instance lists. What a subject's referrers are is kept in memory once read (they are written
 * once, with the image, before its manifest is stored).
 */
import { LRUCache } from 'lru-cache';
import { blobKey, referrerKey, referrersPrefix } from '../../storage/keys.js';
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
 * What attaching artifacts adds: every digest (for the image's links), the OCI manifest's
 * artifacts (for the record), both known at once, and `written`, which settles once they are
 * all stored.
 */
export interface Attached {
  digests: string[];
  artifacts: BuildArtifact[];
  written: Promise<void>;
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
    private readonly cache: Pick<ManifestCache, 'putBlob'>,
  ) {}

  /**
   * Starts storing `documents` as artifacts referring to both manifests of an image; returns at
   * once every digest they add (the documents, the empty config, the artifact manifests), which
   * the image's names must serve, the artifacts of its OCI manifest (for the build's record), and
   * `written`. Until it settles, this instance's referrers of the image wait for it.
   */
  attach(manifests: ImageManifests, documents: readonly Attachment[]): Attached {
    const artifacts = [manifests.oci, manifests.docker].flatMap((image) =>
      documents.map(({ document, title }) => ({ subject: image, content: document, ...artifactManifest(document.mediaType, document, title, image) })),
    );
    // All at once (nothing lists them before they are all written); one object per subject for
    // the artifacts attached together, named after the first of them.
    const listed = [manifests.oci, manifests.docker].map((image) => {
      const own = artifacts.filter((artifact) => artifact.subject === image);
      return this.storage.put(referrerKey(image.digest, (own[0] as (typeof own)[number]).manifest.digest), JSON.stringify(own.map((artifact) => artifact.descriptor)), 'application/json');
    });
    const blobs = [...documents.map(({ document }) => document), EMPTY_JSON, ...artifacts.map((artifact) => artifact.manifest)].map((document) => this.cache.putBlob(document));
    const written = Promise.all([...blobs, ...listed]).then(() => undefined);
    for (const image of [manifests.oci, manifests.docker]) {
      this.known.delete(image.digest);
      this.pending.set(image.digest, written);
      void written.catch(() => undefined).finally(() => this.pending.get(image.digest) === written && this.pending.delete(image.digest));
    }
    return {
      digests: [...documents.map(({ document }) => document.digest), EMPTY_JSON.digest, ...artifacts.map((artifact) => artifact.manifest.digest)],
      artifacts: artifacts.filter((artifact) => artifact.subject === manifests.oci).map(({ descriptor, content }) => ({ artifactType: descriptor.artifactType, manifest: descriptor.digest, content: content.digest })),
      written,
    };
  }

  /** The artifacts referring to the manifest `subject`, with the digests of their content (read from their manifests). */
  async artifactsOf(subject: string): Promise<BuildArtifact[]> {
    const descriptors = await this.referrers(subject);
    const artifacts = await Promise.all(
      descriptors.map(async (descriptor) => {
        const manifest = await this.storage.get(blobKey(descriptor.digest));
        const content = manifest && (JSON.parse(manifest.toString('utf8')) as { layers?: { digest: string }[] }).layers?.[0]?.digest;
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
