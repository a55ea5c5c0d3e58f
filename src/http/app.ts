/**
 * The express app: `/v2` (the OCI distribution API, pull only), the pages at `/`, the probes
 * and metrics, every request logged (`request-log.ts`). Built
 * synchronously from its dependencies; start-up (config, storage checks) happens elsewhere.
 */
import express, { Router, type Express } from 'express';
import type { Storage } from '../../storage/types.js';
import type { RegistryAccess } from '../auth/index.js';
import type { ImageService } from '../images/image-service.js';
import { RegistryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PackageSource } from '../pkgsource/types.js';
import { blobsRouter } from './blobs.js';
import { errorHandler } from './errors.js';
import { manifestsRouter } from './manifests.js';
import { referrersRouter } from './referrers.js';
import { requestLog } from './request-log.js';
import { tagsRouter } from './tags.js';

/** What the app serves from. */
export interface AppDeps {
  images: Pick<ImageService, 'manifests' | 'manifestByDigest' | 'sourceTags' | 'holds' | 'referrers'>;
  storage: Storage;
  packageSource: PackageSource;
  log: Logger;
  /** Routers mounted at `/` after `/v2`: the index page, the builds API and pages. */
  pages?: Router[];
  /** Access control (`src/auth`); none when unset. */
  auth?: RegistryAccess;
  /** `/healthz`, `/readyz`, `/metrics`: outside `/v2`, so access control never asks for them. */
  ops?: Router;
  /** express's `trust proxy` (NIXYARD_TRUST_PROXY): whose X-Forwarded-For names the client. */
  trustProxy?: boolean | number | string[];
}

function registryRouter(deps: AppDeps): Router {
  const v2 = Router();
  v2.use((req, res, next) => {
    res.set('Docker-Distribution-API-Version', 'registry/2.0');
    res.locals.routeBase = req.baseUrl;
    next();
  });
  if (deps.auth?.guard) v2.use(deps.auth.guard);
  v2.get('/', (_req, res) => {
    res.status(200).json({});
  });
  v2.use(manifestsRouter(deps.images));
  v2.use(blobsRouter(deps.storage, deps.images));
  v2.use(referrersRouter(deps.images));
  v2.use(tagsRouter((name) => deps.images.sourceTags(name) ?? deps.packageSource.tags()));
  v2.all('/{*rest}', (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new RegistryError('UNSUPPORTED', `${req.method} is not supported: this registry builds images on demand and does not accept pushes or deletes`, {
        detail: { method: req.method },
      });
    }
    throw new RegistryError('NAME_UNKNOWN', `no such endpoint ${req.originalUrl}: expected /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest>, /v2/<name>/referrers/<digest> or /v2/<name>/tags/list`, {
      detail: { path: req.originalUrl },
    });
  });
  return v2;
}

/** Builds the express app. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.trustProxy ?? false);
  app.use(requestLog(deps.log));
  if (deps.auth) app.use(deps.auth.routes);
  app.use('/v2', registryRouter(deps));
  // After /v2, so that registry requests do not pass its routes (every router layer costs).
  if (deps.ops) app.use(deps.ops);
  for (const router of deps.pages ?? []) app.use(router);
  app.use(errorHandler(deps.log));
  return app;
}
