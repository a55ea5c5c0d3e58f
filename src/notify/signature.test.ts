import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from './signature.js';

describe('notification signatures', () => {
  const body = '{"event":"build.succeeded","build":{"id":"x"}}';

  it('is sha256= and the hex HMAC-SHA256 of the exact body, as GitHub signs webhooks', () => {
    // RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
    expect(signBody('Jefe', 'what do ya want for nothing?')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    expect(signBody('s3cret', body)).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(signBody('s3cret', Buffer.from(body))).toBe(signBody('s3cret', body));
  });

  it('verifies the signature of the body with the same secret, and nothing else', () => {
    const header = signBody('s3cret', body);
    expect(verifySignature('s3cret', body, header)).toBe(true);
    expect(verifySignature('s3cret', Buffer.from(body), header)).toBe(true);
    expect(verifySignature('wrong', body, header)).toBe(false);
    expect(verifySignature('s3cret', body.replace('succeeded', 'failed'), header)).toBe(false);
    expect(verifySignature('s3cret', `${body} `, header)).toBe(false);
    expect(verifySignature('s3cret', body, header.toUpperCase())).toBe(false);
    expect(verifySignature('s3cret', body, header.slice(0, -1))).toBe(false);
    expect(verifySignature('s3cret', body, header.replace('sha256=', ''))).toBe(false);
    expect(verifySignature('s3cret', body, '')).toBe(false);
    expect(verifySignature('s3cret', body, undefined)).toBe(false);
  });
});
