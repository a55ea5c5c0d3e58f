/**
 * STORAGE_EMULATOR_HOST as fake-gcs-server and Google's Go library document it (`host:port` or
 * `http://host:port`) points a real `nixyard serve` at the emulator; the Node client library,
 * which takes the variable as its whole base URL, must not see it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliServer } from '../helpers/cli-server.js';
import { startFakeGcs, type FakeGcs } from '../helpers/fake-gcs.js';

describe('STORAGE_EMULATOR_HOST', () => {
  let gcs: FakeGcs;
  beforeAll(async () => {
    gcs = await startFakeGcs();
  });
  afterAll(async () => gcs?.stop());

  for (const form of ['host:port', 'http://host:port']) {
    it(`as ${form}: the instance starts on the emulator's bucket and stores what it builds there`, async () => {
      const bucket = await gcs.createBucket();
      const host = form === 'host:port' ? new URL(gcs.endpoint).host : gcs.endpoint;
      const server = await startCliServer({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: bucket, STORAGE_EMULATOR_HOST: host });
      try {
        const res = await fetch(`${server.url}/v2/shell/hello/manifests/latest`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
        expect(res.status, await res.clone().text()).toBe(200);
        const listing = (await (await fetch(`${gcs.endpoint}/storage/v1/b/${bucket}/o`)).json()) as { items?: { name: string }[] };
        const names = (listing.items ?? []).map((item) => item.name);
        expect(names.some((name) => name.startsWith('manifests/'))).toBe(true);
        expect(names.some((name) => name.startsWith('layers/'))).toBe(true);
      } finally {
        await server.stop();
      }
    });
  }

  it('an unusable value is refused at start, naming the variable and the expected form', async () => {
    await expect(startCliServer({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'b', STORAGE_EMULATOR_HOST: 'http://' }, { timeoutMs: 10_000 })).rejects.toThrow(
      /STORAGE_EMULATOR_HOST="http:\/\/" is not allowed: expected host:port or http:\/\/host:port/,
    );
  });
});
