/**
 * Image config and manifests (OCI image manifest and Docker schema2), pure and canonical: the
 * same layers give byte-identical documents, hence identical digests, everywhere.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { userSettings, type ImageUser } from './users.js';
import { ARCHITECTURES, type Architecture } from './image-name.js';
import { MediaType, type ManifestFlavour } from './media-types.js';

/** A packed layer as stored: digest and size of the gzip blob, diff_id of the tar inside. */
export interface LayerInfo {
  /** `sha256:…` of the compressed blob. */
  digest: string;
  /** Size of the compressed blob in bytes. */
  size: number;
  /** `sha256:…` of the uncompressed tar. */
  diff_id: string;
}

/** What the image config needs to know about an image. */
export interface ImageConfigInput {
  arch: Architecture;
  /** Layers in order, bottom first (the most shared first). */
  layers: readonly LayerInfo[];
  hasShell: boolean;
  /** Who the image runs as by default (`User`, `HOME`); root when absent. */
  user?: ImageUser;
  /** What an image built from application source adds (package images have none of it). */
  app?: AppConfig;
}

/** The config of an image built from application source. */
export interface AppConfig {
  /** Directories put before {@link IMAGE_PATH} on `PATH` (`/app/node_modules/.bin`). */
  path: readonly string[];
  /** More environment variables (`NODE_ENV=production`), in order. */
  env: readonly string[];
  /** The command the image runs (the start command, through a shell). */
  cmd: readonly string[];
  workingDir: string;
  /** Ports the app listens on (`3000`). */
  exposedPorts: readonly number[];
  /** OCI annotations of the image (`org.opencontainers.image.source`, `.revision`, `.created`). */
  labels: Readonly<Record<string, string>>;
  /** When the image was made: the commit's time, so that the same commit gives the same config. */
  created: string;
}

/** A serialised document with its digest, ready to store and serve. */
export interface Document {
  mediaType: string;
  /** Exact bytes served; the digest is over these. */
  body: Buffer;
  digest: string;
}

/** `PATH` inside images: the symlink layer puts every package's `bin/` under `/bin`. */
export const IMAGE_PATH = '/bin:/usr/bin:/sbin:/usr/sbin';
/** Where the cacert package's bundle lands through the symlink layer. */
export const SSL_CERT_FILE = '/etc/ssl/certs/ca-bundle.crt';

/** sha256 digest of a byte string in `sha256:hex` form. */
export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Wraps canonical JSON of `value` as a document of the given media type. */
export function toDocument(mediaType: string, value: unknown): Document {
  const body = Buffer.from(canonicalJson(value), 'utf8');
  return { mediaType, body, digest: sha256Digest(body) };
}

/**
 * A document of `value` as built, keys in the order they were set: for large documents whose
 * construction is deterministic (SBOMs), where sorting every key would cost several times the
 * serialisation.
 */
export function toDocumentAsBuilt(mediaType: string, value: unknown): Document {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return { mediaType, body, digest: sha256Digest(body) };
}

/**
 * The image config (the same JSON for both manifest flavours; only its media type differs).
 * No timestamps: `created` is left out so that rebuilding gives the same digest.
 */
export function imageConfig(input: ImageConfigInput): Record<string, unknown> {
  const { app } = input;
  const path = [...(app?.path ?? []), IMAGE_PATH].join(':');
  const { user, home } = userSettings(input.user ?? 'root');
  return {
    architecture: ARCHITECTURES[input.arch].oci,
    os: 'linux',
    ...(app ? { created: app.created } : {}),
    config: {
      Env: [`PATH=${path}`, `SSL_CERT_FILE=${SSL_CERT_FILE}`, `HOME=${home}`, ...(app?.env ?? [])],
      ...(user ? { User: user } : {}),
      ...(app ? { Cmd: [...app.cmd], WorkingDir: app.workingDir, Labels: { ...app.labels } } : input.hasShell ? { Cmd: ['bash'] } : {}),
      ...(app && app.exposedPorts.length > 0 ? { ExposedPorts: Object.fromEntries(app.exposedPorts.map((port) => [`${port}/tcp`, {}])) } : {}),
    },
    rootfs: { type: 'layers', diff_ids: input.layers.map((layer) => layer.diff_id) },
  };
}

const FLAVOUR_TYPES = {
  oci: { manifest: MediaType.ociManifest, config: MediaType.ociConfig, layer: MediaType.ociLayerGzip },
  docker: { manifest: MediaType.dockerManifest, config: MediaType.dockerConfig, layer: MediaType.dockerLayerGzip },
} as const;

/** A blob as a manifest points at it. */
export interface BlobRef {
  digest: string;
  size: number;
}

/** The manifest of one flavour, pointing at the config blob and the layer blobs. */
export function imageManifest(flavour: ManifestFlavour, config: BlobRef, layers: readonly BlobRef[]): Document {
  const types = FLAVOUR_TYPES[flavour];
  return toDocument(types.manifest, {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: { mediaType: types.config, digest: config.digest, size: config.size },
    layers: layers.map((layer) => ({ mediaType: types.layer, digest: layer.digest, size: layer.size })),
  });
}

/** An image's manifest in both flavours. */
export type ImageManifests = Record<ManifestFlavour, Document>;

/** Everything an image needs stored: the config blob and both manifest flavours. */
export interface ImageDocuments {
  config: Document;
  manifests: ImageManifests;
}

/** Config plus both manifests for an image. */
export function imageDocuments(input: ImageConfigInput): ImageDocuments {
  const config = toDocument(MediaType.ociConfig, imageConfig(input));
  const configRef = { digest: config.digest, size: config.body.length };
  return {
    config,
    manifests: {
      oci: imageManifest('oci', configRef, input.layers),
      docker: imageManifest('docker', configRef, input.layers),
    },
  };
}

interface ParsedManifest {
  config: BlobRef;
  layers: BlobRef[];
}

/**
 * Both flavours from the stored OCI manifest bytes (what `manifests/<key>` holds). The Docker
 * flavour is re-derived, and comes out byte-identical to the one made at build time.
 */
export function manifestsFromStoredOci(body: Buffer): ImageManifests {
  const parsed = JSON.parse(body.toString('utf8')) as ParsedManifest;
  const blobRef = (blob: BlobRef): BlobRef => ({ digest: blob.digest, size: blob.size });
  return {
    oci: { mediaType: MediaType.ociManifest, body, digest: sha256Digest(body) },
    docker: imageManifest('docker', blobRef(parsed.config), parsed.layers.map(blobRef)),
  };
}

/** The platform of an architecture, as image indexes spell it. */
export function platformOf(arch: Architecture): { architecture: string; os: 'linux'; variant?: string } {
  return arch === 'arm64' ? { architecture: 'arm64', os: 'linux', variant: 'v8' } : { architecture: ARCHITECTURES[arch].oci, os: 'linux' };
}

/** One platform's image in an index. */
export interface PlatformImage {
  arch: Architecture;
  manifests: ImageManifests;
}

const INDEX_TYPES = {
  oci: { index: MediaType.ociIndex, manifest: MediaType.ociManifest },
  docker: { index: MediaType.dockerManifestList, manifest: MediaType.dockerManifest },
} as const;

/**
 * The multi-platform index in both flavours: the OCI image index lists the OCI manifests, the
 * Docker manifest list the schema2 ones; platforms in the order given.
 */
export function imageIndexes(images: readonly PlatformImage[]): Record<ManifestFlavour, Document> {
  const index = (flavour: ManifestFlavour) =>
    toDocument(INDEX_TYPES[flavour].index, {
      schemaVersion: 2,
      mediaType: INDEX_TYPES[flavour].index,
      manifests: images.map(({ arch, manifests }) => ({
        mediaType: INDEX_TYPES[flavour].manifest,
        digest: manifests[flavour].digest,
        size: manifests[flavour].body.length,
        platform: platformOf(arch),
      })),
    });
  return { oci: index('oci'), docker: index('docker') };
}

/** The platforms and OCI manifest digests listed by a stored OCI index (`manifests/<key>`). */
export function parseStoredIndex(body: Buffer): { arch: Architecture; digest: string }[] {
  const parsed = JSON.parse(body.toString('utf8')) as { manifests: { digest: string; platform: { architecture: string } }[] };
  return parsed.manifests.map((entry) => ({ arch: entry.platform.architecture === 'arm64' ? 'arm64' : 'amd64', digest: entry.digest }));
}

/** Every digest an image holds: both manifest flavours, the config and the layers, sorted. */
export function imageDigests(manifests: ImageManifests): string[] {
  const parsed = JSON.parse(manifests.oci.body.toString('utf8')) as ParsedManifest;
  return [...new Set([manifests.oci.digest, manifests.docker.digest, parsed.config.digest, ...parsed.layers.map((layer) => layer.digest)])].sort();
}

/** Every digest an index holds: both index flavours and every platform's image, sorted. */
export function indexDigests(indexes: Record<ManifestFlavour, Document>, images: readonly PlatformImage[]): string[] {
  return [...new Set([indexes.oci.digest, indexes.docker.digest, ...images.flatMap((image) => imageDigests(image.manifests))])].sort();
}
