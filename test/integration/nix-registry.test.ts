/** The registry building real images with real Nix from the demo package set. */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoServer } from '../helpers/demo-server.js';

type DemoServer = Awaited<ReturnType<typeof startDemoServer>>;

function expectError(res: request.Response, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.errors[0].code).toBe(code);
  return res.body.errors[0] as { code: string; message: string; detail: Record<string, unknown> };
}

describe('registry with Nix (demo package set)', () => {
  let server: DemoServer;
  beforeAll(async () => {
    server = await startDemoServer();
  });
  afterAll(async () => server?.close());

  it('builds shell/hello: layers in the manifest, config with diff_ids, Cmd bash', async () => {
    const res = await request(server.url).get('/v2/shell/hello/manifests/latest');
    expect(res.status, res.text).toBe(200);
    const manifest = JSON.parse(res.text);
    expect(manifest.layers.length).toBeGreaterThanOrEqual(2);
    const config = await request(server.url).get(`/v2/shell/hello/blobs/${manifest.config.digest}`);
    const parsed = JSON.parse(config.text);
    expect(parsed.rootfs.diff_ids).toHaveLength(manifest.layers.length);
    expect(parsed.config.Cmd).toEqual(['bash']);
    for (const layer of manifest.layers) {
      const head = await request(server.url).head(`/v2/shell/hello/blobs/${layer.digest}`);
      expect(head.status).toBe(200);
      expect(Number(head.headers['content-length'])).toBe(layer.size);
    }
  });

  it('the index page shows how to pull with the visitor host, the source and recent builds', async () => {
    const res = await request(server.url).get('/').set('Host', 'registry.example:5000');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    // The examples are packages of the demo set, which has hello and python3 but neither git nor htop.
    expect(res.text).toContain('docker pull registry.example:5000/shell/hello\ndocker pull registry.example:5000/hello/python3');
    expect(res.text).not.toMatch(/\bgit\b|htop/);
    expect(res.text).toContain('local path');
    expect(res.text).toContain('bashInteractive');
  });

  it('404 MANIFEST_UNKNOWN names missing packages', async () => {
    const error = expectError(await request(server.url).get('/v2/hello/nosuchthing/alsonot/manifests/latest'), 404, 'MANIFEST_UNKNOWN');
    expect(error.detail.missing).toEqual(['alsonot', 'nosuchthing']);
  });

  it('a package set is not a package', async () => {
    const error = expectError(await request(server.url).get('/v2/tools/manifests/latest'), 404, 'MANIFEST_UNKNOWN');
    expect(error.message).toContain('tools');
  });

  it('finds dotted, case-insensitive and digit-prefixed names', async () => {
    for (const name of ['tools.hello2', 'bashinteractive', '1hello']) {
      const res = await request(server.url).head(`/v2/${name}/manifests/latest`);
      expect(res.status, name).toBe(200);
    }
  });

  it('unfree and broken packages are refused with their own codes', async () => {
    expectError(await request(server.url).get('/v2/unfree-demo/manifests/latest'), 422, 'PACKAGE_UNFREE');
    const broken = expectError(await request(server.url).get('/v2/broken-demo/manifests/latest'), 422, 'PACKAGE_BROKEN');
    expect(broken.message).toContain('broken-demo');
  });

  it('an evaluation error is NIX_EVALUATION_ERROR with Nix message', async () => {
    const error = expectError(await request(server.url).get('/v2/removed-demo/manifests/latest'), 422, 'NIX_EVALUATION_ERROR');
    expect(error.message.length).toBeGreaterThan(20);
    expect(error.detail.log).toEqual(expect.any(String));
  });

  it('a build failure is NIX_BUILD_FAILED with the tail of the build log', async () => {
    const error = expectError(await request(server.url).get('/v2/failing-demo/manifests/latest'), 500, 'NIX_BUILD_FAILED');
    expect(String(error.detail.log)).toMatch(/failing-demo/);
  });

  it('recent failures appear on the index page', async () => {
    const res = await request(server.url).get('/');
    expect(res.text).toContain('NIX_BUILD_FAILED');
  });

  it('names that try to inject Nix code or shell arguments never reach Nix', async () => {
    for (const name of ['hello%22%3Bbuiltins.abort%22x', 'hello%24(touch%20%2Ftmp%2Fpwned)', 'hello%20--arg', '--option/x']) {
      expectError(await request(server.url).get(`/v2/${name}/manifests/latest`), 400, 'NAME_INVALID');
    }
    // Valid grammar, but only ever an attribute path looked up in the package set.
    const error = expectError(await request(server.url).get('/v2/builtins.abort/manifests/latest'), 404, 'MANIFEST_UNKNOWN');
    expect(error.detail.missing).toEqual(['builtins.abort']);
  });

  it('50 concurrent cold pulls of one image run one build and all get the same digest', async () => {
    const fresh = await startDemoServer();
    try {
      const results = await Promise.all(Array.from({ length: 50 }, () => request(fresh.url).get('/v2/hello/which/manifests/latest')));
      expect(results.map((res) => res.status)).toEqual(Array(50).fill(200));
      expect(new Set(results.map((res) => res.headers['docker-content-digest'])).size).toBe(1);
      const page = await request(fresh.url).get('/');
      expect(page.text.match(/<tr data-id="[^"]+" data-status="succeeded"/g)).toHaveLength(1);
    } finally {
      await fresh.close();
    }
  });
});

describe('Nix timeout', () => {
  it('a build longer than NIX_TIMEOUT is 504 NIX_TIMEOUT and the registry keeps serving', async () => {
    const server = await startDemoServer({ NIX_TIMEOUT: '2' });
    try {
      const started = Date.now();
      const error = expectError(await request(server.url).get('/v2/slow-demo/manifests/latest'), 504, 'NIX_TIMEOUT');
      expect(error.message).toContain('NIX_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(30_000);
      expect((await request(server.url).head('/v2/hello/manifests/latest')).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('index page with access control on', () => {
  it('does not list builds, which would show the names of protected images', async () => {
    const { writeHtpasswd } = await import('../helpers/htpasswd.js');
    const server = await startDemoServer({ NIXYARD_HTPASSWD: await writeHtpasswd({ alice: 'secret' }) });
    try {
      const page = await request(server.url).get('/');
      expect(page.status).toBe(200);
      expect(page.text).toContain('requires a login');
      expect(page.text).not.toContain('Recent builds');
    } finally {
      await server.close();
    }
  });
});
