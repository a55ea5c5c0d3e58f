/**
 * Every request gets an id (the client's `X-Request-Id` when it is a sane token, else a new
 * one), sent back in `X-Request-Id`, kept in `res.locals.requestId` for the builds it starts,
 * and, once the response ends, one log line (method, route, status, duration, bytes, client, id)
 * and the HTTP metrics. Routes are templates (`/v2/{name}/manifests/{reference}`), so that
 * neither the log's route nor a metric label holds an image name.
 */
import type { Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { httpRequestDuration, httpRequests } from '../metrics/metrics.js';

/** Request ids taken from clients: short tokens without spaces or quotes. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** This request's id (X-Request-Id). */
      requestId?: string;
      /** The error code the request was answered with, if any. */
      errorCode?: string;
      /** Where the router that took the request is mounted (`/v2`): express forgets it when an error leaves the router. */
      routeBase?: string;
    }
  }
}

const templates = new WeakMap<RegExp, string>();

/** `^\/(?<name>.+)\/blobs\/(?<digest>[^/]+)$` → `/{name}/blobs/{digest}`. */
function regexTemplate(path: RegExp): string {
  const known = templates.get(path);
  if (known !== undefined) return known;
  const template = path.source
    .replace(/\(\?<(\w+)>(?:[^()]|\([^()]*\))*\)/g, '{$1}')
    .replace(/^\^|\$$/g, '')
    .replace(/\\\//g, '/');
  templates.set(path, template);
  return template;
}

const stringTemplates = new Map<string, string>();

/** The template of the route that answered `req`; `unmatched` when none did (404s, refusals of guards). */
export function routeTemplate(req: Request, res: Response): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  const base = res.locals.routeBase ?? req.baseUrl;
  if (path instanceof RegExp) return base + regexTemplate(path);
  if (typeof path !== 'string') return 'unmatched';
  const joined = base + path;
  let template = stringTemplates.get(joined);
  if (template === undefined) {
    template = joined.replace(/:(\w+)/g, '{$1}') || '/';
    // Route strings are few (they come from the code), so this map stays small.
    stringTemplates.set(joined, template);
  }
  return template;
}

function requestId(req: Request): string {
  const given = req.get('x-request-id');
  // randomUUID draws from a cached pool: randomBytes per request cost 3 % of the warm requests/s.
  return given !== undefined && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
}

function bytesSent(res: Response): number | undefined {
  const length = Number(res.getHeader('content-length'));
  return Number.isFinite(length) ? length : undefined;
}

/** The request log and HTTP metrics, first in the chain. */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const id = requestId(req);
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    res.once('close', () => {
      const ms = performance.now() - started;
      const route = routeTemplate(req, res);
      const finished = res.writableFinished;
      const status = finished ? res.statusCode : 499;
      httpRequests.inc({ route, method: req.method, status: String(status) });
      httpRequestDuration.observe({ route, method: req.method }, ms / 1000);
      const fields: Record<string, unknown> = { method: req.method, route, path: req.originalUrl, status, ms: Math.round(ms * 10) / 10, bytes: bytesSent(res), client: res.locals.user ?? req.ip, requestId: id };
      if (res.locals.errorCode) fields['code'] = res.locals.errorCode;
      if (!finished) fields['aborted'] = true;
      if (status >= 500) log.error('request', fields);
      else log.info('request', fields);
    });
    next();
  };
}
