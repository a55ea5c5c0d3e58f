/**
 * `/v1/builds`: the builds API (JSON; errors as `{"errors":[{code,message,detail}]}` like the
 * registry's). List and read records, start, cancel and retry builds, read and follow logs,
 * queue statistics; `GET /v1/openapi.json` describes it all.
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { buildUnknown } from '../builds/build-service.js';
import { BUILD_ID, BUILD_STATUSES, type BuildStatus } from '../builds/record.js';
import type { BuilderType, BuildQuery, Builds } from '../builds/types.js';
import { RegistryError } from '../errors.js';
import { isValidName } from '../image/grammar.js';
import { checkMayPull, maySee, requestClient } from './client.js';
import { BuildTimeoutSchema, CallbackSchema, OVERRIDE_FIELDS, problemsOf, PushSchema } from './request-schemas.js';

/** Largest page of `GET /v1/builds`. */
export const MAX_PAGE = 100;
/** Page size when `limit` is not given. */
export const DEFAULT_PAGE = 20;

const SubmissionSchema = z
  .object({
    image: z.string().min(1),
    tag: z.string().min(1).default('latest'),
    arch: z.string().min(1).optional(),
    source: z.object({ repo: z.string().min(1).max(2048), ref: z.string().min(1).max(256).optional(), dir: z.string().max(1024).optional() }).strict().optional(),
    ...OVERRIDE_FIELDS,
    buildTimeout: BuildTimeoutSchema.optional(),
    push: PushSchema.optional(),
    callback: CallbackSchema.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.source) return;
    for (const field of ['installCmd', 'buildCmd', 'startCmd', 'pkgs', 'env', 'user', 'buildTimeout'] as const) {
      if (body[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'goes with a source: it changes the plan of a build from application source' });
    }
  });

function invalid(message: string, detail: unknown): RegistryError {
  return new RegistryError('PARAMETER_INVALID', message, { detail });
}

/** The one value of query parameter `name`, or `undefined`; repeated parameters are an error. */
function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`give the query parameter ${name} once`, { [name]: value });
  return value;
}

/** `GET /v1/builds` query → {@link BuildQuery}, each bad parameter named. */
export function parseBuildQuery(req: Request): BuildQuery {
  const limitText = single(req, 'limit');
  const limit = limitText === undefined ? DEFAULT_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid(`limit=${JSON.stringify(limitText)} is not allowed: expected an integer from 1 to ${MAX_PAGE}`, { limit: limitText });
  const statusText = single(req, 'status');
  const status = statusText === undefined || statusText === '' ? [] : statusText.split(',');
  const unknown = status.filter((value) => !(BUILD_STATUSES as readonly string[]).includes(value));
  if (unknown.length > 0) throw invalid(`status ${unknown.map((value) => JSON.stringify(value)).join(', ')} is not known: expected a comma-separated list of ${BUILD_STATUSES.join(', ')}`, { status: statusText });
  const cursor = single(req, 'cursor');
  if (cursor !== undefined && !BUILD_ID.test(cursor)) throw invalid(`cursor=${JSON.stringify(cursor)} is not a build id: pass the "next" of the previous page`, { cursor });
  const given = single(req, 'image')?.replace(/^\/+|\/+$/g, '');
  const image = given === '' ? undefined : given;
  if (image !== undefined && !isValidName(image)) throw new RegistryError('NAME_INVALID', `image=${JSON.stringify(image)} is not an image name: expected package names separated by "/", lowercase (e.g. shell/git)`, { detail: { image } });
  return { limit, status: status as BuildStatus[], cursor, image };
}

/** Whether `?follow=` asks to follow. */
function wantsFollow(req: Request): boolean {
  const value = single(req, 'follow');
  if (value === undefined || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true' || value === '') return true;
  throw invalid(`follow=${JSON.stringify(value)} is not allowed: expected 1 or 0`, { follow: value });
}

/** Router for `/v1`; `guard` (access control) runs before every builds route. */
export function buildsApiRouter(builds: Builds, guard?: RequestHandler, builderTypes: () => Promise<BuilderType[]> = async () => []): Router {
  const router = Router();
  router.get('/v1/openapi.json', async (_req, res) => {
    // Loaded when first asked for: a large document few requests need.
    res.json((await import('./openapi.js')).OPENAPI_DOCUMENT);
  });

  const v1 = Router();
  if (guard) v1.use(guard);
  /** The build `id`, to a user who may see it (one of an image she may not pull is as if it did not exist). */
  const record = async (id: string, res: Response) => {
    const found = await builds.get(id);
    if (!found || !maySee(res, found.image)) throw buildUnknown(id);
    return found;
  };

  v1.get('/builds', async (req, res) => {
    const page = await builds.list(parseBuildQuery(req));
    res.json({ ...page, builds: page.builds.filter((build) => maySee(res, build.image)) });
  });

  v1.post('/builds', express.json({ limit: '16kb', strict: true }), async (req, res) => {
    if (!req.is('application/json')) throw invalid('send the build as JSON with Content-Type: application/json, e.g. {"image":"shell/git","tag":"latest"}', { contentType: req.get('content-type') ?? null });
    const parsed = SubmissionSchema.safeParse(req.body);
    if (!parsed.success) {
      const problems = problemsOf(parsed.error);
      throw invalid(`the build request is not valid (${problems.join('; ')}): expected {"image":"shell/git","tag":"latest","arch":"amd64"} with tag and arch optional, or a build from source {"image":"apps/acme/web","tag":"v1","source":{"repo":"https://…","ref":"main","dir":"web"},"startCmd":"…"}, either with "push":["ghcr.io/acme/web"] and "callback":{"url":"https://…","token":"…"}`, { problems });
    }
    const { image, tag, arch, source, installCmd, buildCmd, startCmd, pkgs, env, user, buildTimeout, push, callback } = parsed.data;
    checkMayPull(res, image, 'build');
    const app = source && { ...source, installCmd, buildCmd, startCmd, pkgs, env, user, buildTimeout };
    const delivery = { push, callback, registryHost: req.get('host') };
    const created = await builds.submit({ image, tag, arch, app, trigger: 'api', client: requestClient(req, res), delivery });
    res.status(202).location(`/v1/builds/${created.id}`).json(created);
  });

  v1.get('/builds/queue/stats', async (_req, res) => {
    res.json(await builds.stats());
  });

  v1.get('/builds/builder-types', async (_req, res) => {
    res.json({ builders: await builderTypes() });
  });

  v1.get('/builds/:id', async (req, res) => {
    res.json(await record(req.params.id, res));
  });

  v1.get('/builds/:id/logs', async (req, res) => {
    const id = req.params.id;
    const follow = wantsFollow(req);
    const current = await record(id, res);
    res.status(200).type('text/plain; charset=utf-8').set({ 'X-Build-Status': current.status, 'Cache-Control': 'no-store' });
    if (!follow) {
      res.send((await builds.log(id))?.text ?? '');
      return;
    }
    // Stream until the build ends or the client hangs up.
    res.set('X-Accel-Buffering', 'no').flushHeaders();
    const hangUp = new AbortController();
    res.on('close', () => hangUp.abort());
    await builds.follow(id, (text) => res.write(text), { signal: hangUp.signal });
    res.end();
  });

  v1.post('/builds/:id/cancel', async (req, res) => {
    await record(req.params.id, res);
    res.json(await builds.cancel(req.params.id));
  });

  v1.post('/builds/:id/retry', async (req, res) => {
    await record(req.params.id, res);
    const created = await builds.retry(req.params.id, requestClient(req, res));
    res.status(202).location(`/v1/builds/${created.id}`).json(created);
  });

  v1.all('/{*rest}', (req) => {
    throw new RegistryError('ENDPOINT_UNKNOWN', `no such endpoint ${req.method} ${req.originalUrl}: see GET /v1/openapi.json`, { detail: { method: req.method, path: req.originalUrl } });
  });
  router.use('/v1', v1);
  return router;
}
