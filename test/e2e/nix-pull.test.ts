// The Nix builder end to end: real Nix builds demo packages on demand, real docker, skopeo and
// podman pull them from a real server on 127.0.0.1, and the programs run in containers.
import request from 'supertest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerPull, dockerRemoveImages, dockerRun, ensureDocker, runTool, expectSuccess, PODMAN_LIMITS } from '../helpers/docker.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { requireTool } from '../helpers/tools.js';

const SYNTHETIC_APPS = Array.from({ length: 10 }, (_, i) => `synth-app-${String(i + 1).padStart(3, '0')}`);
/** The synthetic apps plus a shell to run them from. */
const SYNTHETIC_IMAGE = ['shell', ...SYNTHETIC_APPS].join('/');

describe('images built by Nix, pulled and run by real clients', () => {
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  const pulled: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    await requireTool('skopeo', 'apt-get install -y skopeo');
    await requireTool('podman', 'apt-get install -y podman');
    server = await startDemoServer({ NIXYARD_DEMO_SYNTHETIC: '20' });
  });

  afterAll(async () => {
    await dockerRemoveImages(pulled);
    await runTool('podman', ['rmi', '-f', ...pulled.map((ref) => `localhost/${ref}`), ...pulled]);
    await server?.close();
  });

  const image = (name: string) => {
    const reference = `${server.host}/${name}:latest`;
    pulled.push(reference);
    return reference;
  };

  it('docker pull shell/hello, then docker run prints Hello, world!', async () => {
    const reference = image('shell/hello');
    expectSuccess(await dockerPull(reference), 'docker pull');
    const hello = await dockerRun(reference, ['hello']);
    expectSuccess(hello, 'docker run hello');
    expect(hello.stdout.trim()).toBe('Hello, world!');
  });

  it('bash, coreutils, /tmp, /usr/bin/env and the CA bundle work in a shell image', async () => {
    const reference = image('shell/hello');
    const script = 'echo $((6 * 7)); test -s /etc/ssl/certs/ca-bundle.crt && echo ca-ok; touch /tmp/x && echo tmp-ok; /usr/bin/env | grep -c PATH=; echo "$SSL_CERT_FILE"';
    const result = await dockerRun(reference, ['bash', '-c', script]);
    expectSuccess(result, 'docker run bash');
    expect(result.stdout.trim().split('\n')).toEqual(['42', 'ca-ok', 'tmp-ok', '1', '/etc/ssl/certs/ca-bundle.crt']);
  });

  it('the image runs bash by default (Cmd)', async () => {
    const inspect = await runTool('docker', ['image', 'inspect', '--format', '{{json .Config.Cmd}}', image('shell/hello')]);
    expect(inspect.stdout.trim()).toBe('["bash"]');
  });

  it('synthetic apps with deep closures run: no store path is missing from any layer', async () => {
    const reference = image(SYNTHETIC_IMAGE);
    expectSuccess(await dockerPull(reference), 'docker pull synthetic');
    const result = await dockerRun(reference, ['/bin/sh', '-c', SYNTHETIC_APPS.join(' && ')]);
    expectSuccess(result, 'docker run synthetic apps');
    expect(result.stdout.trim().split('\n')).toEqual(SYNTHETIC_APPS.map((app) => `${app} ok`));
  });

  it('the same works squeezed into a budget of 4 layers (layers merged)', async () => {
    const tight = await startDemoServer({ NIXYARD_DEMO_SYNTHETIC: '20', NIXYARD_LAYER_BUDGET: '4' });
    try {
      const reference = `${tight.host}/${SYNTHETIC_IMAGE}:latest`;
      pulled.push(reference);
      const manifest = JSON.parse((await request(tight.url).get(`/v2/${SYNTHETIC_IMAGE}/manifests/latest`)).text);
      expect(manifest.layers.length).toBeLessThanOrEqual(4);
      expectSuccess(await dockerPull(reference), 'docker pull (4 layers)');
      const result = await dockerRun(reference, ['/bin/sh', '-c', SYNTHETIC_APPS.join(' && ')]);
      expectSuccess(result, 'docker run (4 layers)');
      expect(result.stdout.trim().split('\n')).toHaveLength(SYNTHETIC_APPS.length);
    } finally {
      await tight.close();
    }
  });

  it('podman pulls and runs the same image; skopeo copies it with verified blobs', async () => {
    const reference = image('shell/hello');
    expectSuccess(await runTool('podman', ['pull', '--tls-verify=false', reference]), 'podman pull');
    const run = await runTool('podman', ['run', '--rm', ...PODMAN_LIMITS, reference, 'hello']);
    expectSuccess(run, 'podman run');
    expect(run.stdout.trim()).toBe('Hello, world!');
    const dir = await mkdtemp(join(tmpdir(), 'nixyard-skopeo-'));
    expectSuccess(await runTool('skopeo', ['copy', '--src-tls-verify=false', `docker://${reference}`, `dir:${dir}`]), 'skopeo copy');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.layers.length).toBeGreaterThan(1);
  });

  it('two fresh registries with empty storage build identical digests', async () => {
    const other = await startDemoServer({ NIXYARD_DEMO_SYNTHETIC: '20' });
    try {
      for (const name of ['shell/hello', SYNTHETIC_APPS.slice(0, 4).join('/')]) {
        const first = await request(server.url).head(`/v2/${name}/manifests/latest`);
        const second = await request(other.url).head(`/v2/${name}/manifests/latest`);
        expect(second.headers['docker-content-digest']).toBe(first.headers['docker-content-digest']);
      }
      expect(other.storagePath).not.toBe(server.storagePath);
    } finally {
      await other.close();
    }
  });

  it('the digest docker records is the one the registry served', async () => {
    const reference = image('shell/hello');
    const head = await request(server.url).head('/v2/shell/hello/manifests/latest').set('Accept', 'application/vnd.oci.image.manifest.v1+json');
    const digests = await runTool('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', reference]);
    expect(JSON.parse(digests.stdout)).toContain(`${server.host}/shell/hello@${head.headers['docker-content-digest']}`);
  });
});
