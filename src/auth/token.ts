/**
 * Bearer tokens of the Docker token flow: compact JWTs signed with HMAC-SHA256 (RFC 7519,
 * claims as the distribution token spec has them: `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`,
 * `jti`, `access`). Verification pins the algorithm (`alg` must be `HS256`: `none` and
 * public-key algorithms are refused), compares signatures in constant time, and checks the
 * issuer, the audience (this service), `nbf` and `exp`.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ResourceAccess } from './scope.js';

/** `iss` of every token this registry signs. */
export const TOKEN_ISSUER = 'nixyard';
/** Seconds of clock difference between instances tolerated on `nbf` and `iat`. */
export const CLOCK_SKEW_SECONDS = 30;
/** Shortest key accepted for signing, in bytes. */
export const MIN_KEY_BYTES = 32;

const HEADER = { alg: 'HS256', typ: 'JWT' } as const;

/** The claims of a token. `sub` is the user, `''` for an anonymous token. */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: ResourceAccess[];
}

/** What `verifyToken` found. */
export type TokenCheck = { kind: 'valid'; claims: TokenClaims } | { kind: 'expired'; claims: TokenClaims } | { kind: 'invalid'; reason: string };

const base64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');

function sign(input: string, key: Buffer): Buffer {
  return createHmac('sha256', key).update(input).digest();
}

/** Signs `claims` with `key`. */
export function signToken(claims: TokenClaims, key: Buffer): string {
  const input = `${base64url(JSON.stringify(HEADER))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${base64url(sign(input, key))}`;
}

/** A new token for `subject` with `access`, valid for `ttlSeconds` from `now`. */
export function issueToken(options: { subject: string; access: ResourceAccess[]; audience: string; ttlSeconds: number; now: Date; key: Buffer }): { token: string; claims: TokenClaims } {
  const iat = Math.floor(options.now.getTime() / 1000);
  const claims: TokenClaims = {
    iss: TOKEN_ISSUER,
    sub: options.subject,
    aud: options.audience,
    exp: iat + options.ttlSeconds,
    nbf: iat,
    iat,
    jti: randomUUID(),
    access: options.access,
  };
  return { token: signToken(claims, options.key), claims };
}

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function isAccessList(value: unknown): value is ResourceAccess[] {
  return (
    Array.isArray(value) &&
    value.every((entry: unknown) => {
      const access = entry as Partial<ResourceAccess> | null;
      return typeof access === 'object' && access !== null && typeof access.type === 'string' && typeof access.name === 'string' && Array.isArray(access.actions) && access.actions.every((action) => typeof action === 'string');
    })
  );
}

function isClaims(value: unknown): value is TokenClaims {
  const claims = value as Partial<TokenClaims> | null;
  return (
    typeof claims === 'object' &&
    claims !== null &&
    typeof claims.iss === 'string' &&
    typeof claims.sub === 'string' &&
    typeof claims.aud === 'string' &&
    typeof claims.jti === 'string' &&
    [claims.exp, claims.nbf, claims.iat].every((time) => typeof time === 'number' && Number.isFinite(time)) &&
    isAccessList(claims.access)
  );
}

/** Checks a token's form, signature, issuer, audience and times (`now` in milliseconds). */
export function verifyToken(token: string, key: Buffer, expected: { audience: string; now: number }): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) return { kind: 'invalid', reason: 'not a signed token' };
  const [header, payload, signature] = parts as [string, string, string];
  const decodedHeader = decodeJson(header) as { alg?: unknown; typ?: unknown } | undefined;
  if (typeof decodedHeader !== 'object' || decodedHeader === null || decodedHeader.alg !== HEADER.alg) return { kind: 'invalid', reason: 'unsupported signature algorithm' };
  const expectedSignature = sign(`${header}.${payload}`, key);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expectedSignature.length || !timingSafeEqual(given, expectedSignature)) return { kind: 'invalid', reason: 'bad signature' };
  const claims = decodeJson(payload);
  if (!isClaims(claims)) return { kind: 'invalid', reason: 'malformed claims' };
  if (claims.iss !== TOKEN_ISSUER) return { kind: 'invalid', reason: 'unknown issuer' };
  if (claims.aud !== expected.audience) return { kind: 'invalid', reason: 'issued for another service' };
  const now = expected.now / 1000;
  if (claims.nbf > now + CLOCK_SKEW_SECONDS || claims.iat > now + CLOCK_SKEW_SECONDS) return { kind: 'invalid', reason: 'not valid yet' };
  if (claims.exp <= now) return { kind: 'expired', claims };
  return { kind: 'valid', claims };
}
