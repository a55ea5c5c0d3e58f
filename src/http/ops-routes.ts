/**
 * The operator's endpoints: `/healthz` (the process answers), `/readyz` (it should get traffic:
 * JSON naming each check and what failed, 503 when not ready or draining) and `/metrics`
 * (Prometheus text format; with a token, only for `Authorization: Bearer <token>`).
 */
import { Router, type RequestHandler } from 'express';
import type { Readiness } from '../ops/readiness.js';
import { metricsRegistry } from '../metrics/metrics.js';
import { safeEqual } from '../webhooks/signatures.js';

export interface OpsRoutesDeps {
  readiness: Readiness;
  /** Bearer token `/metrics` asks for; open when unset. */
  metricsToken?: string;
  /** Brings gauges read from other parts (builds, queue) up to date before a scrape. */
  refreshMetrics(): Promise<void>;
  /** Whether `/metrics` is served by this router (not when it has a port of its own). */
  serveMetrics: boolean;
}

export function opsRouter(deps: OpsRoutesDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await deps.readiness.report();
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : report.draining ? 'draining' : 'not ready', ...report });
  });
  if (deps.serveMetrics) router.get('/metrics', metricsHandler(deps));
  return router;
}

/** `GET /metrics`. */
export function metricsHandler(deps: Pick<OpsRoutesDeps, 'metricsToken' | 'refreshMetrics'>): RequestHandler {
  return async (req, res) => {
    if (deps.metricsToken !== undefined) {
      const given = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
      if (given === undefined || !safeEqual(given, deps.metricsToken)) {
        res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain').send('/metrics needs Authorization: Bearer <NIXYARD_METRICS_TOKEN>\n');
        return;
      }
    }
    await deps.refreshMetrics();
    res.status(200).type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  };
}
