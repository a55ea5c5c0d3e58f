import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issueToken, signToken, verifyToken, type TokenClaims } from './token.js';

const key = Buffer.alloc(32, 7);
const otherKey = Buffer.alloc(32, 8);
const t0 = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number) => t0.getTime() + seconds * 1000;
const audience = 'nixyard';
const access = [{ type: 'repository', name: 'shell/hello', actions: ['pull'] }];

function token(): Promise<{ token: string; claims: TokenClaims }> {
  return issueToken({ subject: 'alice', access, audience, ttlSeconds: 300, now: t0, key });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('tokens', () => {
  it('issues a JWT with the distribution claims that verifies until it expires', async () => {
    const issued = await token();
    expect(issued.claims).toMatchObject({ iss: 'nixyard', sub: 'alice', aud: audience, iat: t0.getTime() / 1000, nbf: t0.getTime() / 1000, exp: t0.getTime() / 1000 + 300, access });
    expect(JSON.parse(Buffer.from(issued.token.split('.')[0] ?? '', 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(await verifyToken(issued.token, key, { audience, now: at(0) })).toEqual({ kind: 'valid', claims: issued.claims });
    expect((await verifyToken(issued.token, key, { audience, now: at(299) })).kind).toBe('valid');
    expect((await verifyToken(issued.token, key, { audience, now: at(300) })).kind).toBe('expired');
  });

  it('refuses a token signed with another key, or altered', async () => {
    const issued = await token();
    expect(await verifyToken(issued.token, otherKey, { audience, now: at(1) })).toEqual({ kind: 'invalid', reason: 'bad signature' });
    const [header, , signature] = issued.token.split('.');
    const forged = `${header}.${b64({ ...issued.claims, access: [{ type: 'repository', name: 'private/x', actions: ['pull'] }] })}.${signature}`;
    expect(await verifyToken(forged, key, { audience, now: at(1) })).toEqual({ kind: 'invalid', reason: 'bad signature' });
  });

  it('pins the algorithm: alg none and other algorithms are refused even with a matching HMAC', async () => {
    const { claims } = await token();
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect((await verifyToken(unsigned, key, { audience, now: at(1) })).kind).toBe('invalid');
    const input = `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64(claims)}`;
    const hs512 = `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    expect(await verifyToken(hs512, key, { audience, now: at(1) })).toEqual({ kind: 'invalid', reason: 'unsupported signature algorithm' });
  });

  it('checks audience, issuer, not-before and the claim types', async () => {
    const { claims } = await token();
    expect(await verifyToken(await signToken({ ...claims, aud: 'other' }, key), key, { audience, now: at(1) })).toEqual({ kind: 'invalid', reason: 'issued for another service' });
    expect(await verifyToken(await signToken({ ...claims, iss: 'evil' }, key), key, { audience, now: at(1) })).toEqual({ kind: 'invalid', reason: 'unknown issuer' });
    expect(await verifyToken(await signToken({ ...claims, nbf: claims.nbf + 3600 }, key), key, { audience, now: at(1) })).toEqual({ kind: 'invalid', reason: 'not valid yet' });
    expect(await verifyToken(await signToken({ ...claims, access: 'all' } as unknown as TokenClaims, key), key, { audience, now: at(1) })).toEqual({ kind: 'invalid', reason: 'malformed claims' });
    for (const garbage of ['', 'abc', 'a.b', 'a.b.c.d', 'a!.b.c']) expect((await verifyToken(garbage, key, { audience, now: at(1) })).kind).toBe('invalid');
  });
});
