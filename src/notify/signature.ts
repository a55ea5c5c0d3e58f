/**
 * The signature of a notification (`X-Nixyard-Signature-256`), in GitHub's webhook style:
 * `sha256=` and the hex HMAC-SHA256 of the exact body bytes, keyed with
 * `NIXYARD_NOTIFY_SECRET`. Receivers recompute it over the raw body they got (before any JSON
 * parsing) and compare in constant time; {@link verifySignature} is that check. No I/O.
 */
import { githubSignature, safeEqual } from '../webhooks/signatures.js';

/** The header carrying the signature. */
export const SIGNATURE_HEADER = 'X-Nixyard-Signature-256';

/** The signature header's value for `body` signed with `secret`: `sha256=<64 hex digits>` (GitHub's scheme). */
export function signBody(secret: string, body: string | Uint8Array): string {
  return githubSignature(secret, Buffer.from(body));
}

/** Whether `header` is the signature of `body` with `secret`, compared in constant time; a missing header is no signature. */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | undefined): boolean {
  return header !== undefined && safeEqual(signBody(secret, body), header);
}
