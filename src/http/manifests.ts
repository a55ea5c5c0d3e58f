/** `GET|HEAD /v2/<name>/manifests/<reference>`: by tag (built on demand) or by digest. */
import { Router, type Request } from 'express';
import { RegistryError } from '../errors.js';
import { parseImageName } from '../image/image-name.js';
import { chooseDocument } from '../image/negotiate.js';
import type { ImageService } from '../images/image-service.js';
import { requestClient } from './client.js';
import { checkName, parseReference } from './registry-target.js';
import { sendDocument } from './send-document.js';

const MANIFEST_PATH = /^\/(?<name>.+)\/manifests\/(?<reference>[^/]+)$/;

/** Every `Accept` header line of the request (clients send several). */
export function acceptLines(req: Request): string[] {
  return req.headersDistinct['accept'] ?? [];
}

/** Router for manifests, mounted under `/v2`. */
export function manifestsRouter(images: Pick<ImageService, 'manifests' | 'manifestByDigest'>): Router {
  const router = Router();
  router.get<RegExp, { name: string; reference: string }>(MANIFEST_PATH, async (req, res) => {
    const name = checkName(req.params.name);
    const reference = parseReference(req.params.reference);
    if (reference.kind === 'digest') {
      const document = await images.manifestByDigest(name, reference.digest);
      if (!document) throw new RegistryError('MANIFEST_UNKNOWN', `no manifest with digest ${reference.digest} in ${name}: manifests are served through the names of the images that hold them`, { detail: { name, digest: reference.digest } });
      sendDocument(req, res, document);
      return;
    }
    const documents = await images.manifests(parseImageName(name, reference.tag), requestClient(req, res));
    const document = chooseDocument(acceptLines(req), documents);
    if (!document) {
      throw new RegistryError('MANIFEST_UNKNOWN', `none of the accepted media types is served: accept one of ${documents.map((d) => d.mediaType).join(', ')}`, {
        detail: { accept: acceptLines(req) },
      });
    }
    sendDocument(req, res, document);
  });
  return router;
}
