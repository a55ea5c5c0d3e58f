/**
 * `POST /v1/webhooks/github|gitlab|gitee`: pushes from the forges pre-build images at the pushed
 * commit. Not behind the registry's user authentication: each forge proves it knows
 * `NIXYARD_WEBHOOK_SECRET` (see `src/webhooks/signatures.ts`), checked over the raw bytes before
 * anything is parsed. A push of a watched branch or tag (`NIXYARD_WEBHOOK_REFS`) submits one
 * build per image of `NIXYARD_PREBUILD` with the full commit as its tag and trigger `webhook`.
 *
 *   202 {"queued":[BuildRecord…],"ignored":null}        a push of a watched ref
 *   202 {"queued":[],"ignored":"<why>"}                  another event, an unwatched ref, a deletion
 *   200 {"queued":[],"ignored":"ping: …"}                GitHub's ping
 *   401 UNAUTHORIZED       bad or missing signature or token (nothing queued; logged)
 *   400 PARAMETER_INVALID  a push whose body is not JSON or names no commit (logged)
 *   404 ENDPOINT_UNKNOWN   another forge, or webhooks off (no NIXYARD_WEBHOOK_SECRET)
 */
import express, { Router, type Request } from 'express';
import type { BuildRecord } from '../builds/record.js';
import type { Builds } from '../builds/types.js';
import type { WebhooksConfig } from '../config.js';
import { RegistryError, toRegistryError } from '../errors.js';
import type { Logger } from '../log.js';
import { EVENT_HEADER, FORGES, isForge, isWatched, readDelivery, type Forge } from '../webhooks/push-events.js';
import { verifyDelivery } from '../webhooks/signatures.js';
import { webhookDeliveries } from '../metrics/metrics.js';

/** Largest delivery accepted (GitHub caps its payloads at 25 MB). */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;

/** What the webhooks need. */
export interface WebhooksDeps {
  /** `undefined`: webhooks are off and every delivery gets a 404 saying so. */
  settings: WebhooksConfig | undefined;
  builds: Pick<Builds, 'submit'>;
  log: Logger;
  /** Milliseconds since 1970 (Gitee's timestamps are checked against it). */
  now?: () => number;
}

/** The answer to a delivery. */
export interface WebhookResult {
  queued: BuildRecord[];
  ignored: string | null;
}

const client = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** Router for `/v1/webhooks/:forge`; mount it before the builds API (whose `/v1` catches the rest). */
export function webhooksRouter(deps: WebhooksDeps): Router {
  const { settings, builds, log } = deps;
  const now = deps.now ?? Date.now;
  const router = Router();

  /**
   * Submits the pre-builds of `commit`; every image is tried, the first failure is thrown after.
   * They count against the forge as one client request (build limits).
   */
  const prebuild = async (forge: Forge, ref: string, commit: string): Promise<BuildRecord[]> => {
    const queued: BuildRecord[] = [];
    const failed: { image: string; error: RegistryError }[] = [];
    const client = { id: `webhook:${forge}` };
    for (const image of settings?.prebuild ?? []) {
      try {
        queued.push(await builds.submit({ image, tag: commit, trigger: 'webhook', client }));
      } catch (error) {
        failed.push({ image, error: toRegistryError(error) });
      }
    }
    for (const { image, error } of failed) log.warn('webhook pre-build not queued', { forge, ref, commit, image, code: error.code, message: error.message });
    const first = failed[0];
    if (first) {
      const others = queued.length > 0 ? `; queued ${queued.map((record) => `${record.image} (${record.id})`).join(', ')}` : '';
      throw new RegistryError(first.error.code, `could not queue the pre-build of ${first.image} at ${commit}: ${first.error.message}${others}`, {
        cause: first.error,
        headers: first.error.headers,
        detail: { commit, queued: queued.map((record) => record.id), failed: failed.map(({ image, error }) => ({ image, code: error.code, message: error.message })) },
      });
    }
    return queued;
  };

  router.post('/v1/webhooks/:forge', express.raw({ type: () => true, limit: MAX_WEBHOOK_BODY_BYTES }), async (req, res) => {
    const { forge } = req.params;
    if (!isForge(forge)) {
      throw new RegistryError('ENDPOINT_UNKNOWN', `no webhook for ${JSON.stringify(forge)}: expected POST /v1/webhooks/${FORGES.join('|')}`, { detail: { forge } });
    }
    if (!settings) {
      throw new RegistryError('ENDPOINT_UNKNOWN', 'webhooks are off on this registry: set NIXYARD_WEBHOOK_SECRET (and NIXYARD_PREBUILD, with NIXERY_PKGS_REPO) to turn them on', { detail: { forge } });
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verification = verifyDelivery(forge, settings.secret, { header: (name) => req.get(name), body, nowMs: now() });
    if (!verification.ok) {
      log.warn('webhook delivery rejected', { forge, reason: verification.reason, client: client(req) });
      webhookDeliveries.inc({ forge, result: 'refused' });
      throw new RegistryError('UNAUTHORIZED', `${forge} webhook delivery refused: ${verification.reason}`, { detail: { forge } });
    }

    const delivery = readDelivery(forge, req.get(EVENT_HEADER[forge]), body.toString('utf8'));
    const answer = (status: number, result: WebhookResult) => res.status(status).json(result);
    switch (delivery.kind) {
      case 'ping':
        log.info('webhook ping', { forge, client: client(req) });
        webhookDeliveries.inc({ forge, result: 'ping' });
        answer(200, { queued: [], ignored: 'ping: the webhook reaches this registry and its secret matches' });
        return;
      case 'invalid':
        log.warn('webhook delivery rejected', { forge, reason: delivery.reason, client: client(req) });
        webhookDeliveries.inc({ forge, result: 'refused' });
        throw new RegistryError('PARAMETER_INVALID', `${forge} webhook delivery refused: ${delivery.reason}`, { detail: { forge } });
      case 'ignored':
        log.info('webhook delivery ignored', { forge, reason: delivery.reason });
        webhookDeliveries.inc({ forge, result: 'ignored' });
        answer(202, { queued: [], ignored: delivery.reason });
        return;
      case 'push': {
        const { push } = delivery;
        if (!isWatched(settings.refs, push)) {
          const reason = `${push.ref} is not watched (NIXYARD_WEBHOOK_REFS=${settings.refs.join(',')}): nothing to build`;
          log.info('webhook delivery ignored', { forge, reason });
          webhookDeliveries.inc({ forge, result: 'ignored' });
          answer(202, { queued: [], ignored: reason });
          return;
        }
        const queued = await prebuild(forge, push.ref, push.commit);
        log.info('webhook pre-builds queued', { forge, ref: push.ref, commit: push.commit, builds: queued.map((record) => `${record.image}:${record.id}`).join(',') });
        webhookDeliveries.inc({ forge, result: 'built' });
        answer(202, { queued, ignored: null });
        return;
      }
    }
  });
  return router;
}
