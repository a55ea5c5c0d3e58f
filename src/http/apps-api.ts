/**
 * `/v1/apps`: connected repositories. CRUD behind the registry's user authentication, like the
 * builds API; `POST /v1/apps/<id>/webhook` is open (each forge proves it knows the app's webhook
 * secret, checked over the raw bytes before anything is parsed; see `src/apps/connected-apps.ts`).
 *
 *   GET    /v1/apps                 {"apps":[App…]}
 *   POST   /v1/apps                 201 App with "webhookSecret" (shown this once), Location
 *   GET    /v1/apps/<id>            App, with the latest build of each branch and tag
 *   PATCH  /v1/apps/<id>            App (with "webhookSecret" when the patch set a new one)
 *   DELETE /v1/apps/<id>            204 (builds and images stay)
 *   POST   /v1/apps/<id>/webhook    202 {"queued":[BuildRecord],"ignored":null} | {"queued":[],"ignored":"<why>"}
 *                                   200 for a ping; 401 bad signature; 400 not a push of this repository
 */
import express, { Router, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AppPatch, ConnectedApps } from '../apps/connected-apps.js';
import { RegistryError } from '../errors.js';
import { checkMayPull, maySee } from './client.js';
import { BuildTimeoutSchema, CallbackSchema, OVERRIDE_FIELDS, problemsOf, PushSchema } from './request-schemas.js';
import { MAX_WEBHOOK_BODY_BYTES } from './webhooks.js';

const AppFields = {
  repo: z.string().min(1).max(2048),
  image: z.string().min(1).max(255),
  dir: z.string().max(1024),
  branches: z.array(z.string().min(1).max(255)).max(50),
  tags: z.boolean(),
  defaultBranch: z.string().min(1).max(255).nullable(),
  overrides: z.object(OVERRIDE_FIELDS).strict(),
  buildTimeout: BuildTimeoutSchema.nullable(),
  push: PushSchema.nullable(),
  callback: CallbackSchema.nullable(),
  webhookSecret: z.string().min(16, 'expected at least 16 characters').max(256),
};

const ConnectSchema = z.object(AppFields).partial().required({ repo: true, image: true }).strict();
const PatchSchema = z.object(AppFields).partial().strict();

const EXAMPLE = '{"repo":"https://git.example.com/acme/shop.git","image":"apps/acme/web","dir":"services/web","branches":["main","release/*"],"tags":true,"push":["ghcr.io/acme/web"],"callback":{"url":"https://deploy.example/hooks","token":"…"}}';

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = problemsOf(parsed.error);
  throw new RegistryError('PARAMETER_INVALID', `the ${what} is not valid (${problems.join('; ')}): expected ${EXAMPLE}, every field but repo and image optional`, { detail: { problems } });
}

const json = express.json({ limit: '64kb', strict: true });
const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) throw new RegistryError('PARAMETER_INVALID', `send the app as JSON with Content-Type: application/json, e.g. ${EXAMPLE}`, { detail: { contentType: req.get('content-type') ?? null } });
  next();
};

/** Router for `/v1/apps`; mount it before the builds API (whose `/v1` catch-all would take these paths). */
export function appsApiRouter(apps: ConnectedApps, guard?: RequestHandler): Router {
  const router = Router();

  router.post('/v1/apps/:id/webhook', express.raw({ type: () => true, limit: MAX_WEBHOOK_BODY_BYTES }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const { status, result } = await apps.receive(req.params.id, { header: (name) => req.get(name), body, nowMs: Date.now() }, req.get('host'));
    res.status(status).json(result);
  });

  const guarded = Router();
  if (guard) guarded.use(guard);
  /** The app `id`, to a user who may see it (one of an image she may not pull is as if it did not exist). */
  const visible = async (id: string, res: Response) => {
    const app = await apps.get(id);
    if (!maySee(res, app.image)) throw new RegistryError('APP_UNKNOWN', `no app has the id ${JSON.stringify(id)}: list apps with GET /v1/apps`, { detail: { id } });
    return app;
  };
  guarded.get('/', async (_req, res) => {
    res.json({ apps: (await apps.list()).filter((app) => maySee(res, app.image)) });
  });
  guarded.post('/', requireJson, json, async (req, res) => {
    const fields = parse(ConnectSchema, req.body, 'app');
    checkMayPull(res, fields.image, 'connect a repository to');
    const app = await apps.connect(fields);
    res.status(201).location(`/v1/apps/${app.id}`).json(app);
  });
  guarded.get('/:id', async (req, res) => {
    res.json(await visible(req.params.id, res));
  });
  guarded.patch<'/:id', { id: string }>('/:id', requireJson, json, async (req, res) => {
    const patch = parse(PatchSchema, req.body, 'change') as AppPatch;
    checkMayPull(res, patch.image ?? (await visible(req.params.id, res)).image, 'change the repository of');
    res.json(await apps.update(req.params.id, patch));
  });
  guarded.delete('/:id', async (req, res) => {
    await visible(req.params.id, res);
    await apps.disconnect(req.params.id);
    res.status(204).end();
  });
  // Only /v1/apps paths pass the guard here: other requests go on to the routers after this one.
  router.use('/v1/apps', guarded);
  return router;
}
