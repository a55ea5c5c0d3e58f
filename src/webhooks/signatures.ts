/**
 * Who sent a webhook delivery: each forge's proof that it knows the shared secret
 * (`NIXYARD_WEBHOOK_SECRET`), checked in constant time. No I/O; the clock is a parameter.
 *
 *   GitHub  X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>
 *   GitLab  X-Gitlab-Token: <secret>                      (the body is not signed)
 *   Gitee   X-Gitee-Token: <secret>                       (password mode), or
 *           X-Gitee-Token: base64(HMAC-SHA256(secret, timestamp + "\n" + secret))
 *           with X-Gitee-Timestamp: <milliseconds>        (signature mode; the signature may
 *           arrive URL-encoded, as Gitee's documented algorithm ends with a urlEncode step)
 *
 * Every comparison goes through {@link safeEqual}: `timingSafeEqual` over the SHA-256 digests of
 * both sides, so the buffers always have equal length and the time taken says nothing about
 * where the values differ, nor about the secret's length.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Forge } from './push-events.js';

/** Largest distance between `X-Gitee-Timestamp` and now (Gitee: "no more than one hour"). */
export const GITEE_MAX_SKEW_MS = 60 * 60 * 1000;

/** Whether a delivery proved knowledge of the secret; `reason` says why not (for logs and 401s). */
export type Verification = { ok: true } | { ok: false; reason: string };

const OK: Verification = { ok: true };
const refuse = (reason: string): Verification => ({ ok: false, reason });

/** Constant-time equality of two values of any length (compares their SHA-256 digests). */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** The `X-Hub-Signature-256` value GitHub sends with `body`. */
export function githubSignature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Checks GitHub's `X-Hub-Signature-256` header against the exact bytes received. */
export function verifyGithub(secret: string, body: Buffer, header: string | undefined): Verification {
  if (header === undefined || header === '') return refuse('no X-Hub-Signature-256 header: give the webhook the secret of NIXYARD_WEBHOOK_SECRET on GitHub');
  if (!header.startsWith('sha256=')) return refuse('X-Hub-Signature-256 is not of the form sha256=<hex>');
  return safeEqual(githubSignature(secret, body), header) ? OK : refuse('X-Hub-Signature-256 does not match the body signed with NIXYARD_WEBHOOK_SECRET');
}

/** Checks GitLab's `X-Gitlab-Token` header (the secret itself). */
export function verifyGitlab(secret: string, token: string | undefined): Verification {
  if (token === undefined || token === '') return refuse('no X-Gitlab-Token header: set the secret token of the webhook on GitLab to NIXYARD_WEBHOOK_SECRET');
  return safeEqual(secret, token) ? OK : refuse('X-Gitlab-Token is not NIXYARD_WEBHOOK_SECRET');
}

/** The signature Gitee sends in `X-Gitee-Token` for `timestamp` (before its URL-encoding). */
export function giteeSignature(secret: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
}

/**
 * Checks Gitee's `X-Gitee-Token`: the password itself, or the signature of `X-Gitee-Timestamp`
 * (plain or URL-encoded base64) made no more than {@link GITEE_MAX_SKEW_MS} away from `nowMs`.
 */
export function verifyGitee(secret: string, token: string | undefined, timestamp: string | undefined, nowMs: number): Verification {
  if (token === undefined || token === '') return refuse('no X-Gitee-Token header: set the password or signing key of the webhook on Gitee to NIXYARD_WEBHOOK_SECRET');
  if (safeEqual(secret, token)) return OK;
  if (timestamp === undefined || timestamp === '') return refuse('X-Gitee-Token is not the password and there is no X-Gitee-Timestamp to check it as a signature');
  if (!/^\d{1,16}$/.test(timestamp)) return refuse('X-Gitee-Timestamp is not a time in milliseconds');
  let signature = token;
  if (token.includes('%')) {
    try {
      signature = decodeURIComponent(token);
    } catch {
      return refuse('X-Gitee-Token is not valid URL-encoding');
    }
  }
  if (!safeEqual(giteeSignature(secret, timestamp), signature)) return refuse('X-Gitee-Token is neither NIXYARD_WEBHOOK_SECRET nor its signature of X-Gitee-Timestamp');
  if (Math.abs(nowMs - Number(timestamp)) > GITEE_MAX_SKEW_MS) return refuse('X-Gitee-Timestamp is more than an hour away from now (a replayed delivery, or a clock far off)');
  return OK;
}

/** The headers and raw body of a delivery, as the check needs them. */
export interface SignedDelivery {
  /** A request header by lowercase name. */
  header(name: string): string | undefined;
  /** The body exactly as received. */
  body: Buffer;
  /** Milliseconds since 1970 (for Gitee's timestamp). */
  nowMs: number;
}

/** Checks a delivery the way `forge` authenticates its webhooks. */
export function verifyDelivery(forge: Forge, secret: string, delivery: SignedDelivery): Verification {
  switch (forge) {
    case 'github':
      return verifyGithub(secret, delivery.body, delivery.header('x-hub-signature-256'));
    case 'gitlab':
      return verifyGitlab(secret, delivery.header('x-gitlab-token'));
    case 'gitee':
      return verifyGitee(secret, delivery.header('x-gitee-token'), delivery.header('x-gitee-timestamp'), delivery.nowMs);
  }
}
