/**
 * Artifacts that refer to an image (OCI image spec 1.1): an artifact is an image manifest with an
 * `artifactType`, the empty config, its content as the one layer, and a `subject` (the manifest
 * it is about); the referrers API lists them in an image index of descriptors, filtered by
 * `artifactType` on request.
 */
import { toDocument, type Document } from './manifest.js';
import { MediaType } from './media-types.js';

/** The empty JSON blob `{}`: the config of artifacts that have none. */
export const EMPTY_JSON: Document = { mediaType: MediaType.ociEmpty, body: Buffer.from('{}'), digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' };

/** A referrer as the referrers index lists it. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType: string;
  annotations?: Record<string, string>;
}

/** The descriptor of a document. */
const descriptorOf = (document: Document) => ({ mediaType: document.mediaType, digest: document.digest, size: document.body.length });

/** The artifact manifest of `content` (of type `artifactType`, named `title`) about `subject`. */
export function artifactManifest(artifactType: string, content: Document, title: string, subject: Document): { manifest: Document; descriptor: ReferrerDescriptor } {
  const annotations = { 'org.opencontainers.image.title': title };
  const manifest = toDocument(MediaType.ociManifest, {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType,
    config: { ...descriptorOf(EMPTY_JSON), data: EMPTY_JSON.body.toString('base64') },
    layers: [{ ...descriptorOf(content), annotations }],
    subject: descriptorOf(subject),
    annotations,
  });
  return { manifest, descriptor: { ...descriptorOf(manifest), artifactType, annotations } };
}

/** The referrers index: the descriptors (of `artifactType` only, when given), sorted by digest for stable answers. */
export function referrersIndex(descriptors: readonly ReferrerDescriptor[], artifactType?: string): Document {
  const listed = descriptors.filter((descriptor) => artifactType === undefined || descriptor.artifactType === artifactType);
  return toDocument(MediaType.ociIndex, {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [...listed].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)),
  });
}
