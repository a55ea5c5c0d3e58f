/**
 * Every storage key nixyard reads or writes, and the cache identity of an image: the one place
 * that knows the layout (as CNCF distribution's `registry/storage/paths.go` does). The first
 * four prefixes are Nixery's, so a bucket can move between the two.
 *
 *   layers/<sha256 hex>            every blob: layer tarballs, image configs, manifests, indexes
 *   manifests/<cache key>          the OCI manifest (or index) built for an image identity
 *   builds/<layer key>             JSON record {digest, size, diff_id} of the layer holding a group
 *                                  of store paths; layer key = sha256 of the sorted paths
 *   staging/<uuid>                 uploads in flight, renamed into place when complete; never
 *                                  read; older than an hour means abandoned
 *   build-records/<build id>       a build's record (JSON)
 *   build-logs/<build id>          a build's log (text, rewritten while it runs)
 *   build-cancels/<build id>       a request to cancel a build that another instance runs
 *   app-tags/<image>/<tag>         JSON {digest, order?} of the OCI manifest a tag of an image built
 *                                  from application source points to (`apps/acme/web` → …/v1.4.0);
 *                                  order: when the push whose build moved it arrived
 *   closures/<scope>/<package>     JSON {root, closure} of a package name at a revision (scope: hash of
 *                                  the revision, the set's Nix arguments and the system): lets a new
 *                                  combination of known packages skip Nix's evaluation
 *   build-callbacks/<build id>     JSON {url, token, registryHost} of a build's callback (the token
 *                                  is never shown by the API)
 *   connected-apps/<app id>        JSON of a connected repository (with its secrets: never shown)
 *   connected-app-refs/<app id>/<ref>  JSON {build, commit, order} of the latest build of one
 *                                  branch or tag of an app (ref: `heads.main`, `tags.v1`)
 *   referrers/<subject hex>/<artifact hex>  JSON list of the descriptors of artifacts (SBOMs, provenance)
 *                                  attached together to that manifest, named after the first: what
 *                                  `GET /v2/<name>/referrers/<digest>` lists
 *   links/<scope>/<digest hex>     JSON {digests} of everything an image or index served through names of
                                  one scope holds (its manifests, config, layers; an index's platforms
                                  too), named by the digest of its OCI manifest or index: a name serves
                                  blobs and manifests by digest only when one of its scope's links holds
                                  them. Scope: hash of the packages a name expands to (any spelling or
                                  architecture), or of the name itself for images from source
 *   readyz                         never written: `/readyz` asks for it to see that storage answers
 *
 * Cache identity: the manifest cache key is a hash of everything that decides an image's bytes:
 *
 *   { v, revision, packages, arch, user, layering, budget, packing }
 *     revision   the package set's pinned revision (git commit, channel commit, content hash)
 *     packages   the sorted package names the image name expands to
 *     arch       amd64 | arm64
 *     user       root | nonroot (the `nonroot` meta-package)
 *     layering   version of the layering algorithm (`src/layers`)
 *     budget     the most layers per image (`NIXYARD_LAYER_BUDGET`)
 *     packing    version of the tar+gzip packing (`src/builder/pack-layer.ts`)
 *
 * An index's key is a hash of its platforms' keys. Changing any part gives a new key, so a new
 * build; images whose bytes did not change get the same digests again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../src/image/canonical-json.js';
import { digestHex } from '../src/image/grammar.js';

/** Bump when the meaning of a cache entry changes (manifest layout, config fields). */
export const CACHE_KEY_VERSION = 2;

/** How a builder turns a closure into layers: part of every image's identity. */
export interface LayerLayout {
  /** Version of the layering algorithm. */
  layering: number;
  /** Most layers per image, the symlink layer included. */
  budget: number;
  /** Version of the packing: the bytes of a layer for the same store paths. */
  packing: number;
}

/** Everything that decides the content of one architecture's image of a package list. */
export interface ImageIdentity extends LayerLayout {
  revision: string;
  packages: readonly string[];
  arch: string;
  /** Who the image runs as (`root`, `nonroot`). */
  user: string;
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** The manifest cache key of an image. */
export function manifestCacheKey(identity: ImageIdentity): string {
  const { revision, packages, arch, user, layering, budget, packing } = identity;
  return sha256Hex(canonicalJson({ v: CACHE_KEY_VERSION, revision, packages, arch, user, layering, budget, packing }));
}

/** The cache key of the index over the given architectures' images (by their cache keys). */
export function indexCacheKey(imageKeys: readonly string[]): string {
  return sha256Hex(canonicalJson({ v: CACHE_KEY_VERSION, index: imageKeys }));
}

/** Key of a blob: `layers/<sha256 hex>`. */
export function blobKey(digest: string): string {
  return `layers/${digestHex(digest)}`;
}

/** Key of the cached manifest (or index) of a cache key. */
export function manifestKey(cacheKey: string): string {
  return `manifests/${cacheKey}`;
}

/** Key of the record of the layer holding exactly `storePaths` (in any order). */
export function layerRecordKey(storePaths: readonly string[]): string {
  return `builds/${sha256Hex([...storePaths].sort().join('\n'))}`;
}

/** Prefix of uploads in flight. */
export const STAGING_PREFIX = 'staging/';

/** The key `/readyz` stats (absent is fine: the backend answered). */
export const READINESS_PROBE_KEY = 'readyz';

/** A fresh key for an upload in flight. */
export function newStagingKey(): string {
  return `${STAGING_PREFIX}${randomUUID()}`;
}

/** Prefix of the tags of an image built from application source; the rest of each key is a tag. */
export function appTagsPrefix(image: string): string {
  return `app-tags/${image}/`;
}

/** Key of a tag of an image built from application source. */
export function appTagKey(image: string, tag: string): string {
  return `${appTagsPrefix(image)}${tag}`;
}

/** What an image built from application source is identified by, for joining identical builds. */
export interface SourceIdentity extends LayerLayout {
  kind: 'source';
  /** The repository URL without credentials, the ref asked for and the app's directory. */
  repo: string;
  ref: string | null;
  dir: string;
  /** The request's overrides (install, build and start commands, packages, variables). */
  overrides: unknown;
  /** The package set's revision and the builder's version. */
  revision: string;
  builder: number;
  arch: string;
}

/** The key of a build from application source (identical requests running at once join). */
export function sourceBuildKey(identity: SourceIdentity): string {
  return sha256Hex(canonicalJson({ v: CACHE_KEY_VERSION, ...identity }));
}

/** Prefix of build records; the rest of each key is the build id. */
export const BUILD_RECORDS_PREFIX = 'build-records/';

/** Key of a build's record. */
export function buildRecordKey(id: string): string {
  return `${BUILD_RECORDS_PREFIX}${id}`;
}

/** Key of a build's log. */
export function buildLogKey(id: string): string {
  return `build-logs/${id}`;
}

/** Key of what Nix said about a package name at a revision (see `src/builder/closure-cache.ts`). */
export function closureKey(scope: string, name: string): string {
  return `closures/${scope}/${name}`;
}

/** Key of a build's callback (URL, token). */
export function buildCallbackKey(id: string): string {
  return `build-callbacks/${id}`;
}

/** Prefix of the connected apps; the rest of each key is an app id. */
export const CONNECTED_APPS_PREFIX = 'connected-apps/';

/** Key of a connected app. */
export function connectedAppKey(id: string): string {
  return `${CONNECTED_APPS_PREFIX}${id}`;
}

/** Prefix of the latest builds of an app's branches and tags; the rest of each key is a ref key. */
export function appRefsPrefix(id: string): string {
  return `connected-app-refs/${id}/`;
}

/** Key of the latest build of one branch or tag of an app (`refKey`: `heads.main`, storage-safe). */
export function appRefKey(id: string, refKey: string): string {
  return `${appRefsPrefix(id)}${refKey}`;
}

/** Key of a request to cancel a build. */
export function buildCancelKey(id: string): string {
  return `build-cancels/${id}`;
}

/** Key of the link of an image or index (by the digest of its OCI document) to the names of `scope`. */
export function linkKey(scope: string, documentDigest: string): string {
  return `${linksPrefix(scope)}${digestHex(documentDigest)}`;
}

/** Prefix of the links of the names of `scope`. */
export function linksPrefix(scope: string): string {
  return `links/${scope}/`;
}

/** The link scope of a package image: a hash of the packages its name expands to. */
export function packageLinkScope(packages: readonly string[]): string {
  return sha256Hex(canonicalJson({ packages }));
}

/** The link scope of an image from source: a hash of its name. */
export function sourceLinkScope(name: string): string {
  return sha256Hex(canonicalJson({ name }));
}

/** Key of the descriptors of artifacts attached together to the manifest `subject`, named after the first of them. */
export function referrerKey(subject: string, artifact: string): string {
  return `${referrersPrefix(subject)}${digestHex(artifact)}`;
}

/** Prefix of the referrers of the manifest `subject`. */
export function referrersPrefix(subject: string): string {
  return `referrers/${digestHex(subject)}/`;
}
