// Two instances share one emulated GCS bucket: docker pulls an image through the first (which
// builds it), then through the second (whose Nix fails, so it can only serve the shared cache);
// every blob comes from the bucket through a signed-URL redirect.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerPull, dockerRemoveImages, dockerRun, ensureDocker, expectSuccess } from '../helpers/docker.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { forbiddenNix } from '../helpers/package-sets.js';
import { startFakeGcs, writeServiceAccountKey, type FakeGcs } from '../helpers/fake-gcs.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

describe('docker pull through two instances sharing a GCS bucket', () => {
  let gcs: FakeGcs;
  let bucketProxy: Proxy;
  const pulled: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    gcs = await startFakeGcs();
    bucketProxy = await startProxy(gcs.endpoint);
  });
  afterAll(async () => {
    await dockerRemoveImages(pulled);
    await bucketProxy?.close();
    await gcs?.stop();
  });

  it('pulls and runs from both instances, blobs downloaded from the bucket by signed URL', async () => {
    const bucket = await gcs.createBucket();
    const env = {
      NIXERY_STORAGE_BACKEND: 'gcs',
      GCS_BUCKET: bucket,
      NIXYARD_GCS_ENDPOINT: bucketProxy.url,
      GOOGLE_APPLICATION_CREDENTIALS: await writeServiceAccountKey(),
    };
    const builder = await startDemoServer(env);
    const mirror = await startDemoServer(env, { nix: forbiddenNix });
    try {
      for (const instance of [builder, mirror]) {
        const reference = `${instance.host}/shell/hello:latest`;
        pulled.push(reference);
        const downloadsBefore = bucketProxy.requests.filter((req) => req.method === 'GET' && req.path.includes('X-Goog-Signature=')).length;
        const pull = await dockerPull(reference);
        expectSuccess(pull, `docker pull ${reference}`);
        const run = await dockerRun(reference, ['hello']);
        expectSuccess(run, `docker run ${reference}`);
        expect(run.stdout.trim()).toBe('Hello, world!');
        const manifest = JSON.parse((await request(instance.url).get('/v2/shell/hello/manifests/latest')).text) as { layers: unknown[] };
        const signedDownloads = bucketProxy.requests.filter((req) => req.method === 'GET' && req.path.includes('X-Goog-Signature=')).length - downloadsBefore;
        // Every layer docker downloaded, and the config, came from the bucket (docker pulls each
        // blob once; a layer an image left on this machine shares is "Already exists").
        const downloaded = (pull.stdout.match(/: Pull complete/g) ?? []).length;
        const present = (pull.stdout.match(/: Already exists/g) ?? []).length;
        expect(downloaded + present, pull.stdout).toBe(manifest.layers.length);
        expect(downloaded, pull.stdout).toBeGreaterThan(manifest.layers.length / 2);
        expect(signedDownloads).toBeGreaterThanOrEqual(downloaded + 1);
        await dockerRemoveImages([reference]);
      }
    } finally {
      await Promise.all([builder.close(), mirror.close()]);
    }
  });
});
