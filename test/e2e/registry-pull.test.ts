// The "registry core" done-criterion: real clients (docker, skopeo, podman) pull a real image
// from the registry over plain HTTP on 127.0.0.1 and run it. The image is a fixture package made
// from the host's static busybox (plus cacert and iana-etc, which every image gets), packed into
// real gzip tar layers by the fixture builder, so no Nix is involved.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/image/media-types.js';
import { docker, dockerPull, dockerRemoveImages, dockerRepoDigest, dockerRun, ensureDocker, runTool, expectSuccess, PODMAN_LIMITS } from '../helpers/docker.js';
import { basicPackages, createFixtureRegistry } from '../helpers/registry-fixture.js';
import { listen, type Served } from '../helpers/serve.js';
import { requireTool } from '../helpers/tools.js';

const HOST_BUSYBOX = '/bin/busybox';
/** busybox, cacert, iana-etc: the fixture builder packs one layer per package. */
const IMAGE_PACKAGES = ['busybox', 'cacert', 'iana-etc'];
/** podman needs explicit limits in this kind of sandbox (the defaults exceed the hard limits). */

/** One request the registry answered, as a client sent it. */
interface SeenRequest {
  method: string;
  url: string;
  userAgent: string;
  status: number;
  contentType: string | undefined;
  digest: string | undefined;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A fixture package from the host's static busybox: `bin/busybox` and applet symlinks. */
async function busyboxPackage(root: string): Promise<string> {
  const dir = join(root, 'busybox');
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile(HOST_BUSYBOX, join(dir, 'bin', 'busybox'));
  for (const applet of ['sh', 'echo', 'ls']) await symlink('busybox', join(dir, 'bin', applet));
  return dir;
}

describe('real clients pull a real image from the registry', () => {
  let served: Served;
  let tmp: string;
  let image: string;
  const requests: SeenRequest[] = [];
  const dockerImages = new Set<string>();
  const podmanImages = new Set<string>();

  beforeAll(async () => {
    await requireTool('docker', 'apt-get install -y docker.io');
    await requireTool('skopeo', 'apt-get install -y skopeo');
    await requireTool('podman', 'apt-get install -y podman');
    await requireTool('busybox', 'apt-get install -y busybox-static');
    await ensureDocker();

    tmp = await mkdtemp(join(tmpdir(), 'nixyard-e2e-pull-'));
    const busybox = await busyboxPackage(tmp);
    const { app } = await createFixtureRegistry({ packages: { ...(await basicPackages()), busybox: [{ from: join(busybox, 'bin'), to: 'bin' }] } });
    served = await listen((req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? ''; // express rewrites req.url while routing
      res.on('finish', () => {
        const header = (name: string) => {
          const value = res.getHeader(name);
          return value === undefined ? undefined : String(value);
        };
        requests.push({
          method: req.method ?? '',
          url,
          userAgent: req.headers['user-agent'] ?? '',
          status: res.statusCode,
          contentType: header('content-type'),
          digest: header('docker-content-digest'),
        });
      });
      app(req, res);
    });
    image = `${served.host}/busybox:latest`;
  });

  afterAll(async () => {
    // Every pulled reference and image id, so the next run really pulls again.
    await dockerRemoveImages([...dockerImages]);
    if (podmanImages.size > 0) await runTool('podman', ['rmi', '-f', ...podmanImages]);
    await served?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** The registry's OCI manifest of the image (what skopeo and docker get by default). */
  async function registryManifest(accept: string = MediaType.ociManifest): Promise<{ digest: string; manifest: { layers: { digest: string }[]; config: { digest: string } } }> {
    const res = await fetch(`http://${served.host}/v2/busybox/manifests/latest`, { headers: { accept } });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.headers.get('docker-content-digest')).toBe(sha256(body));
    return { digest: sha256(body), manifest: JSON.parse(body.toString('utf8')) };
  }

  describe('docker', () => {
    it('pulls the image over plain HTTP from 127.0.0.1 and runs busybox from it', async () => {
      dockerImages.add(image);
      expectSuccess(await dockerPull(image), `docker pull ${image}`);
      const id = await docker(['image', 'inspect', '--format', '{{.Id}}', image]);
      expectSuccess(id, 'docker image inspect');
      dockerImages.add(id.stdout.trim());

      const echo = await dockerRun(image, ['/bin/busybox', 'echo', 'hello-from-nixyard']);
      expectSuccess(echo, 'docker run … echo');
      expect(echo.stdout.trim()).toBe('hello-from-nixyard');

      const certs = await dockerRun(image, ['/bin/sh', '-c', 'ls /etc/ssl/certs']);
      expectSuccess(certs, 'docker run … ls /etc/ssl/certs');
      expect(certs.stdout.split('\n')).toContain('ca-bundle.crt');
    });

    it("reports the registry's Docker-Content-Digest of the manifest it got, and pulls by that digest", async () => {
      // docker HEADs (or GETs) the manifest by tag; what it got is what the registry answered.
      const byTag = requests.filter((r) => r.url === '/v2/busybox/manifests/latest' && r.userAgent.startsWith('docker/') && r.status === 200);
      expect(byTag.length, JSON.stringify(requests, null, 1)).toBeGreaterThan(0);
      expect(new Set(byTag.map((r) => `${r.contentType} ${r.digest}`)).size).toBe(1);
      const digest = byTag[0]?.digest ?? '';
      const flavour = byTag[0]?.contentType ?? '';
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      // docker lists OCI among its Accept lines, so it gets the OCI flavour.
      expect(flavour).toBe(MediaType.ociManifest);
      expect((await registryManifest(flavour)).digest).toBe(digest);

      const repoDigest = await dockerRepoDigest(image);
      expect(repoDigest).toBe(`${served.host}/busybox@${digest}`);

      dockerImages.add(repoDigest);
      expectSuccess(await dockerPull(repoDigest), `docker pull ${repoDigest}`);
      expect(requests.some((r) => r.url === `/v2/busybox/manifests/${digest}` && r.status === 200)).toBe(true);
      const run = await dockerRun(repoDigest, ['/bin/busybox', 'echo', 'by-digest']);
      expectSuccess(run, 'docker run by digest');
      expect(run.stdout.trim()).toBe('by-digest');
    });

    it('fails a pull of a missing package with the registry\'s "manifest unknown"', async () => {
      const missing = `${served.host}/busybox/no-such-package:latest`;
      dockerImages.add(missing);
      const result = await dockerPull(missing);
      expect(result.failed).toBe(true);
      expect(result.all).toMatch(/manifest unknown/i);
      expect(result.all).toContain('no-such-package');
    });
  });

  describe('skopeo', () => {
    it('inspects the image (it lists the tags)', async () => {
      const result = await runTool('skopeo', ['inspect', '--tls-verify=false', `docker://${image}`]);
      expectSuccess(result, 'skopeo inspect');
      const info = JSON.parse(result.stdout) as { Digest: string; RepoTags: string[]; Layers: string[]; Architecture: string; Os: string };
      expect(info.RepoTags).toContain('latest');
      expect(info.Architecture).toBe('amd64');
      expect(info.Os).toBe('linux');
      expect(info.Layers).toHaveLength(IMAGE_PACKAGES.length);
      expect(info.Digest).toBe((await registryManifest()).digest);
      expect(requests.some((r) => r.url === '/v2/busybox/tags/list' && r.status === 200)).toBe(true);
    });

    it('copies the image to a directory with blobs matching their digests', async () => {
      const dir = join(tmp, 'skopeo-dir');
      const result = await runTool('skopeo', ['copy', '--src-tls-verify=false', `docker://${image}`, `dir:${dir}`]);
      expectSuccess(result, 'skopeo copy dir:');
      const manifestBytes = await readFile(join(dir, 'manifest.json'));
      const manifest = JSON.parse(manifestBytes.toString('utf8')) as { mediaType: string; config: { digest: string }; layers: { digest: string; size: number }[] };
      const expected = await registryManifest();
      // Copied unchanged: the same bytes the registry serves by tag.
      expect(sha256(manifestBytes)).toBe(expected.digest);
      expect(manifest.layers).toHaveLength(IMAGE_PACKAGES.length);
      expect(manifest.layers.map((l) => l.digest)).toEqual(expected.manifest.layers.map((l) => l.digest));
      for (const blob of [manifest.config, ...manifest.layers]) {
        const bytes = await readFile(join(dir, blob.digest.replace(/^sha256:/, '')));
        expect(sha256(bytes)).toBe(blob.digest);
      }
    });

    it('copies the image to an OCI layout', async () => {
      const layout = join(tmp, 'skopeo-oci');
      const result = await runTool('skopeo', ['copy', '--src-tls-verify=false', `docker://${image}`, `oci:${layout}:x`]);
      expectSuccess(result, 'skopeo copy oci:');
      const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
      const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'x');
      expect(entry, JSON.stringify(index)).toBeDefined();
      const manifestBytes = await readFile(join(layout, 'blobs', 'sha256', (entry?.digest ?? '').replace(/^sha256:/, '')));
      expect(sha256(manifestBytes)).toBe(entry?.digest);
      const manifest = JSON.parse(manifestBytes.toString('utf8')) as { layers: { digest: string }[] };
      expect(manifest.layers).toHaveLength(IMAGE_PACKAGES.length);
    });
  });

  describe('podman', () => {
    it('pulls the image', async () => {
      podmanImages.add(image);
      expectSuccess(await runTool('podman', ['pull', '--tls-verify=false', image]), `podman pull ${image}`);
    });

    it('runs busybox from the pulled image', async () => {
      const result = await runTool('podman', ['run', '--rm', ...PODMAN_LIMITS, image, '/bin/busybox', 'echo', 'hi']);
      expectSuccess(result, 'podman run');
      expect(result.stdout.trim()).toBe('hi');
    });
  });
});
