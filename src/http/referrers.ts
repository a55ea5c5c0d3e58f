/**
 * `GET /v2/<name>/referrers/<digest>` (OCI distribution spec 1.1): the artifacts (SBOMs) whose
 * subject is that manifest, as an OCI image index; `?artifactType=` filters them and says so in
 * `OCI-Filters-Applied`. A subject the name does not hold, or no one built, has none: 200 with an
 * empty index, as the spec asks (never 404). A malformed digest is 400 `DIGEST_INVALID`, a
 * malformed filter 400 `PARAMETER_INVALID`.
 */
import { Router, type Request } from 'express';
import { RegistryError } from '../errors.js';
import type { ImageService } from '../images/image-service.js';
import { checkDigest, checkName } from './registry-target.js';

const REFERRERS_PATH = /^\/(?<name>.+)\/referrers\/(?<digest>[^/]+)$/;
/** A media type (RFC 6838 names), as `artifactType` must be. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** The `artifactType` filter of the request, `undefined` when there is none. */
function artifactTypeFilter(req: Request): string | undefined {
  const value = req.query['artifactType'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !MEDIA_TYPE.test(value)) {
    throw new RegistryError('PARAMETER_INVALID', `artifactType=${JSON.stringify(value)} is not a media type: give one, e.g. artifactType=application/spdx+json`, { detail: { artifactType: value } });
  }
  return value;
}

/** Router for referrers, mounted under `/v2`. */
export function referrersRouter(images: Pick<ImageService, 'referrers'>): Router {
  const router = Router();
  router.get<RegExp, { name: string; digest: string }>(REFERRERS_PATH, async (req, res) => {
    const name = checkName(req.params.name);
    const digest = checkDigest(req.params.digest);
    const artifactType = artifactTypeFilter(req);
    const index = await images.referrers(name, digest, artifactType);
    if (artifactType !== undefined) res.set('OCI-Filters-Applied', 'artifactType');
    res.status(200).set({ 'Content-Type': index.mediaType, 'Content-Length': String(index.body.length) });
    res.end(req.method === 'HEAD' ? undefined : index.body);
  });
  return router;
}
