/** Sends a manifest document with the headers clients rely on. */
import type { Request, Response } from 'express';
import type { Document } from '../image/manifest.js';

/**
 * Answers with `document`: `Content-Type` equal to its `mediaType`, `Docker-Content-Digest`,
 * `Content-Length` and an `ETag`; no body for HEAD.
 */
export function sendDocument(req: Request, res: Response, document: Document): void {
  res.set({
    'Content-Type': document.mediaType,
    'Docker-Content-Digest': document.digest,
    'Content-Length': String(document.body.length),
    ETag: `"${document.digest}"`,
  });
  if (req.method === 'HEAD') res.status(200).end();
  else res.status(200).end(document.body);
}
