import { describe, expect, it } from 'vitest';
import { newRecord, succeed } from '../builds/record.js';
import { notificationRequest } from './message.js';
import { verifySignature } from './signature.js';

const queued = newRecord({ id: '20261122T101500123Z-1a2b3c4d', image: 'shell/hello', tag: 'latest', packages: ['hello'], arch: 'amd64', revision: 'r', trigger: 'api', instance: 'i' }, new Date('2026-11-22T10:15:00Z'));
const done = succeed(queued, { layers: [{ digest: `sha256:${'a'.repeat(64)}`, size: 10 }], manifestDigest: `sha256:${'b'.repeat(64)}` }, new Date('2026-11-22T10:15:09Z'));

describe('the notification request', () => {
  it('is the event and the record as JSON, with event, delivery and signature headers', () => {
    const request = notificationRequest(done, 's3cret', '2f1d5a60-0c1e-4d3b-9a57-0b0f8f1b7c11');
    expect(JSON.parse(request.body)).toEqual({ event: 'build.succeeded', build: done });
    expect(request.body.startsWith('{"event":"build.succeeded","build":{')).toBe(true);
    expect(request.headers).toEqual({
      'Content-Type': 'application/json',
      'User-Agent': 'nixyard-notifier',
      'X-Nixyard-Event': 'build.succeeded',
      'X-Nixyard-Delivery': '2f1d5a60-0c1e-4d3b-9a57-0b0f8f1b7c11',
      'X-Nixyard-Signature-256': expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
    });
    expect(verifySignature('s3cret', request.body, request.headers['X-Nixyard-Signature-256'])).toBe(true);
    expect(request).toMatchObject({ event: 'build.succeeded', deliveryId: '2f1d5a60-0c1e-4d3b-9a57-0b0f8f1b7c11' });
  });

  it('is the same bytes for the same record and delivery, so retries send the same signature', () => {
    expect(notificationRequest(done, 's3cret', 'd')).toEqual(notificationRequest(done, 's3cret', 'd'));
    expect(notificationRequest(done, 'other', 'd').headers['X-Nixyard-Signature-256']).not.toBe(notificationRequest(done, 's3cret', 'd').headers['X-Nixyard-Signature-256']);
  });
});
