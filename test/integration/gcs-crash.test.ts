/**
 * An instance killed (SIGKILL) in the middle of uploading a layer to GCS leaves nothing partial
 * under `layers/`, and the next pull succeeds. The upload is slowed by a throttling proxy on
 * loopback between the instance and the emulator, so that the kill lands mid-upload.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { OFFLINE_NIX_CONFIG, startDemoServer } from '../helpers/demo-server.js';
import { listeningPort } from '../helpers/cli-server.js';
import { startFakeGcs, type FakeGcs } from '../helpers/fake-gcs.js';
import { startProxy } from '../helpers/proxy.js';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
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
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
    const bucket = await gcs.createBucket();
    const proxy = await startProxy(gcs.endpoint, { uploadBytesPerSecond: BYTES_PER_SECOND });
    const child = execa('node', [CLI, 'serve', '--demo'], {
      reject: false,
      all: true,
      env: {
        PORT: '0',
        NIXYARD_HOST: '127.0.0.1',
        NIXYARD_DATA_DIR: await mkdtemp(join(tmpdir(), 'nixyard-crash-')),
        NIXERY_STORAGE_BACKEND: 'gcs',
        GCS_BUCKET: bucket,
        NIXYARD_GCS_ENDPOINT: proxy.url,
        NIX_CONFIG: OFFLINE_NIX_CONFIG,
      },
    });
    try {
      let output = '';
      child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await waitFor(() => listeningPort(output) !== undefined, 'the instance to listen');
      const port = listeningPort(output);
      const pull = fetch(`http://127.0.0.1:${port}/v2/shell/hello/manifests/latest`).catch(() => undefined);
      await waitFor(() => proxy.uploaded() > 256 * 1024, 'an upload to be under way');
      child.kill('SIGKILL');
      await child;
      await pull;
    } finally {
      child.kill('SIGKILL');
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
