/**
 * The client a request's builds count against (build limits): the user the access control
 * authenticated (`res.locals.user`), else the remote address. One object per request, so that
 * a request building several architectures counts once.
 */
import type { Request, Response } from 'express';
import type { BuildClient } from '../builds/types.js';

const clients = new WeakMap<Request, BuildClient>();

/** The {@link BuildClient} of this request (the same object on every call). */
export function requestClient(req: Request, res: Response): BuildClient {
  const known = clients.get(req);
  if (known) return known;
  const client = { id: res.locals.user ?? req.ip ?? req.socket.remoteAddress ?? 'unknown', requestId: res.locals.requestId };
  clients.set(req, client);
  return client;
}
