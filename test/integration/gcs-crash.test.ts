/**
 * An instance killed (SIGKILL) in the middle of uploading a layer to GCS leaves nothing partial
 * under `layers/`, and the next pull succeeds. The upload is slowed by a throttling proxy on
 * loopback between the instance and the emulator, so that the kill lands mid-upload.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoServer } from '../helpers/demo-server.js';
import { startCliServer } from '../helpers/cli-server.js';
import { startFakeGcs, type FakeGcs } from '../helpers/fake-gcs.js';
import { startProxy } from '../helpers/proxy.js';

/** Upload bandwidth through the proxy: a 1 MB layer takes seconds. */
const BYTES_PER_SECOND = 128 * 1024;
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('an instance killed mid-upload', () => {
  let gcs: FakeGcs;
  beforeAll(async () => {
    gcs = await startFakeGcs();
  });
  afterAll(async () => gcs?.stop());

  it('leaves no partial object under layers/, and the next pull succeeds', async () => {
    const bucket = await gcs.createBucket();
    const proxy = await startProxy(gcs.endpoint, { uploadBytesPerSecond: BYTES_PER_SECOND });
    try {
      const server = await startCliServer({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: bucket, NIXYARD_GCS_ENDPOINT: proxy.url });
      const pull = fetch(`${server.url}/v2/shell/hello/manifests/latest`).catch(() => undefined);
      await waitFor(() => proxy.uploaded() > 256 * 1024, 'an upload to be under way').catch(async (error: unknown) => {
        await server.stop(true);
        throw error;
      });
      await server.stop(true);
      await pull;
    } finally {
      await proxy.close();
    }

    const listing = (await (await fetch(`${gcs.endpoint}/storage/v1/b/${bucket}/o`)).json()) as { items?: { name: string }[] };
    const names = (listing.items ?? []).map((item) => item.name);
    for (const name of names.filter((key) => key.startsWith('layers/'))) {
      const bytes = Buffer.from(await (await fetch(`${gcs.endpoint}/${bucket}/${name}`)).arrayBuffer());
      expect(sha256(bytes), `${name} is complete`).toBe(`sha256:${name.slice('layers/'.length)}`);
    }
    expect(names.filter((key) => key.startsWith('manifests/'))).toEqual([]);

    const next = await startDemoServer({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: bucket, NIXYARD_GCS_ENDPOINT: gcs.endpoint });
    try {
      const res = await request(next.url).get('/v2/shell/hello/manifests/latest');
      expect(res.status, res.text).toBe(200);
      for (const layer of (JSON.parse(res.text) as { layers: { digest: string }[] }).layers) {
        const bytes = Buffer.from(await (await fetch(`${gcs.endpoint}/${bucket}/layers/${layer.digest.slice(7)}`)).arrayBuffer());
        expect(sha256(bytes)).toBe(layer.digest);
      }
    } finally {
      await next.close();
    }
  });
});
