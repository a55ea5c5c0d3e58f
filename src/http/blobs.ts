/**
 * `GET|HEAD /v2/<name>/blobs/<digest>`: streamed from storage with `Range` support, or, for a
 * backend with download URLs (GCS), a 307 redirect to a signed or public URL that clients
 * follow to the bucket. A name serves only the blobs of the images served through it (see
 * `images/image-links.ts`): content addresses are no key to images a name does not hold.
 */
import { Router } from 'express';
import { blobKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import { RegistryError } from '../errors.js';
import type { ImageService } from '../images/image-service.js';
import { checkDigest, checkName } from './registry-target.js';
import { blobBytesServed, blobRedirects } from '../metrics/metrics.js';

const BLOB_PATH = /^\/(?<name>.+)\/blobs\/(?<digest>[^/]+)$/;

/** Router for blobs, mounted under `/v2`. */
export function blobsRouter(storage: Storage, images: Pick<ImageService, 'holds'>): Router {
  const router = Router();
  router.get<RegExp, { name: string; digest: string }>(BLOB_PATH, async (req, res) => {
    const name = checkName(req.params.name);
    const digest = checkDigest(req.params.digest);
    const key = blobKey(digest);
    const info = (await images.holds(name, digest)) ? await storage.stat(key) : undefined;
    if (!info) throw new RegistryError('BLOB_UNKNOWN', `no blob with digest ${digest} in ${name}: blobs are served through the names of the images that hold them`, { detail: { name, digest } });

    const etag = `"${digest}"`;
    res.set({
      'Content-Type': info.contentType,
      'Docker-Content-Digest': digest,
      ETag: etag,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
    if (req.headers['if-none-match'] === etag) {
      res.status(304).end();
      return;
    }
    // Backends that serve blobs themselves (GCS) get the download; HEAD is answered from metadata.
    const location = req.method === 'GET' ? await storage.downloadUrl?.(key) : undefined;
    if (location) {
      res.status(307).set('Location', location).set('Content-Length', '0').end();
      blobRedirects.inc();
      return;
    }
    const ranges = req.headers.range ? req.range(info.size) : undefined;
    if (ranges === -1) {
      throw new RegistryError('RANGE_INVALID', `range ${req.headers.range} is outside the blob's ${info.size} bytes`, {
        headers: { 'Content-Range': `bytes */${info.size}` },
      });
    }
    // A malformed range or several ranges: answer with the whole blob, as RFC 9110 allows.
    const range = Array.isArray(ranges) && ranges.length === 1 ? ranges[0] : undefined;
    if (range) {
      res.status(206).set({ 'Content-Range': `bytes ${range.start}-${range.end}/${info.size}`, 'Content-Length': String(range.end - range.start + 1) });
    } else {
      res.status(200).set('Content-Length', String(info.size));
    }
    if (req.method === 'HEAD' || (range === undefined && info.size === 0)) {
      res.end();
      return;
    }
    await storage.copyTo(key, res, range);
    blobBytesServed.inc(range ? range.end - range.start + 1 : info.size);
  });
  return router;
}
