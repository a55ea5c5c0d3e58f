/**
 * The HTTP request notifying a status change (pure): the body
 * `{"event":"build.<status>","build":<the build record>}` as exact bytes, and its headers:
 *
 *   Content-Type: application/json
 *   User-Agent: nixyard-notifier
 *   X-Nixyard-Event: build.<status>
 *   X-Nixyard-Delivery: <uuid, the same for every attempt of one notification>
 *   X-Nixyard-Signature-256: sha256=<hex HMAC-SHA256 of the body with NIXYARD_NOTIFY_SECRET>
 *
 * The body is made once per notification, so every attempt sends the same bytes with the same
 * signature and receivers can drop repeats by the delivery id.
 */
import type { BuildRecord } from '../builds/record.js';
import { SIGNATURE_HEADER, signBody } from './signature.js';

/** The event name of a status: `build.succeeded`. */
export const eventName = (status: BuildRecord['status']): string => `build.${status}`;

/** What is POSTed to `NIXYARD_NOTIFY_URL`. */
export interface NotificationPayload {
  /** `build.<status>`. */
  event: string;
  /** The record as it was when it entered the status. */
  build: BuildRecord;
}

/** One notification's request, the same for each of its attempts. */
export interface NotificationRequest {
  event: string;
  deliveryId: string;
  body: string;
  headers: Record<string, string>;
}

/** The request notifying that `record` entered its status, signed with `secret`. */
export function notificationRequest(record: BuildRecord, secret: string, deliveryId: string): NotificationRequest {
  const event = eventName(record.status);
  const payload: NotificationPayload = { event, build: record };
  return signedRequest({ event, deliveryId, body: JSON.stringify(payload), secret, userAgent: 'nixyard-notifier' });
}

/** A POST of `body` about `event`, signed with `secret` (notifications and callbacks alike). */
export function signedRequest(input: { event: string; deliveryId: string; body: string; secret: string; userAgent: string }): NotificationRequest {
  const { event, deliveryId, body } = input;
  return {
    event,
    deliveryId,
    body,
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': input.userAgent,
      'X-Nixyard-Event': event,
      'X-Nixyard-Delivery': deliveryId,
      [SIGNATURE_HEADER]: signBody(input.secret, body),
    },
  };
}
