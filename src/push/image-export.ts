/**
 * One stored image served read-only on 127.0.0.1 for as long as a push runs: skopeo reads it
 * from here as from any registry. The server answers only under a random repository name (an
 * unguessable capability, so other local users cannot read images through it) and only for the
 * image's manifest and the blobs it lists, streamed from storage; it never redirects, so every
 * byte a push sends passes here and is counted. Blobs the target already has are never asked for.
 *
 *   GET|HEAD /v2/                                     200 {}
 *   GET|HEAD /v2/<name>/manifests/<manifest digest>   the manifest
 *   GET|HEAD /v2/<name>/blobs/<config|layer digest>   the blob, from storage
 *   anything else                                     404
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blobKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import type { Document } from '../image/manifest.js';

/** A manifest and what it lists, as served. */
export interface ExportedImage {
  manifest: Document;
  /** The config's digest. */
  config: string;
  /** The config and the layers, with their sizes. */
  blobs: { digest: string; size: number }[];
}

/** A running export of one image. */
export interface ImageExport {
  /** `127.0.0.1:PORT/name@sha256:…`, a skopeo `docker://` reference without the transport. */
  reference: string;
  /** Every blob sent whole since the export started, in order (a blob sent twice is listed twice). */
  sent(): readonly { digest: string; bytes: number }[];
  close(): Promise<void>;
}

/** The image's manifest, config and layers from its OCI manifest document. */
export function exportedImage(manifest: Document): ExportedImage {
  const parsed = JSON.parse(manifest.body.toString('utf8')) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
  return { manifest, config: parsed.config.digest, blobs: [parsed.config, ...parsed.layers].map(({ digest, size }) => ({ digest, size })) };
}

/** Serves `image` from `storage` until closed. */
export async function exportImage(storage: Storage, image: ExportedImage): Promise<ImageExport> {
  const name = `push-${randomBytes(16).toString('hex')}/image`;
  const sizes = new Map(image.blobs.map((blob) => [blob.digest, blob.size]));
  const sent: { digest: string; bytes: number }[] = [];
  const manifestPath = `/v2/${name}/manifests/${image.manifest.digest}`;
  const blobPrefix = `/v2/${name}/blobs/`;

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return void res.writeHead(405).end();
    if (path === '/v2/' || path === '/v2') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(head ? undefined : '{}');
    if (path === manifestPath) {
      res.writeHead(200, { 'Content-Type': image.manifest.mediaType, 'Content-Length': image.manifest.body.length, 'Docker-Content-Digest': image.manifest.digest });
      return void res.end(head ? undefined : image.manifest.body);
    }
    const digest = path.startsWith(blobPrefix) ? path.slice(blobPrefix.length) : undefined;
    const size = digest === undefined ? undefined : sizes.get(digest);
    if (digest === undefined || size === undefined) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"not part of this push"}]}');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size, 'Docker-Content-Digest': digest });
    if (head) return void res.end();
    res.on('finish', () => sent.push({ digest, bytes: size }));
    await storage.copyTo(blobKey(digest), res);
  };

  const server = createServer((req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ready());
  });
  const { port } = server.address() as AddressInfo;
  return {
    reference: `127.0.0.1:${port}/${name}@${image.manifest.digest}`,
    sent: () => sent,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
