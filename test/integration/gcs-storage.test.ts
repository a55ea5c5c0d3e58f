/** The storage contract, unchanged, against the GCS backend on a real emulator. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcsStorage } from '../../storage/gcs.js';
import type { Storage } from '../../storage/types.js';
import { startFakeGcs, writeServiceAccountKey, type FakeGcs } from '../helpers/fake-gcs.js';
import { describeStorage } from '../helpers/storage-contract.js';

let emulator: FakeGcs;
beforeAll(async () => {
  emulator = await startFakeGcs();
});
afterAll(async () => emulator?.stop());

const gcsOptions = async (credentialsFile?: string) => ({
  bucket: await emulator.createBucket(),
  credentialsFile,
  endpoint: emulator.endpoint,
  publicUrl: emulator.endpoint,
  signedUrlSeconds: 300,
});

describeStorage('gcs', async () => createGcsStorage(await gcsOptions()));

describe('gcs backend specifics', () => {
  it('fails at start-up with a clear message when the bucket does not exist', async () => {
    await expect(createGcsStorage({ ...(await gcsOptions()), bucket: 'no-such-bucket' })).rejects.toThrow(/GCS_BUCKET=no-such-bucket is not usable: .*does not exist/);
  });

  it('gives public object URLs without a key, and V4 signed URLs that download the object with one', async () => {
    const options = await gcsOptions();
    const publicStorage: Storage = await createGcsStorage(options);
    await publicStorage.put('layers/abc', 'blob bytes', 'application/octet-stream');
    const publicUrl = await publicStorage.downloadUrl?.('layers/abc');
    expect(publicUrl).toBe(`${emulator.endpoint}/${options.bucket}/layers/abc`);
    expect(await (await fetch(publicUrl as string)).text()).toBe('blob bytes');

    const signing = await createGcsStorage({ ...options, credentialsFile: await writeServiceAccountKey() });
    const signed = new URL((await signing.downloadUrl?.('layers/abc')) as string);
    expect(signed.searchParams.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256');
    expect(signed.searchParams.get('X-Goog-Expires')).toBe('300');
    expect(signed.searchParams.get('X-Goog-Signature')).toMatch(/^[0-9a-f]{512}$/);
    expect(await (await fetch(signed)).text()).toBe('blob bytes');
    await publicStorage.delete('layers/abc');
  });

  it('two writers racing on one key: both commits succeed, the bucket holds one object and no staging', async () => {
    const storage = await createGcsStorage(await gcsOptions());
    const { Readable } = await import('node:stream');
    const staged = await Promise.all(Array.from({ length: 4 }, () => storage.stage(Readable.from(['same content']), 'text/plain')));
    await Promise.all(staged.map((upload) => upload.commit('layers/same')));
    expect(await storage.list('')).toEqual(['layers/same']);
    expect((await storage.get('layers/same'))?.toString()).toBe('same content');
  });
});
