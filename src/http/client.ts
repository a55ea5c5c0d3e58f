/**
 * The client a request's builds count against (build limits): the user the access control
 * authenticated (`res.locals.user`), else the remote address. One object per request, so that
 * a request building several architectures counts once.
 */
import type { Request, Response } from 'express';
import type { BuildClient } from '../builds/types.js';
import { RegistryError } from '../errors.js';

const clients = new WeakMap<Request, BuildClient>();

/** The {@link BuildClient} of this request (the same object on every call). */
export function requestClient(req: Request, res: Response): BuildClient {
  const known = clients.get(req);
  if (known) return known;
  const client = { id: res.locals.user ?? req.ip ?? req.socket.remoteAddress ?? 'unknown', requestId: res.locals.requestId };
  clients.set(req, client);
  return client;
}

/**
 * Whether the request's user may see builds and apps of `image`: those of images she may pull
 * (the access file); everything without one, or without access control.
 */
export function maySee(res: Response, image: string): boolean {
  return res.locals.pullRefusal?.(image) === undefined;
}

/** Refuses (403 `DENIED`) when the access file does not let the request's user pull `image`, which she asks to `doing` (build, connect). */
export function checkMayPull(res: Response, image: string, doing: string): void {
  const refusal = res.locals.pullRefusal?.(image);
  if (refusal !== undefined) throw new RegistryError('DENIED', `${res.locals.user ?? 'this user'} may not ${doing} ${image}: ${refusal}`, { detail: { image } });
}
