/**
 * The signature of a notification (`X-Nixyard-Signature-256`), in GitHub's webhook style:
 * `sha256=` and the hex HMAC-SHA256 of the exact body bytes, keyed with
 * `NIXYARD_NOTIFY_SECRET`. Receivers recompute it over the raw body they got (before any JSON
 * parsing) and compare in constant time; {@link verifySignature} is that check. No I/O.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying the signature. */
export const SIGNATURE_HEADER = 'X-Nixyard-Signature-256';

/** The signature header's value for `body` signed with `secret`: `sha256=<64 hex digits>`. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Whether `header` is the signature of `body` with `secret`. Compares the SHA-256 digests of
 * both values with `timingSafeEqual`, so the time taken says nothing about where they differ,
 * nor about their lengths; a missing header is no signature.
 */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | undefined): boolean {
  if (header === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(signBody(secret, body)), digest(header));
}
