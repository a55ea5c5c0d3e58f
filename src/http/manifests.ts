/** `GET|HEAD /v2/<name>/manifests/<reference>`: by tag (built on demand) or by digest. */
import { Router, type Request } from 'express';
import type { ImageService } from '../images/image-service.js';
import { RegistryError } from '../errors.js';
import { parseImageName } from '../image/image-name.js';
import { chooseMediaType } from '../image/negotiate.js';
import { checkName, parseReference } from './registry-target.js';
import { sendDocument } from './send-document.js';

const MANIFEST_PATH = /^\/(.+)\/manifests\/([^/]+)$/;

/** Every `Accept` header line of the request (clients send several). */
export function acceptLines(req: Request): string[] {
  return req.headersDistinct['accept'] ?? [];
}

/** Router for manifests, mounted under `/v2`. */
export function manifestsRouter(images: ImageService): Router {
  const router = Router();
  router.get(MANIFEST_PATH, async (req, res) => {
    const params = req.params as unknown as Record<string, string>;
    const name = checkName(params[0] ?? '');
    const reference = parseReference(params[1] ?? '');
    if (reference.kind === 'digest') {
      const document = await images.manifestByDigest(reference.digest);
      if (!document) throw new RegistryError('MANIFEST_UNKNOWN', `no manifest with digest ${reference.digest}`, { detail: { name, digest: reference.digest } });
      sendDocument(req, res, document);
      return;
    }
    const documents = await images.manifests(parseImageName(name, reference.tag));
    const mediaType = chooseMediaType(acceptLines(req), documents.map((document) => document.mediaType));
    const document = documents.find((candidate) => candidate.mediaType === mediaType);
    if (!document) {
      throw new RegistryError('MANIFEST_UNKNOWN', `none of the accepted media types is served: accept one of ${documents.map((d) => d.mediaType).join(', ')}`, {
        detail: { accept: acceptLines(req) },
      });
    }
    sendDocument(req, res, document);
  });
  return router;
}
