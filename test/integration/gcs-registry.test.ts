/**
 * Redundant instances on one (emulated) GCS bucket: the bucket is the shared cache, blobs are
 * downloaded from the bucket through redirects, racing builds leave each layer once.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BuildRecord } from '../../src/builds/record.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { forbiddenNix } from '../helpers/package-sets.js';
import { startFakeGcs, writeServiceAccountKey, type FakeGcs } from '../helpers/fake-gcs.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('instances sharing a GCS bucket', () => {
  let gcs: FakeGcs;
  let keyFile: string;
  beforeAll(async () => {
    gcs = await startFakeGcs();
    keyFile = await writeServiceAccountKey();
  });
  afterAll(async () => gcs?.stop());

  const gcsEnv = (bucket: string, withKey = true): Record<string, string> => ({
    NIXERY_STORAGE_BACKEND: 'gcs',
    GCS_BUCKET: bucket,
    NIXYARD_GCS_ENDPOINT: gcs.endpoint,
    ...(withKey ? { GOOGLE_APPLICATION_CREDENTIALS: keyFile } : {}),
  });

  async function bucketObjects(bucket: string): Promise<Map<string, Buffer>> {
    const listing = (await (await fetch(`${gcs.endpoint}/storage/v1/b/${bucket}/o`)).json()) as { items?: { name: string }[] };
    const objects = new Map<string, Buffer>();
    for (const { name } of listing.items ?? []) {
      objects.set(name, Buffer.from(await (await fetch(`${gcs.endpoint}/${bucket}/${name}`)).arrayBuffer()));
    }
    return objects;
  }

  it('a second instance with a failing Nix serves what the first built; blobs redirect to signed URLs', async () => {
    const bucket = await gcs.createBucket();
    const first = await startDemoServer(gcsEnv(bucket));
    const second = await startDemoServer(gcsEnv(bucket), { nix: forbiddenNix });
    try {
      const built = await request(first.url).get('/v2/shell/hello/manifests/latest');
      expect(built.status, built.text).toBe(200);
      const served = await request(second.url).get('/v2/shell/hello/manifests/latest');
      expect(served.status, served.text).toBe(200);
      expect(served.text).toBe(built.text);
      const byDigest = await request(second.url).get(`/v2/shell/hello/manifests/${served.headers['docker-content-digest']}`);
      expect(byDigest.status).toBe(200);

      const manifest = JSON.parse(served.text) as { config: { digest: string }; layers: { digest: string; size: number }[] };
      for (const blob of [manifest.config, ...manifest.layers]) {
        const redirect = await request(second.url).get(`/v2/shell/hello/blobs/${blob.digest}`).redirects(0);
        expect(redirect.status).toBe(307);
        const location = new URL(redirect.headers['location'] as string);
        expect(location.origin).toBe(gcs.endpoint);
        expect(location.searchParams.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256');
        const download = Buffer.from(await (await fetch(location)).arrayBuffer());
        expect(sha256(download)).toBe(blob.digest);
      }
      const head = await request(second.url).head(`/v2/shell/hello/blobs/${manifest.layers[0]?.digest}`).redirects(0);
      expect(head.status).toBe(200);
      expect(Number(head.headers['content-length'])).toBe(manifest.layers[0]?.size);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('a build running on one instance is seen, followed and cancelled through the other', async () => {
    const bucket = await gcs.createBucket();
    const first = await startDemoServer(gcsEnv(bucket));
    const second = await startDemoServer(gcsEnv(bucket), { nix: forbiddenNix });
    try {
      const created = await request(first.url).post('/v1/builds').send({ image: 'slow-demo' });
      expect(created.status, created.text).toBe(202);
      const id = (created.body as BuildRecord).id;
      // The second instance reads the record and the log from the bucket.
      await vi.waitFor(
        async () => {
          const log = await request(second.url).get(`/v1/builds/${id}/logs`);
          expect(log.text).toContain('slow-demo: run');
        },
        { timeout: 60_000, interval: 500 },
      );
      expect((await request(second.url).get('/v1/builds')).body).toMatchObject({ builds: [{ id, status: 'building', instance: (created.body as BuildRecord).instance }] });
      const following = fetch(`${second.url}/v1/builds/${id}/logs?follow=1`).then((res) => res.text());
      const asked = await request(second.url).post(`/v1/builds/${id}/cancel`);
      expect(asked.status, asked.text).toBe(200);
      const followed = await following;
      expect(followed).toContain('slow-demo: run');
      expect(followed).toContain('cancelled: BUILD_CANCELLED');
      expect((await request(second.url).get(`/v1/builds/${id}`)).body).toMatchObject({ status: 'cancelled', error: { message: expect.stringContaining('another instance') } });
      expect([...(await bucketObjects(bucket)).keys()].filter((key) => key.startsWith('build-cancels/'))).toEqual([]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('without a key, blobs redirect to the public object URL', async () => {
    const bucket = await gcs.createBucket();
    const server = await startDemoServer(gcsEnv(bucket, false));
    try {
      const manifest = JSON.parse((await request(server.url).get('/v2/hello/manifests/latest')).text) as { layers: { digest: string }[] };
      const digest = manifest.layers[0]?.digest as string;
      const redirect = await request(server.url).get(`/v2/hello/blobs/${digest}`).redirects(0);
      expect(redirect.headers['location']).toBe(`${gcs.endpoint}/${bucket}/layers/${digest.slice(7)}`);
    } finally {
      await server.close();
    }
  });

  it('two instances building one image at the same moment both succeed and the bucket holds each layer once', async () => {
    const bucket = await gcs.createBucket();
    const [a, b] = await Promise.all([startDemoServer(gcsEnv(bucket)), startDemoServer(gcsEnv(bucket))]);
    try {
      const name = 'shell/which/gzip';
      const [fromA, fromB] = await Promise.all([request(a.url).get(`/v2/${name}/manifests/latest`), request(b.url).get(`/v2/${name}/manifests/latest`)]);
      expect([fromA.status, fromB.status]).toEqual([200, 200]);
      expect(fromA.headers['docker-content-digest']).toBe(fromB.headers['docker-content-digest']);
      const objects = await bucketObjects(bucket);
      const keys = [...objects.keys()];
      expect(keys.filter((key) => key.startsWith('staging/'))).toEqual([]);
      for (const [key, bytes] of objects) {
        if (key.startsWith('layers/')) expect(sha256(bytes), key).toBe(`sha256:${key.slice('layers/'.length)}`);
      }
      const manifest = JSON.parse(fromA.text) as { layers: { digest: string }[] };
      for (const layer of manifest.layers) expect(keys.filter((key) => key === `layers/${layer.digest.slice(7)}`)).toHaveLength(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('start-up fails clearly when the bucket is missing', async () => {
    await expect(startDemoServer(gcsEnv('no-such-bucket'))).rejects.toThrow(/GCS_BUCKET=no-such-bucket is not usable/);
  });
});
