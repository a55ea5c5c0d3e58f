import { describe, expect, it } from 'vitest';
import { GITEE_MAX_SKEW_MS, giteeSignature, githubSignature, safeEqual, verifyDelivery, verifyGitee, verifyGithub, verifyGitlab } from './signatures.js';

const refused = (reason: RegExp) => ({ ok: false, reason: expect.stringMatching(reason) });

describe('safeEqual', () => {
  it('compares values of any length, equal or not', () => {
    expect(safeEqual('secret', 'secret')).toBe(true);
    expect(safeEqual('secret', 'secreT')).toBe(false);
    expect(safeEqual('secret', 'secret-but-longer')).toBe(false);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual(Buffer.from('abc'), 'abc')).toBe(true);
  });
});

describe('GitHub: X-Hub-Signature-256', () => {
  // The test values of GitHub's "Validating webhook deliveries".
  const secret = "It's a Secret to Everybody";
  const body = Buffer.from('Hello, World!');
  const documented = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

  it('signs like the documented example', () => {
    expect(githubSignature(secret, body)).toBe(documented);
  });

  it('accepts the documented signature and nothing else', () => {
    expect(verifyGithub(secret, body, documented)).toEqual({ ok: true });
    expect(verifyGithub(secret, Buffer.from('Hello, World?'), documented)).toEqual(refused(/does not match the body/));
    expect(verifyGithub('another secret', body, documented)).toEqual(refused(/does not match/));
    expect(verifyGithub(secret, body, documented.toUpperCase())).toEqual(refused(/not of the form sha256=<hex>/));
    expect(verifyGithub(secret, body, documented.slice(0, -1))).toEqual(refused(/does not match/));
    expect(verifyGithub(secret, body, documented.replace('sha256=', 'sha1='))).toEqual(refused(/not of the form/));
    expect(verifyGithub(secret, body, undefined)).toEqual(refused(/no X-Hub-Signature-256 header/));
    expect(verifyGithub(secret, body, '')).toEqual(refused(/no X-Hub-Signature-256 header/));
  });

  it('signs the exact bytes: re-serialised JSON does not verify', () => {
    const raw = Buffer.from('{"ref": "refs/heads/main"}');
    const signature = githubSignature('s3cret', raw);
    expect(verifyGithub('s3cret', raw, signature)).toEqual({ ok: true });
    expect(verifyGithub('s3cret', Buffer.from(JSON.stringify(JSON.parse(raw.toString())) as string), signature).ok).toBe(false);
  });
});

describe('GitLab: X-Gitlab-Token', () => {
  it('is the secret itself', () => {
    expect(verifyGitlab('s3cret', 's3cret')).toEqual({ ok: true });
    expect(verifyGitlab('s3cret', 's3cret ')).toEqual(refused(/is not NIXYARD_WEBHOOK_SECRET/));
    expect(verifyGitlab('s3cret', 'S3CRET')).toEqual(refused(/is not NIXYARD_WEBHOOK_SECRET/));
    expect(verifyGitlab('s3cret', undefined)).toEqual(refused(/no X-Gitlab-Token header/));
  });
});

describe('Gitee: X-Gitee-Token and X-Gitee-Timestamp', () => {
  // Gitee's documented algorithm with the secret and timestamp of its examples; the expected
  // values were computed independently with Python's hmac, base64 and urllib.parse.quote_plus.
  const secret = 'this is secret';
  const timestamp = '1576754827988';
  const signature = '2D978FIy4DMMTbiN80zQkNH1Eq/kMBt3gL6OnWfGzzY=';
  const urlEncoded = '2D978FIy4DMMTbiN80zQkNH1Eq%2FkMBt3gL6OnWfGzzY%3D';
  const now = Number(timestamp) + 5_000;

  it('signs timestamp + "\\n" + secret with HMAC-SHA256, base64', () => {
    expect(giteeSignature(secret, timestamp)).toBe(signature);
  });

  it('accepts the signature, plain or URL-encoded, within an hour of the timestamp', () => {
    expect(verifyGitee(secret, signature, timestamp, now)).toEqual({ ok: true });
    expect(verifyGitee(secret, urlEncoded, timestamp, now)).toEqual({ ok: true });
    expect(verifyGitee(secret, signature, timestamp, Number(timestamp) - GITEE_MAX_SKEW_MS)).toEqual({ ok: true });
    expect(verifyGitee(secret, signature, timestamp, Number(timestamp) + GITEE_MAX_SKEW_MS + 1)).toEqual(refused(/more than an hour away/));
  });

  it('accepts the password (password mode), with or without a timestamp', () => {
    expect(verifyGitee(secret, secret, timestamp, now)).toEqual({ ok: true });
    expect(verifyGitee(secret, secret, undefined, now)).toEqual({ ok: true });
  });

  it('refuses another secret, another timestamp, a missing token or a bad encoding', () => {
    expect(verifyGitee('another secret', signature, timestamp, now)).toEqual(refused(/neither NIXYARD_WEBHOOK_SECRET nor its signature/));
    expect(verifyGitee(secret, signature, String(Number(timestamp) + 1), now)).toEqual(refused(/neither/));
    expect(verifyGitee(secret, signature, undefined, now)).toEqual(refused(/no X-Gitee-Timestamp/));
    expect(verifyGitee(secret, signature, 'yesterday', now)).toEqual(refused(/not a time in milliseconds/));
    expect(verifyGitee(secret, undefined, timestamp, now)).toEqual(refused(/no X-Gitee-Token header/));
    expect(verifyGitee(secret, '%E0%A4%A', timestamp, now)).toEqual(refused(/not valid URL-encoding/));
  });
});

describe('verifyDelivery', () => {
  it('reads each forge its own headers', () => {
    const body = Buffer.from('{}');
    const headers = (values: Record<string, string>) => (name: string) => values[name];
    expect(verifyDelivery('github', 'k', { header: headers({ 'x-hub-signature-256': githubSignature('k', body) }), body, nowMs: 0 })).toEqual({ ok: true });
    expect(verifyDelivery('github', 'k', { header: headers({ 'x-gitlab-token': 'k' }), body, nowMs: 0 }).ok).toBe(false);
    expect(verifyDelivery('gitlab', 'k', { header: headers({ 'x-gitlab-token': 'k' }), body, nowMs: 0 })).toEqual({ ok: true });
    expect(verifyDelivery('gitee', 'k', { header: headers({ 'x-gitee-token': giteeSignature('k', '1000'), 'x-gitee-timestamp': '1000' }), body, nowMs: 2000 })).toEqual({ ok: true });
    expect(verifyDelivery('gitee', 'k', { header: headers({ 'x-gitlab-token': 'k' }), body, nowMs: 0 }).ok).toBe(false);
  });
});
