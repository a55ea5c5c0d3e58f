/**
 * What is attached to a built image, made ready to store (pure): its SBOMs (SPDX, CycloneDX) and,
 * for images from source, its provenance, as artifacts referring to both of its manifests. Loaded
 * when a build first needs it: the SBOM formats' libraries (packageurl-js) cost the registry
 * process several megabytes that an instance which only serves never needs.
 */
import type { BuildArtifact } from '../builds/record.js';
import { toDocument, toDocumentAsBuilt, type Document, type ImageManifests } from '../image/manifest.js';
import { artifactManifest, EMPTY_JSON, type ReferrerDescriptor } from '../image/referrers.js';
import type { ImageContents } from '../sbom/contents.js';
import { CYCLONEDX_MEDIA_TYPE, cycloneDxDocument } from '../sbom/cyclonedx.js';
import type { SbomSubject } from '../sbom/packages.js';
import { IN_TOTO_MEDIA_TYPE, provenanceStatement, type ProvenanceRun, type SourceProvenance } from '../sbom/provenance.js';
import { SPDX_MEDIA_TYPE, spdxDocument } from '../sbom/spdx.js';

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
