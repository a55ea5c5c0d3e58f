// Blobs and manifests by digest are served only through the names of the images that hold them
// (links, as CNCF distribution links blobs into repositories), on any instance over the same
// storage, whether the image was pulled or built through the API; fixture packages, no Nix.
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBuildRunner } from '../../src/builds/build-runner.js';
import { BuildRecordStore } from '../../src/builds/record-store.js';
import { parseImageName } from '../../src/image/image-name.js';
import type { ImageManifests } from '../../src/image/manifest.js';
import { createImages } from '../../src/images/index.js';
import { createApp } from '../../src/http/app.js';
import { silentLogger } from '../../src/log.js';
import { FixtureBuilder, type FixturePackage } from '../helpers/fixture-builder.js';
import { basicPackages, createFixtureRegistry } from '../helpers/registry-fixture.js';
import { StaticPackageSource } from '../helpers/static-source.js';

let packages: Record<string, FixturePackage>;
beforeAll(async () => {
  const basic = await basicPackages();
  packages = { ...basic, git: basic['hello'] ?? [], secret: basic['hello'] ?? [] };
});

const manifestOf = async (app: Parameters<typeof request>[0], name: string) => {
  const res = await request(app).get(`/v2/${name}/manifests/latest`);
  expect(res.status).toBe(200);
  const parsed = JSON.parse(res.text) as { config: { digest: string }; layers: { digest: string }[] };
  return { digest: res.headers['docker-content-digest'] as string, config: parsed.config.digest, layers: parsed.layers.map((layer) => layer.digest) };
};

function expectUnknown(res: request.Response, code: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN', name: string) {
  expect(res.status).toBe(404);
  expect(res.body.errors[0].code).toBe(code);
  expect(res.body.errors[0].message).toContain(` in ${name}: `);
}

describe('links of images to names', () => {
  it('a name serves the blobs and manifests of its image, in any spelling, and nothing of other images', async () => {
    const { app } = await createFixtureRegistry({ packages });
    const secret = await manifestOf(app, 'secret/hello');
    await manifestOf(app, 'git');
    for (const name of ['secret/hello', 'hello/secret']) {
      expect((await request(app).get(`/v2/${name}/blobs/${secret.config}`)).status).toBe(200);
      expect((await request(app).head(`/v2/${name}/blobs/${secret.layers[0]}`)).status).toBe(200);
      expect((await request(app).get(`/v2/${name}/manifests/${secret.digest}`)).status).toBe(200);
    }
    // The same digests through the names of other images, pulled or not: as if they did not exist.
    for (const name of ['git', 'hello', 'nothing-pulled-here']) {
      expectUnknown(await request(app).get(`/v2/${name}/blobs/${secret.config}`), 'BLOB_UNKNOWN', name);
      expectUnknown(await request(app).get(`/v2/${name}/manifests/${secret.digest}`), 'MANIFEST_UNKNOWN', name);
    }
    expect((await request(app).head(`/v2/git/blobs/${secret.config}`)).status).toBe(404);
  });

  it('links are stored: another instance serves digests through the name before any pull there, and still nothing else', async () => {
    const first = await createFixtureRegistry({ packages });
    const secret = await manifestOf(first.app, 'secret');
    await manifestOf(first.app, 'git');
    expect((await first.storage.list('links/')).length).toBe(2);
    const second = await createFixtureRegistry({ packages, storage: first.storage });
    expect((await request(second.app).get(`/v2/secret/blobs/${secret.layers.at(-1)}`)).status).toBe(200);
    expect((await request(second.app).get(`/v2/secret/manifests/${secret.digest}`)).status).toBe(200);
    expectUnknown(await request(second.app).get(`/v2/git/blobs/${secret.config}`), 'BLOB_UNKNOWN', 'git');
  });

  it('an image built through the API can be pulled by digest before anyone pulls its tag', async () => {
    const { storage } = await createFixtureRegistry({ packages });
    const runner = createBuildRunner<ImageManifests>({ records: new BuildRecordStore(storage), maxBuilds: 2, logLimit: 1 << 20, log: silentLogger });
    const packageSource = new StaticPackageSource();
    const platforms = { defaultArch: 'amd64' as const, architectures: ['amd64' as const] };
    const { images, builds } = createImages({ storage, builder: new FixtureBuilder(storage, packages), packageSource, platforms, runner, cacheSize: 100, log: silentLogger });
    const app = createApp({ images, storage, packageSource, log: silentLogger });
    const plan = await builds.plan(parseImageName('git/secret', 'latest'), { trigger: 'api', client: { id: 'test' } });
    const manifests = await builds.start(plan).done;
    const res = await request(app).get(`/v2/secret/git/manifests/${manifests.oci.digest}`);
    expect(res.status).toBe(200);
    const config = (JSON.parse(res.text) as { config: { digest: string } }).config.digest;
    expect((await request(app).get(`/v2/secret/git/blobs/${config}`)).status).toBe(200);
    expectUnknown(await request(app).get(`/v2/git/manifests/${manifests.oci.digest}`), 'MANIFEST_UNKNOWN', 'git');
  });

  it('an index links every platform: their manifests and blobs through the name, also with arm64 in it', async () => {
    const { app } = await createFixtureRegistry({ packages, architectures: ['amd64', 'arm64'] });
    const index = await request(app).get('/v2/hello/manifests/latest').set('Accept', 'application/vnd.oci.image.index.v1+json');
    const arm64 = (JSON.parse(index.text) as { manifests: { digest: string; platform: { architecture: string } }[] }).manifests.find((entry) => entry.platform.architecture === 'arm64');
    const manifest = await request(app).get(`/v2/hello/manifests/${arm64?.digest}`);
    expect(manifest.status).toBe(200);
    const config = (JSON.parse(manifest.text) as { config: { digest: string } }).config.digest;
    for (const name of ['hello', 'arm64/hello']) expect((await request(app).get(`/v2/${name}/blobs/${config}`)).status).toBe(200);
    expectUnknown(await request(app).get(`/v2/git/blobs/${config}`), 'BLOB_UNKNOWN', 'git');
  });
});
