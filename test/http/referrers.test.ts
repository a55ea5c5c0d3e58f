// The referrers API and the SBOMs attached to every built image: listing, filtering, fetching the
// artifacts and their content through the image's names, the errors of bad input; fixture
// packages (store paths made up by the fixture builder), no Nix. Real Nix closures, oras and the
// validators are in test/integration/sboms.test.ts.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { MediaType } from '../../src/image/media-types.js';
import { basicPackages, createFixtureRegistry } from '../helpers/registry-fixture.js';

const SPDX = 'application/spdx+json';
const CYCLONEDX = 'application/vnd.cyclonedx+json';

type Index = { schemaVersion: number; mediaType: string; manifests: { mediaType: string; digest: string; size: number; artifactType: string; annotations?: Record<string, string> }[] };

async function pulled(app: Parameters<typeof request>[0], name: string, accept: string = MediaType.ociManifest) {
  const res = await request(app).get(`/v2/${name}/manifests/latest`).set('Accept', accept);
  expect(res.status).toBe(200);
  return res.headers['docker-content-digest'] as string;
}

const referrers = async (app: Parameters<typeof request>[0], path: string) => {
  const res = await request(app).get(path);
  return { res, index: JSON.parse(res.text) as Index };
};

describe('referrers and SBOMs', () => {
  it('every image has an SPDX and a CycloneDX SBOM referring to each of its manifests, served through its names', async () => {
    const { app } = await createFixtureRegistry();
    const oci = await pulled(app, 'hello');
    const docker = await pulled(app, 'hello', MediaType.dockerManifest);
    for (const subject of [oci, docker]) {
      const { res, index } = await referrers(app, `/v2/hello/referrers/${subject}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(MediaType.ociIndex);
      expect(res.headers['oci-filters-applied']).toBeUndefined();
      expect(index.mediaType).toBe(MediaType.ociIndex);
      expect(index.manifests.map((entry) => entry.artifactType).sort()).toEqual([SPDX, CYCLONEDX].sort());
      for (const entry of index.manifests) {
        const artifact = await request(app).get(`/v2/hello/manifests/${entry.digest}`);
        expect(artifact.status).toBe(200);
        expect(artifact.headers['content-type']).toBe(MediaType.ociManifest);
        expect(artifact.text.length).toBe(entry.size);
        const manifest = JSON.parse(artifact.text) as { artifactType: string; subject: { digest: string }; config: { mediaType: string }; layers: { digest: string; mediaType: string }[] };
        expect(manifest).toMatchObject({ artifactType: entry.artifactType, subject: { digest: subject }, config: { mediaType: 'application/vnd.oci.empty.v1+json' } });
        const content = await request(app).get(`/v2/hello/blobs/${manifest.layers[0]?.digest}`);
        expect(content.status).toBe(200);
        expect(content.headers['content-type']).toBe(entry.artifactType);
      }
    }
  });

  it('the SBOMs list the closure with versions, hashes, licenses and PURLs', async () => {
    const { app } = await createFixtureRegistry();
    const subject = await pulled(app, 'hello');
    const { index } = await referrers(app, `/v2/hello/referrers/${subject}`);
    const content = async (type: string) => {
      const digest = index.manifests.find((entry) => entry.artifactType === type)?.digest;
      const manifest = JSON.parse((await request(app).get(`/v2/hello/manifests/${digest}`)).text) as { layers: { digest: string }[] };
      return JSON.parse((await request(app).get(`/v2/hello/blobs/${manifest.layers[0]?.digest}`)).text) as Record<string, unknown>;
    };
    const spdx = (await content(SPDX)) as { spdxVersion: string; packages: { name: string; versionInfo: string; licenseDeclared: string; checksums: { algorithm: string; checksumValue: string }[]; externalRefs: { referenceLocator: string }[] }[] };
    expect(spdx.spdxVersion).toBe('SPDX-2.3');
    expect(spdx.packages.map((pkg) => pkg.name).sort()).toEqual(['cacert', 'hello', 'iana-etc']);
    const hello = spdx.packages.find((pkg) => pkg.name === 'hello');
    expect(hello).toMatchObject({ versionInfo: '1.0', licenseDeclared: 'GPL-3.0-or-later', checksums: [{ algorithm: 'SHA256' }] });
    expect(hello?.externalRefs[0]?.referenceLocator).toMatch(/^pkg:nix\/hello@1\.0\?outputhash=[0-9a-z]{32}$/);
    const cdx = (await content(CYCLONEDX)) as { specVersion: string; components: { name: string; licenses?: unknown }[]; dependencies: { ref: string; dependsOn: string[] }[] };
    expect(cdx.specVersion).toBe('1.6');
    expect(cdx.components.find((component) => component.name === 'hello')?.licenses).toEqual([{ license: { id: 'GPL-3.0-or-later' } }]);
    expect(cdx.dependencies[0]).toMatchObject({ ref: 'image' });
    expect(cdx.dependencies[0]?.dependsOn).toHaveLength(3);
  });

  it('filters by artifactType and says so; the same image built again gets the same SBOMs', async () => {
    const { app } = await createFixtureRegistry();
    const subject = await pulled(app, 'hello');
    const { res, index } = await referrers(app, `/v2/hello/referrers/${subject}?artifactType=${encodeURIComponent(SPDX)}`);
    expect(res.headers['oci-filters-applied']).toBe('artifactType');
    expect(index.manifests.map((entry) => entry.artifactType)).toEqual([SPDX]);
    const none = await referrers(app, `/v2/hello/referrers/${subject}?artifactType=application/example`);
    expect(none.index.manifests).toEqual([]);
    const again = await createFixtureRegistry({ packages: await basicPackages() });
    expect(await pulled(again.app, 'hello')).toBe(subject);
    expect((await referrers(again.app, `/v2/hello/referrers/${subject}`)).index.manifests).toEqual((await referrers(app, `/v2/hello/referrers/${subject}`)).index.manifests);
  });

  it('unknown subjects and names that do not hold the subject get an empty index; bad input gets OCI errors', async () => {
    const { app } = await createFixtureRegistry();
    const subject = await pulled(app, 'hello');
    for (const path of [`/v2/hello/referrers/sha256:${'0'.repeat(64)}`, `/v2/hello/shell/referrers/${subject}`, `/v2/nothing-here/referrers/${subject}`]) {
      const { res, index } = await referrers(app, path);
      expect(res.status, path).toBe(200);
      expect(index).toEqual({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
    }
    const bad = await request(app).get('/v2/hello/referrers/sha256:xyz');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].code).toBe('DIGEST_INVALID');
    const filter = await request(app).get(`/v2/hello/referrers/${subject}?artifactType=not-a-type`);
    expect(filter.status).toBe(400);
    expect(filter.body.errors[0]).toMatchObject({ code: 'PARAMETER_INVALID', message: expect.stringContaining('artifactType="not-a-type" is not a media type') });
    const twice = await request(app).get(`/v2/hello/referrers/${subject}?artifactType=${SPDX}&artifactType=${CYCLONEDX}`);
    expect(twice.status).toBe(400);
  });
});
