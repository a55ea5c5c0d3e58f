/**
 * The POST a build's callback gets (pure). Its status is what a deployer waits for:
 *
 *   queued                                    → nothing
 *   any status while it works (fetching …)    → RUNNING (once)
 *   succeeded | failed | cancelled            → SUCCEEDED | FAILED | CANCELLED
 *
 * Body (exact bytes, the same for every attempt):
 *
 *   {"status":"SUCCEEDED","build":{"id","image","tag","trigger","app","url"},
 *    "image":"registry.example.com/apps/acme/web:main-1a2b3c4@sha256:…" (null until built),
 *    "digest":"sha256:…", "tags":[…], "pushed":["ghcr.io/acme/web:main-1a2b3c4@sha256:…"],
 *    "error":{"code","message"} | null}
 *
 * Headers: Content-Type: application/json, User-Agent: nixyard-callback, X-Nixyard-Event:
 * build.callback, X-Nixyard-Delivery: <uuid>, X-Nixyard-Signature-256: sha256=<hex HMAC-SHA256 of
 * the body with the callback's token> (the scheme of notifications and GitHub webhooks).
 */
import type { BuildRecord, CallbackStatus } from '../builds/record.js';
import { signedRequest, type NotificationRequest } from './message.js';

/** The callback status of a record's status; `undefined` while it is queued. */
export function callbackStatusOf(record: BuildRecord): CallbackStatus | undefined {
  switch (record.status) {
    case 'queued':
      return undefined;
    case 'succeeded':
      return 'SUCCEEDED';
    case 'failed':
      return 'FAILED';
    case 'cancelled':
      return 'CANCELLED';
    default:
      return 'RUNNING';
  }
}

/** What is POSTed. */
export interface CallbackPayload {
  status: CallbackStatus;
  build: { id: string; image: string; tag: string; trigger: string; app: string | null; url: string };
  image: string | null;
  digest: string | null;
  tags: string[];
  pushed: string[];
  error: { code: string; message: string } | null;
}

/** The payload about `record` in `status`; `registryHost` names the registry in the image reference. */
export function callbackPayload(record: BuildRecord, status: CallbackStatus, registryHost: string): CallbackPayload {
  const digest = record.manifestDigest;
  return {
    status,
    build: { id: record.id, image: record.image, tag: record.tag, trigger: record.trigger, app: record.app ?? null, url: `/v1/builds/${record.id}` },
    image: digest ? `${registryHost}/${record.image}:${record.tag}@${digest}` : null,
    digest,
    tags: record.tags ?? [],
    pushed: (record.pushes ?? []).flatMap((push) => (push.digest ? push.references.map((reference) => `${reference}@${push.digest}`) : [])),
    error: record.error,
  };
}

/** The signed request of the callback about `record` in `status`. */
export function callbackRequest(record: BuildRecord, status: CallbackStatus, callback: { token: string; registryHost: string }, deliveryId: string): NotificationRequest {
  const body = JSON.stringify(callbackPayload(record, status, callback.registryHost));
  return signedRequest({ event: 'build.callback', deliveryId, body, secret: callback.token, userAgent: 'nixyard-callback' });
}
