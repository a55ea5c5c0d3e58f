/** Multi-platform images: an OCI index (and Docker manifest list) when several architectures are configured. */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { MediaType } from '../../src/image/media-types.js';
import { FixtureBuilder } from '../helpers/fixture-builder.js';
import { basicPackages, createFixtureRegistry } from '../helpers/registry-fixture.js';

const DOCKER_ACCEPT = [MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex] as unknown as string;
const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

async function multiArchRegistry(unavailable: Partial<Record<'amd64' | 'arm64', string[]>> = {}) {
  const packages = await basicPackages();
  const registry = await createFixtureRegistry({ architectures: ['amd64', 'arm64'], packages });
  const builder = new FixtureBuilder(registry.storage, packages, unavailable);
  return { ...(await createFixtureRegistry({ architectures: ['amd64', 'arm64'], storage: registry.storage, builder })), builder };
}

describe('multi-arch images', () => {
  it('serves an OCI index listing both platforms, each manifest fetchable by digest with its architecture', async () => {
    const { app } = await multiArchRegistry();
    const res = await request(app).get('/v2/hello/manifests/latest').set('Accept', DOCKER_ACCEPT);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(MediaType.ociIndex);
    expect(res.headers['docker-content-digest']).toBe(sha256(res.text));
    const index = JSON.parse(res.text) as { mediaType: string; manifests: { mediaType: string; digest: string; size: number; platform: Record<string, string> }[] };
    expect(index.mediaType).toBe(MediaType.ociIndex);
    expect(index.manifests.map((entry) => entry.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux', variant: 'v8' },
    ]);
    for (const entry of index.manifests) {
      const manifest = await request(app).get(`/v2/hello/manifests/${entry.digest}`);
      expect(manifest.headers['content-type']).toBe(MediaType.ociManifest);
      expect(Number(manifest.headers['content-length'])).toBe(entry.size);
      const config = await request(app).get(`/v2/hello/blobs/${JSON.parse(manifest.text).config.digest}`);
      expect(JSON.parse(config.text).architecture).toBe(entry.platform['architecture']);
    }
    const again = await request(app).get(`/v2/hello/manifests/${res.headers['docker-content-digest']}`);
    expect(again.text).toBe(res.text);
  });

  it('a Docker manifest list for clients without OCI, the default platform for clients without lists', async () => {
    const { app } = await multiArchRegistry();
    const list = await request(app).get('/v2/hello/manifests/latest').set('Accept', [MediaType.dockerManifestList, MediaType.dockerManifest] as unknown as string);
    expect(list.headers['content-type']).toBe(MediaType.dockerManifestList);
    const entries = JSON.parse(list.text).manifests as { mediaType: string; digest: string }[];
    expect(entries.map((entry) => entry.mediaType)).toEqual([MediaType.dockerManifest, MediaType.dockerManifest]);
    const single = await request(app).get('/v2/hello/manifests/latest').set('Accept', MediaType.dockerManifest);
    expect(single.headers['content-type']).toBe(MediaType.dockerManifest);
    expect(single.headers['docker-content-digest']).toBe(entries[0]?.digest);
  });

  it('arm64 in the name gives the arm64 image alone (the shell is kept: see image-name.test.ts)', async () => {
    const { app } = await multiArchRegistry();
    const res = await request(app).get('/v2/arm64/hello/manifests/latest').set('Accept', DOCKER_ACCEPT);
    expect(res.headers['content-type']).toBe(MediaType.ociManifest);
    const config = JSON.parse((await request(app).get(`/v2/arm64/hello/blobs/${JSON.parse(res.text).config.digest}`)).text);
    expect(config.architecture).toBe('arm64');
  });

  it('leaves out a platform whose package set cannot build the image, but never the default one', async () => {
    const { app } = await multiArchRegistry({ arm64: ['hello'] });
    const res = await request(app).get('/v2/hello/manifests/latest').set('Accept', DOCKER_ACCEPT);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).manifests.map((entry: { platform: { architecture: string } }) => entry.platform.architecture)).toEqual(['amd64']);
    const explicit = await request(app).get('/v2/arm64/hello/manifests/latest');
    expect(explicit.status).toBe(422);
    expect(explicit.body.errors[0].code).toBe('PACKAGE_BROKEN');
    const { app: amd64Broken } = await multiArchRegistry({ amd64: ['hello'] });
    const failed = await request(amd64Broken).get('/v2/hello/manifests/latest');
    expect(failed.status).toBe(422);
  });

  it('a restarted instance serves the stored index without building', async () => {
    const { app, storage } = await multiArchRegistry();
    const first = await request(app).get('/v2/hello/manifests/latest');
    const idle = new FixtureBuilder(storage, {});
    const restarted = await createFixtureRegistry({ architectures: ['amd64', 'arm64'], storage, builder: idle });
    const again = await request(restarted.app).get('/v2/hello/manifests/latest');
    expect(again.text).toBe(first.text);
    const list = await request(restarted.app).get('/v2/hello/manifests/latest').set('Accept', MediaType.dockerManifestList);
    expect(list.headers['content-type']).toBe(MediaType.dockerManifestList);
    expect(idle.builds).toBe(0);
  });
});
