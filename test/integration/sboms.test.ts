/**
 * The SBOMs of demo images built with real Nix, read by the tools scanners use: `oras discover`
 * and `oras pull` find and fetch them through the referrers API, `pyspdxtools` (spdx-tools)
 * validates the SPDX document, the official CycloneDX 1.6 JSON schema (shipped by
 * @cyclonedx/cyclonedx-library) the CycloneDX one; both hold every store path of the image's
 * closure exactly once, with the dependency edges `nix-store -q --references` gives; `syft`,
 * reading the image itself, finds the same Nix packages (those whose store name has a version).
 */
import { Ajv, type AnySchema } from 'ajv';
import addFormats from 'ajv-formats';
import { execa } from 'execa';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/image/media-types.js';
import { CLI } from '../helpers/cli-server.js';
import { demoServersOfBlock } from '../helpers/demo-server.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { requireTool } from '../helpers/tools.js';

const SPDX = 'application/spdx+json';
const CYCLONEDX = 'application/vnd.cyclonedx+json';

type Referrer = { digest: string; artifactType: string; annotations?: Record<string, string> };
type SpdxDocument = { packages: { SPDXID: string; comment: string; name: string; licenseDeclared: string }[]; relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[] };
type CycloneDxDocument = { components: { 'bom-ref': string }[]; dependencies: { ref: string; dependsOn: string[] }[] };

/** A validator of the CycloneDX 1.6 JSON schema and the schemas it refers to, as the library ships them. */
async function cycloneDxValidator() {
  const schemaDir = join(dirname(createRequire(import.meta.url).resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
  const read = async (file: string) => JSON.parse(await readFile(join(schemaDir, file), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // The bom schema refers to its neighbours by file name; they are registered under those names.
  for (const file of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) ajv.addSchema({ ...(await read(file)), $id: `http://cyclonedx.org/schema/${file}` } as AnySchema);
  return ajv.compile(await read('bom-1.6.SNAPSHOT.schema.json'));
}

/** The references of a store path, itself left out, sorted. */
async function references(path: string): Promise<string[]> {
  const { stdout } = await execa('nix-store', ['-q', '--references', path]);
  return stdout.split('\n').filter((line) => line !== '' && line !== path).sort();
}

describe('SBOMs of demo images (real Nix)', () => {
  const startDemoServer = demoServersOfBlock();
  let oras: string;
  let url: string;
  let host: string;

  beforeAll(async () => {
    oras = await requireTool('oras', 'go install oras.land/oras/cmd/oras@v1.3.6');
    await requireTool('pyspdxtools', 'pip install spdx-tools==0.8.5');
    const server = await startDemoServer();
    url = server.url;
    host = server.host;
  });

  /** The image's manifest digest and its referrers, by artifact type. */
  async function referrersOf(name: string): Promise<{ subject: string; byType: Map<string, Referrer> }> {
    const manifest = await fetch(`${url}/v2/${name}/manifests/latest`, { headers: { Accept: MediaType.ociManifest } });
    expect(manifest.status).toBe(200);
    const subject = manifest.headers.get('docker-content-digest') as string;
    const index = (await (await fetch(`${url}/v2/${name}/referrers/${subject}`)).json()) as { manifests: Referrer[] };
    return { subject, byType: new Map(index.manifests.map((entry) => [entry.artifactType, entry])) };
  }

  it('oras discovers both SBOMs of shell/hello and pulls them; pyspdxtools validates the SPDX, the 1.6 schema the CycloneDX', async () => {
    const { subject, byType } = await referrersOf('shell/hello');
    const discovered = await execa(oras, ['discover', '--plain-http', '--format', 'json', `${host}/shell/hello:latest`]);
    const tree = JSON.parse(discovered.stdout) as { digest: string; referrers: Referrer[] };
    expect(tree.digest).toBe(subject);
    expect(tree.referrers.map((referrer) => referrer.artifactType).sort()).toEqual([SPDX, CYCLONEDX].sort());

    const out = await mkdtemp(join(tmpdir(), 'nixyard-oras-'));
    for (const type of [SPDX, CYCLONEDX]) {
      const artifact = byType.get(type);
      expect(artifact, type).toBeDefined();
      await execa(oras, ['pull', '--plain-http', '-o', out, `${host}/shell/hello@${artifact?.digest}`]);
    }
    const spdxFile = join(out, 'sbom.spdx.json');
    const validated = await execa('pyspdxtools', ['-i', spdxFile], { reject: false, all: true });
    expect(validated.exitCode, validated.all).toBe(0);
    const validate = await cycloneDxValidator();
    const cyclonedx = JSON.parse(await readFile(join(out, 'sbom.cdx.json'), 'utf8')) as CycloneDxDocument;
    expect(validate(cyclonedx), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // The validator is not blind: a component of an unknown type fails it.
    expect(validate({ ...cyclonedx, components: [{ ...cyclonedx.components[0], type: 'not-a-type' }] })).toBe(false);
  });

  it('both SBOMs hold each store path of the closure once, with the edges nix-store reports, and the licenses the set states', async () => {
    const { byType } = await referrersOf('shell/hello');
    const content = async <T,>(type: string): Promise<T> => {
      const manifest = (await (await fetch(`${url}/v2/shell/hello/manifests/${byType.get(type)?.digest}`)).json()) as { layers: { digest: string }[] };
      return (await (await fetch(`${url}/v2/shell/hello/blobs/${manifest.layers[0]?.digest}`)).json()) as T;
    };
    const spdx = await content<SpdxDocument>(SPDX);
    const pathOf = new Map(spdx.packages.map((pkg) => [pkg.SPDXID, /^Nix store path (\S+?)(?:,|$)/.exec(pkg.comment)?.[1] ?? '']));
    const topLevel = spdx.relationships.filter((relation) => relation.relationshipType === 'DESCRIBES').map((relation) => pathOf.get(relation.relatedSpdxElement) ?? '');
    expect(topLevel).toHaveLength(7); // bashInteractive cacert coreutils hello iana-etc moreutils nano
    const closure = (await execa('nix-store', ['-qR', ...topLevel])).stdout.split('\n').sort();
    const spdxPaths = [...pathOf.values()].sort();
    expect(spdxPaths).toEqual(closure);
    const cyclonedx = await content<CycloneDxDocument>(CYCLONEDX);
    expect(cyclonedx.components.map((component) => component['bom-ref']).sort()).toEqual(closure);

    for (const path of closure) {
      const expected = await references(path);
      const spdxEdges = spdx.relationships.filter((relation) => relation.relationshipType === 'DEPENDS_ON' && pathOf.get(relation.spdxElementId) === path).map((relation) => pathOf.get(relation.relatedSpdxElement)).sort();
      expect(spdxEdges, path).toEqual(expected);
      expect(cyclonedx.dependencies.find((dependency) => dependency.ref === path)?.dependsOn, path).toEqual(expected);
    }
    const hello = spdx.packages.find((pkg) => pkg.name === 'hello');
    expect(hello?.licenseDeclared).toBe('GPL-3.0-or-later');
    expect(spdx.packages.find((pkg) => pkg.name === 'busybox')?.licenseDeclared).toBe('NOASSERTION');
  });

  it('syft, scanning the image, finds Nix packages that are all in the SBOM with the same PURL; the SBOM has the unversioned paths syft skips', async () => {
    const syft = await requireTool('syft', 'go install github.com/anchore/syft/cmd/syft@v1.57.2');
    const synthetic = await startDemoServer({ NIXYARD_DEMO_SYNTHETIC: '20' });
    const name = 'synth-app-001/synth-app-002';
    const manifest = await fetch(`${synthetic.url}/v2/${name}/manifests/latest`, { headers: { Accept: MediaType.ociManifest } });
    const index = (await (await fetch(`${synthetic.url}/v2/${name}/referrers/${manifest.headers.get('docker-content-digest')}?artifactType=${encodeURIComponent(CYCLONEDX)}`)).json()) as { manifests: Referrer[] };
    const artifact = (await (await fetch(`${synthetic.url}/v2/${name}/manifests/${index.manifests[0]?.digest}`)).json()) as { layers: { digest: string }[] };
    const sbom = (await (await fetch(`${synthetic.url}/v2/${name}/blobs/${artifact.layers[0]?.digest}`)).json()) as { components: { 'bom-ref': string; purl: string; version?: string }[] };

    const scanned = await execa(syft, ['scan', `registry:${synthetic.host}/${name}:latest`, '-o', 'json'], { env: { SYFT_REGISTRY_INSECURE_USE_HTTP: 'true', SYFT_CHECK_FOR_APP_UPDATE: 'false' } });
    const found = (JSON.parse(scanned.stdout) as { artifacts: { type: string; purl: string; locations: { path: string }[] }[] }).artifacts.filter((entry) => entry.type === 'nix');
    const storePath = (path: string) => /^\/nix\/store\/[^/]+/.exec(path)?.[0] ?? path;
    const syftPaths = new Map(found.map((entry) => [storePath(entry.locations[0]?.path ?? ''), entry.purl]));
    expect(syftPaths.size).toBeGreaterThanOrEqual(3);
    const ours = new Map(sbom.components.map((component) => [component['bom-ref'], component]));
    for (const [path, purl] of syftPaths) expect(ours.get(path)?.purl, path).toBe(purl);
    // What syft leaves out: store paths whose names carry no version (busybox, cacert, iana-etc in the demo set).
    const missed = sbom.components.filter((component) => !syftPaths.has(component['bom-ref']));
    expect(missed.map((component) => component.version)).toEqual(missed.map(() => undefined));
  });

  it('each platform of a multi-arch image has referrers of its own', async () => {
    const multi = await startDemoServer({ NIXYARD_ARCHITECTURES: 'amd64,arm64' });
    const index = (await (await fetch(`${multi.url}/v2/hello/manifests/latest`, { headers: { Accept: MediaType.ociIndex } })).json()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    const sboms = await Promise.all(
      index.manifests.map(async (entry) => {
        const referrers = (await (await fetch(`${multi.url}/v2/hello/referrers/${entry.digest}?artifactType=${encodeURIComponent(SPDX)}`)).json()) as { manifests: Referrer[] };
        expect(referrers.manifests, entry.platform.architecture).toHaveLength(1);
        const manifest = (await (await fetch(`${multi.url}/v2/hello/manifests/${referrers.manifests[0]?.digest}`)).json()) as { subject: { digest: string }; layers: { digest: string }[] };
        expect(manifest.subject.digest).toBe(entry.digest);
        return (await (await fetch(`${multi.url}/v2/hello/blobs/${manifest.layers[0]?.digest}`)).json()) as { name: string };
      }),
    );
    expect(sboms.map((sbom) => sbom.name).sort()).toEqual(['cacert hello iana-etc (amd64)', 'cacert hello iana-etc (arm64)']);
  });

  it('a build record lists its SBOMs, fetchable through the image name', async () => {
    const created = await fetch(`${url}/v1/builds`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ image: 'hello/nano' }) });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    await (await fetch(`${url}/v1/builds/${id}/logs?follow=1`)).text();
    const record = (await (await fetch(`${url}/v1/builds/${id}`)).json()) as { status: string; manifestDigest: string; artifacts: { artifactType: string; manifest: string; content: string }[] };
    expect(record.status).toBe('succeeded');
    expect(record.artifacts.map((artifact) => artifact.artifactType)).toEqual([SPDX, CYCLONEDX]);
    for (const artifact of record.artifacts) {
      const manifest = (await (await fetch(`${url}/v2/hello/nano/manifests/${artifact.manifest}`)).json()) as { subject: { digest: string }; layers: { digest: string }[] };
      expect(manifest.subject.digest).toBe(record.manifestDigest);
      expect(manifest.layers[0]?.digest).toBe(artifact.content);
      expect((await fetch(`${url}/v2/nano/hello/blobs/${artifact.content}`)).headers.get('content-type')).toBe(artifact.artifactType);
    }
    // A second build of the stored image finds them again.
    const again = await fetch(`${url}/v1/builds`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ image: 'nano/hello' }) });
    const second = (await again.json()) as { id: string };
    await (await fetch(`${url}/v1/builds/${second.id}/logs?follow=1`)).text();
    const secondRecord = (await (await fetch(`${url}/v1/builds/${second.id}`)).json()) as { artifacts: unknown };
    expect(secondRecord.artifacts).toEqual(record.artifacts);
  });

  it('nixyard sbom prints either format, logs in when the registry asks, and says what is wrong', async () => {
    const sbom = (args: string[], env: Record<string, string> = {}) => execa('node', [CLI, 'sbom', ...args], { reject: false, env: { PATH: process.env['PATH'] ?? '', ...env }, extendEnv: false });
    const spdx = await sbom([`${host}/shell/hello`, '--plain-http']);
    expect(spdx.exitCode, spdx.stderr).toBe(0);
    expect((JSON.parse(spdx.stdout) as { spdxVersion: string }).spdxVersion).toBe('SPDX-2.3');
    const cyclonedx = await sbom([`${host}/hello/shell:latest`, '--plain-http', '--format', 'cyclonedx']);
    expect((JSON.parse(cyclonedx.stdout) as { specVersion: string }).specVersion).toBe('1.6');
    expect((await sbom([`${host}/shell/hello`, '--plain-http', '--format', 'xml'])).exitCode).toBe(2);
    const missing = await sbom([`${host}/no-such-package`, '--plain-http']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain('nixyard: MANIFEST_UNKNOWN: packages not found in the package set: no-such-package');

    const htpasswd = await writeHtpasswd({ alice: 'a-secret' });
    const locked = await startDemoServer({ NIXYARD_HTPASSWD: htpasswd, NIXYARD_AUTH_PREFIXES: 'hello' });
    const anonymous = await sbom([`${locked.host}/hello`, '--plain-http']);
    expect(anonymous.exitCode).toBe(3);
    expect(anonymous.stderr).toContain('needs credentials: set NIXYARD_USERNAME and NIXYARD_PASSWORD');
    const alice = await sbom([`${locked.host}/hello`, '--plain-http'], { NIXYARD_USERNAME: 'alice', NIXYARD_PASSWORD: 'a-secret' });
    expect(alice.exitCode, alice.stderr).toBe(0);
    expect((JSON.parse(alice.stdout) as { name: string }).name).toBe('cacert hello iana-etc (amd64)');
  });

  it('with NIXYARD_SBOMS=0 images get none', async () => {
    const off = await startDemoServer({ NIXYARD_SBOMS: '0' });
    const manifest = await fetch(`${off.url}/v2/hello/manifests/latest`, { headers: { Accept: MediaType.ociManifest } });
    const index = (await (await fetch(`${off.url}/v2/hello/referrers/${manifest.headers.get('docker-content-digest')}`)).json()) as { manifests: unknown[] };
    expect(index.manifests).toEqual([]);
  });
});
