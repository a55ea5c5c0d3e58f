import { describe, expect, it } from 'vitest';
import { enterStatus, fail, newRecord, succeed, type BuildRecord } from '../builds/record.js';
import { callbackPayload, callbackRequest, callbackStatusOf } from './callback-message.js';
import { verifySignature } from './signature.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const at = (seconds: number) => new Date(Date.UTC(2026, 11, 4, 10, 0, seconds));
const queued = newRecord(
  { id: '20261204T100000000Z-1a2b3c4d', image: 'apps/acme/web', tag: 'main-1a2b3c4', packages: [], arch: 'amd64', revision: 'r', trigger: 'webhook', instance: 'i', push: ['ghcr.io/acme/web'], callback: 'https://deploy.example/cb', app: 'app-1' },
  at(0),
);

describe('callbackStatusOf', () => {
  it('says nothing while queued, RUNNING while it works, and how it ended', () => {
    expect(callbackStatusOf(queued)).toBeUndefined();
    for (const status of ['fetching', 'building', 'pushing'] as const) expect(callbackStatusOf(enterStatus(queued, status, at(1)))).toBe('RUNNING');
    expect(callbackStatusOf(succeed(queued, { layers: [], manifestDigest: DIGEST }, at(2)))).toBe('SUCCEEDED');
    expect(callbackStatusOf(fail(queued, { code: 'BUILD_COMMAND_FAILED', message: 'npm ci failed' }, at(2)))).toBe('FAILED');
    expect(callbackStatusOf(fail(queued, { code: 'BUILD_CANCELLED', message: 'cancelled' }, at(2), 'cancelled'))).toBe('CANCELLED');
  });
});

describe('callbackPayload', () => {
  it('names the image by reference and digest, its tags and where it was pushed', () => {
    const done: BuildRecord = {
      ...succeed(queued, { layers: [], manifestDigest: DIGEST }, at(3)),
      tags: ['main-1a2b3c4', 'main', 'latest'],
      pushes: [
        { to: 'ghcr.io/acme/web', status: 'pushed', references: ['ghcr.io/acme/web:main-1a2b3c4', 'ghcr.io/acme/web:main'], digest: DIGEST, bytesUploaded: 10, layersUploaded: 1, error: null },
        { to: 'other.example/web', status: 'pending', references: [], digest: null, bytesUploaded: null, layersUploaded: null, error: null },
      ],
    };
    expect(callbackPayload(done, 'SUCCEEDED', 'registry.example.com')).toEqual({
      status: 'SUCCEEDED',
      build: { id: queued.id, image: 'apps/acme/web', tag: 'main-1a2b3c4', trigger: 'webhook', app: 'app-1', url: `/v1/builds/${queued.id}` },
      image: `registry.example.com/apps/acme/web:main-1a2b3c4@${DIGEST}`,
      digest: DIGEST,
      tags: ['main-1a2b3c4', 'main', 'latest'],
      pushed: [`ghcr.io/acme/web:main-1a2b3c4@${DIGEST}`, `ghcr.io/acme/web:main@${DIGEST}`],
      error: null,
    });
  });

  it('gives a failed build’s error and no image', () => {
    const failed = fail(queued, { code: 'PUSH_UNAUTHORIZED', message: 'push to ghcr.io/acme/web:main refused' }, at(3));
    expect(callbackPayload(failed, 'FAILED', 'r')).toMatchObject({ status: 'FAILED', image: null, digest: null, pushed: [], error: { code: 'PUSH_UNAUTHORIZED' } });
  });

  it('signs the exact body with the token and never carries the token', () => {
    const request = callbackRequest(queued, 'RUNNING', { token: 'tok-0123456789abcdef', registryHost: 'r' }, 'd-1');
    expect(verifySignature('tok-0123456789abcdef', request.body, request.headers['X-Nixyard-Signature-256'])).toBe(true);
    expect(verifySignature('another-token-0123', request.body, request.headers['X-Nixyard-Signature-256'])).toBe(false);
    expect(request.headers).toMatchObject({ 'X-Nixyard-Event': 'build.callback', 'X-Nixyard-Delivery': 'd-1', 'User-Agent': 'nixyard-callback' });
    expect(request.body).not.toContain('tok-0123456789abcdef');
  });
});
