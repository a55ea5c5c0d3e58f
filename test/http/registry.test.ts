import { createHash } from 'node:crypto';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../storage/errors.js';
import { checkedStorage } from '../../storage/checked.js';
import type { Storage } from '../../storage/types.js';
import { MediaType } from '../../src/image/media-types.js';
import { FixtureBuilder } from '../helpers/fixture-builder.js';
import { basicPackages, createFixtureRegistry } from '../helpers/registry-fixture.js';

/** Several separate `Accept` header lines, as docker sends them (superagent sends an array as repeated lines). */
const acceptLines = (...lines: string[]) => lines as unknown as string;
const DOCKER_ACCEPT = acceptLines(MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex);
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function expectOciError(res: request.Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.errors[0].code).toBe(code);
  expect(res.body.errors[0].message).toEqual(expect.any(String));
  expect(res.body.errors[0].message.length).toBeGreaterThan(5);
}

describe('registry API', () => {
  let registry: Awaited<ReturnType<typeof createFixtureRegistry>>;
  beforeAll(async () => {
    registry = await createFixtureRegistry();
  });

  it('GET /v2/ answers 200 with the API version header', async () => {
    const res = await request(registry.app).get('/v2/');
    expect(res.status).toBe(200);
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  describe('manifests', () => {
    it('serves OCI to docker (several Accept lines) with matching Content-Type and digest', async () => {
      const res = await request(registry.app).get('/v2/hello/manifests/latest').set('Accept', DOCKER_ACCEPT);
      expect(res.status).toBe(200);
      const body = Buffer.from(res.text);
      expect(res.headers['content-type']).toBe(MediaType.ociManifest);
      expect(JSON.parse(res.text).mediaType).toBe(MediaType.ociManifest);
      expect(res.headers['docker-content-digest']).toBe(sha256(body));
      expect(Number(res.headers['content-length'])).toBe(body.length);
      expect(JSON.parse(res.text).layers).toHaveLength(3);
    });

    it('serves Docker schema2 to a client that accepts only that', async () => {
      const res = await request(registry.app).get('/v2/hello/manifests/latest').set('Accept', MediaType.dockerManifest);
      expect(res.headers['content-type']).toBe(MediaType.dockerManifest);
      expect(JSON.parse(res.text).mediaType).toBe(MediaType.dockerManifest);
      expect(res.headers['docker-content-digest']).toBe(sha256(Buffer.from(res.text)));
    });

    it('HEAD by tag then GET by digest returns the same manifest (docker and containerd do this)', async () => {
      for (const accept of [MediaType.ociManifest, MediaType.dockerManifest]) {
        const head = await request(registry.app).head('/v2/hello/manifests/latest').set('Accept', accept);
        expect(head.status).toBe(200);
        expect(head.text ?? '').toBe('');
        const digest = head.headers['docker-content-digest'] as string;
        const byDigest = await request(registry.app).get(`/v2/hello/manifests/${digest}`);
        expect(byDigest.status).toBe(200);
        expect(byDigest.headers['content-type']).toBe(accept);
        expect(sha256(Buffer.from(byDigest.text))).toBe(digest);
        expect(byDigest.headers['content-length']).toBe(head.headers['content-length']);
      }
    });

    it('treats package order and duplicates as the same image and builds it once', async () => {
      const fresh = await createFixtureRegistry();
      const digests = await Promise.all(
        ['hello', 'hello/cacert', 'cacert/hello', 'hello/hello', 'iana-etc/hello/cacert'].map(async (name) => {
          const res = await request(fresh.app).head(`/v2/${name}/manifests/latest`);
          return res.headers['docker-content-digest'];
        }),
      );
      expect(new Set(digests).size).toBe(1);
      expect((fresh.builder as FixtureBuilder).builds).toBe(1);
    });

    it('N concurrent pulls of an uncached image run one build', async () => {
      const fresh = await createFixtureRegistry();
      const results = await Promise.all(Array.from({ length: 20 }, () => request(fresh.app).get('/v2/hello/manifests/latest')));
      expect(results.every((res) => res.status === 200)).toBe(true);
      expect(new Set(results.map((res) => res.headers['docker-content-digest'])).size).toBe(1);
      expect((fresh.builder as FixtureBuilder).builds).toBe(1);
    });

    it('a restarted instance serves the manifest from storage without building', async () => {
      const first = await request(registry.app).get('/v2/hello/manifests/latest');
      const restarted = await createFixtureRegistry({ storage: registry.storage, builder: new FixtureBuilder(registry.storage, {}) });
      const again = await request(restarted.app).get('/v2/hello/manifests/latest');
      expect(again.status).toBe(200);
      expect(again.text).toBe(first.text);
      expect((restarted.builder as FixtureBuilder).builds).toBe(0);
    });

    it('rebuilds when the package source moves to a new revision', async () => {
      const fresh = await createFixtureRegistry();
      await request(fresh.app).get('/v2/hello/manifests/latest');
      fresh.packageSource.setRevision('fixture-rev-2');
      await request(fresh.app).get('/v2/hello/manifests/latest');
      expect((fresh.builder as FixtureBuilder).builds).toBe(2);
    });

    it('404 MANIFEST_UNKNOWN names the missing packages', async () => {
      const res = await request(registry.app).get('/v2/hello/nosuchpkg/alsomissing/manifests/latest');
      expectOciError(res, 404, 'MANIFEST_UNKNOWN');
      expect(res.body.errors[0].detail.missing).toEqual(['alsomissing', 'nosuchpkg']);
    });

    it('400 NAME_INVALID for a name outside the grammar', async () => {
      for (const name of ['Hello', 'a..b', 'x/-y', 'a%20b']) {
        expectOciError(await request(registry.app).get(`/v2/${name}/manifests/latest`), 400, 'NAME_INVALID');
      }
    });

    it('404 MANIFEST_UNKNOWN for an invalid tag, 400 DIGEST_INVALID for a malformed digest', async () => {
      expectOciError(await request(registry.app).get(`/v2/hello/manifests/.bad`), 404, 'MANIFEST_UNKNOWN');
      expectOciError(await request(registry.app).get(`/v2/hello/manifests/${'x'.repeat(129)}`), 404, 'MANIFEST_UNKNOWN');
      expectOciError(await request(registry.app).get('/v2/hello/manifests/sha256:abc'), 400, 'DIGEST_INVALID');
      expectOciError(await request(registry.app).get(`/v2/hello/manifests/md5:${'a'.repeat(32)}`), 400, 'DIGEST_INVALID');
    });

    it('404 MANIFEST_UNKNOWN for an unknown digest, and for a layer digest asked as a manifest', async () => {
      expectOciError(await request(registry.app).get(`/v2/hello/manifests/sha256:${'0'.repeat(64)}`), 404, 'MANIFEST_UNKNOWN');
      const manifest = JSON.parse((await request(registry.app).get('/v2/hello/manifests/latest')).text);
      expectOciError(await request(registry.app).get(`/v2/hello/manifests/${manifest.layers[0].digest}`), 404, 'MANIFEST_UNKNOWN');
    });

    it('404 MANIFEST_UNKNOWN when the client accepts neither manifest flavour', async () => {
      const res = await request(registry.app).get('/v2/hello/manifests/latest').set('Accept', 'application/vnd.docker.distribution.manifest.v1+prettyjws');
      expectOciError(res, 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('blobs', () => {
    let layer: { digest: string; size: number };
    let configDigest: string;
    beforeAll(async () => {
      const manifest = JSON.parse((await request(registry.app).get('/v2/hello/manifests/latest')).text);
      layer = manifest.layers[0];
      configDigest = manifest.config.digest;
    });

    it('GET streams the whole blob with digest, ETag, type and length', async () => {
      const res = await request(registry.app).get(`/v2/hello/blobs/${layer.digest}`).buffer(true).parse(binary);
      expect(res.status).toBe(200);
      expect(sha256(res.body as Buffer)).toBe(layer.digest);
      expect(res.headers['docker-content-digest']).toBe(layer.digest);
      expect(res.headers['etag']).toBe(`"${layer.digest}"`);
      expect(res.headers['content-type']).toBe(MediaType.ociLayerGzip);
      expect(Number(res.headers['content-length'])).toBe(layer.size);
    });

    it('serves the image config as JSON with its config media type', async () => {
      const res = await request(registry.app).get(`/v2/hello/blobs/${configDigest}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(MediaType.ociConfig);
      expect(sha256(Buffer.from(res.text))).toBe(configDigest);
    });

    it('HEAD answers the headers without a body', async () => {
      const res = await request(registry.app).head(`/v2/hello/blobs/${layer.digest}`);
      expect(res.status).toBe(200);
      expect(Number(res.headers['content-length'])).toBe(layer.size);
      expect(res.headers['accept-ranges']).toBe('bytes');
    });

    it('answers byte ranges with 206 and Content-Range', async () => {
      const whole = (await request(registry.app).get(`/v2/hello/blobs/${layer.digest}`).buffer(true).parse(binary)).body as Buffer;
      const res = await request(registry.app).get(`/v2/hello/blobs/${layer.digest}`).set('Range', 'bytes=2-9').buffer(true).parse(binary);
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes 2-9/${layer.size}`);
      expect((res.body as Buffer).equals(whole.subarray(2, 10))).toBe(true);
      const suffix = await request(registry.app).get(`/v2/hello/blobs/${layer.digest}`).set('Range', 'bytes=-4').buffer(true).parse(binary);
      expect((suffix.body as Buffer).equals(whole.subarray(whole.length - 4))).toBe(true);
    });

    it('416 for a range past the end', async () => {
      const res = await request(registry.app).get(`/v2/hello/blobs/${layer.digest}`).set('Range', `bytes=${layer.size + 10}-`);
      expectOciError(res, 416, 'RANGE_INVALID');
      expect(res.headers['content-range']).toBe(`bytes */${layer.size}`);
    });

    it('304 for a matching If-None-Match', async () => {
      const res = await request(registry.app).get(`/v2/hello/blobs/${layer.digest}`).set('If-None-Match', `"${layer.digest}"`);
      expect(res.status).toBe(304);
    });

    it('404 BLOB_UNKNOWN and 400 DIGEST_INVALID', async () => {
      expectOciError(await request(registry.app).get(`/v2/hello/blobs/sha256:${'0'.repeat(64)}`), 404, 'BLOB_UNKNOWN');
      expectOciError(await request(registry.app).get('/v2/hello/blobs/sha256:XYZ'), 400, 'DIGEST_INVALID');
      expectOciError(await request(registry.app).get('/v2/hello/blobs/latest'), 400, 'DIGEST_INVALID');
    });
  });

  describe('tags and everything else', () => {
    it('lists tags for any name, paginated with n and last', async () => {
      const res = await request(registry.app).get('/v2/shell/hello/tags/list');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ name: 'shell/hello', tags: ['latest'] });
    });

    it('paginates with a Link header', async () => {
      const { StaticPackageSource } = await import('../helpers/static-source.js');
      const { createApp } = await import('../../src/http/app.js');
      const { silentLogger } = await import('../../src/log.js');
      const app = createApp({ images: registry.images, storage: registry.storage, packageSource: new StaticPackageSource('r', ['c', 'a', 'b']), log: silentLogger });
      const first = await request(app).get('/v2/hello/tags/list?n=2');
      expect(first.body.tags).toEqual(['a', 'b']);
      expect(first.headers['link']).toBe('</v2/hello/tags/list?n=2&last=b>; rel="next"');
      const second = await request(app).get('/v2/hello/tags/list?n=2&last=b');
      expect(second.body.tags).toEqual(['c']);
      expect(second.headers['link']).toBeUndefined();
      expectOciError(await request(app).get('/v2/hello/tags/list?n=-1'), 400, 'PAGINATION_NUMBER_INVALID');
    });

    it('405 UNSUPPORTED for push and delete verbs', async () => {
      expectOciError(await request(registry.app).post('/v2/hello/blobs/uploads/'), 405, 'UNSUPPORTED');
      expectOciError(await request(registry.app).put('/v2/hello/manifests/latest').send('{}'), 405, 'UNSUPPORTED');
      expectOciError(await request(registry.app).delete(`/v2/hello/blobs/sha256:${'0'.repeat(64)}`), 405, 'UNSUPPORTED');
      expectOciError(await request(registry.app).patch('/v2/hello/blobs/uploads/x'), 405, 'UNSUPPORTED');
    });

    it('unmatched routes and undecodable paths under /v2 get OCI JSON errors, not HTML', async () => {
      expectOciError(await request(registry.app).get('/v2/hello'), 404, 'NAME_UNKNOWN');
      expectOciError(await request(registry.app).get('/v2/hello/manifests'), 404, 'NAME_UNKNOWN');
      expectOciError(await request(registry.app).get('/v2/hel%E0%A4%Alo/manifests/latest'), 400, 'NAME_INVALID');
      expectOciError(await request(registry.app).get('/v2/hello/blobs/%ZZ'), 400, 'NAME_INVALID');
    });

    it('503 UNAVAILABLE with Retry-After when storage fails', async () => {
      const broken: Storage = checkedStorage({
        name: 'broken',
        put: async () => { throw new Error('EIO'); },
        stage: async () => { throw new Error('EIO'); },
        stat: async () => { throw new Error('EIO: i/o error'); },
        get: async () => { throw new Error('EIO: i/o error'); },
        read: async () => { throw new Error('EIO'); },
        copyTo: async () => { throw new Error('EIO'); },
        list: async () => { throw new Error('EIO'); },
        delete: async () => { throw new Error('EIO'); },
      });
      const down = await createFixtureRegistry({ storage: broken, packages: await basicPackages() });
      const manifest = await request(down.app).get('/v2/hello/manifests/latest');
      expectOciError(manifest, 503, 'UNAVAILABLE');
      expect(manifest.headers['retry-after']).toBe('5');
      expectOciError(await request(down.app).get(`/v2/hello/blobs/sha256:${'0'.repeat(64)}`), 503, 'UNAVAILABLE');
      expect(new StorageError('x', 'y', 'z', new Error('w')).message).toContain('x storage failed to y z');
    });
  });
});

function binary(res: request.Response, callback: (error: Error | null, body: Buffer) => void) {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => callback(null, Buffer.concat(chunks)));
}

describe('a client hanging up mid-download', () => {
  it('does not hurt the server, which goes on serving the same blob', async () => {
    const { randomBytes } = await import('node:crypto');
    const { writeTree } = await import('../helpers/registry-fixture.js');
    const { createServer, get } = await import('node:http');
    const big = await writeTree({ 'share/big.bin': randomBytes(8 * 1024 * 1024).toString('base64') });
    const packages = { ...(await basicPackages()), big: [{ from: `${big}/share`, to: 'share' }] };
    const registry = await createFixtureRegistry({ packages });
    const server = createServer(registry.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const manifest = JSON.parse((await request(registry.app).get('/v2/big/manifests/latest')).text) as { layers: { digest: string; size: number }[] };
      const layer = manifest.layers.reduce((a, b) => (a.size > b.size ? a : b));
      await new Promise<void>((resolve, reject) => {
        get(`http://127.0.0.1:${port}/v2/big/blobs/${layer.digest}`, (res) => {
          res.once('data', () => {
            res.destroy();
            resolve();
          });
        }).on('error', reject);
      });
      const again = await request(server).get(`/v2/big/blobs/${layer.digest}`).buffer(true).parse(binary);
      expect(again.status).toBe(200);
      expect(sha256(again.body as Buffer)).toBe(layer.digest);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
