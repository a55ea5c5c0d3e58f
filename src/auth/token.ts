/**
 * Bearer tokens of the Docker token flow: compact JWTs signed with HMAC-SHA256 (RFC 7519,
 * claims as the distribution token spec has them: `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`,
 * `jti`, `access`), signed and verified with `jose`. Verification pins the algorithm (`HS256`
 * only: `none` and every other algorithm are refused) and checks the issuer, the audience (this
 * service), `nbf` and `iat` (with {@link CLOCK_SKEW_SECONDS} of tolerance between instances) and
 * `exp` (without: an expired token is told apart, so the client hears to get a new one).
 */
import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { ResourceAccess } from './scope.js';

/** `iss` of every token this registry signs. */
export const TOKEN_ISSUER = 'nixyard';
/** Seconds of clock difference between instances tolerated on `nbf` and `iat`. */
export const CLOCK_SKEW_SECONDS = 30;
/** Shortest key accepted for signing, in bytes. */
export const MIN_KEY_BYTES = 32;

const ALGORITHM = 'HS256';

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

/** Signs `claims` with `key`. */
export function signToken(claims: TokenClaims, key: Buffer): Promise<string> {
  return new SignJWT({ access: claims.access })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setIssuer(claims.iss)
    .setSubject(claims.sub)
    .setAudience(claims.aud)
    .setExpirationTime(claims.exp)
    .setNotBefore(claims.nbf)
    .setIssuedAt(claims.iat)
    .setJti(claims.jti)
    .sign(key);
}

/** A new token for `subject` with `access`, valid for `ttlSeconds` from `now`. */
export async function issueToken(options: { subject: string; access: ResourceAccess[]; audience: string; ttlSeconds: number; now: Date; key: Buffer }): Promise<{ token: string; claims: TokenClaims }> {
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
  return { token: await signToken(claims, options.key), claims };
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

function isClaims(value: JWTPayload): value is JWTPayload & TokenClaims {
  return (
    typeof value.iss === 'string' &&
    typeof value.sub === 'string' &&
    typeof value.aud === 'string' &&
    typeof value.jti === 'string' &&
    [value.exp, value.nbf, value.iat].every((time) => typeof time === 'number' && Number.isFinite(time)) &&
    isAccessList(value['access'])
  );
}

const claimsOf = (payload: JWTPayload & TokenClaims): TokenClaims => ({
  iss: payload.iss,
  sub: payload.sub,
  aud: payload.aud,
  exp: payload.exp,
  nbf: payload.nbf,
  iat: payload.iat,
  jti: payload.jti,
  access: payload.access,
});

/** Why jose refused a token, in the words the client gets. */
function refusal(error: unknown): string {
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'unsupported signature algorithm';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'issued for another service';
    if (error.claim === 'iss') return 'unknown issuer';
    if (error.claim === 'nbf' || error.claim === 'iat') return 'not valid yet';
    return 'malformed claims';
  }
  return 'not a signed token';
}

/** Checks a token's form, signature, issuer, audience and times (`now` in milliseconds). */
export async function verifyToken(token: string, key: Buffer, expected: { audience: string; now: number }): Promise<TokenCheck> {
  let payload: JWTPayload;
  try {
    // `exp` is checked below without tolerance; the tolerance is for `nbf` between instances.
    ({ payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], issuer: TOKEN_ISSUER, audience: expected.audience, clockTolerance: CLOCK_SKEW_SECONDS, currentDate: new Date(expected.now), typ: 'JWT' }));
  } catch (error) {
    if (error instanceof errors.JWTExpired && isClaims(error.payload)) return { kind: 'expired', claims: claimsOf(error.payload) };
    return { kind: 'invalid', reason: refusal(error) };
  }
  if (!isClaims(payload)) return { kind: 'invalid', reason: 'malformed claims' };
  const now = expected.now / 1000;
  if (payload.iat > now + CLOCK_SKEW_SECONDS) return { kind: 'invalid', reason: 'not valid yet' };
  if (payload.exp <= now) return { kind: 'expired', claims: claimsOf(payload) };
  return { kind: 'valid', claims: claimsOf(payload) };
}
