/**
 * Running nixyard as an operator does: probes, metrics, the request log with its ids, proxies,
 * serve-only instances and draining on SIGTERM, against real Nix, real storage and real
 * `nixyard serve` processes.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createFilesystemStorage } from '../../storage/filesystem.js';
import type { Storage } from '../../storage/types.js';
import { buildRecordKey } from '../../storage/keys.js';
import { enterStatus, newBuildId, newRecord, type BuildRecord } from '../../src/builds/record.js';
import { capturedLog } from '../helpers/captured-log.js';
import { startCliServer } from '../helpers/cli-server.js';
import { demoServersOfBlock, startDemoServer } from '../helpers/demo-server.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { forbiddenNix } from '../helpers/package-sets.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

describe('probes', () => {
  const start = demoServersOfBlock();

  it('/healthz answers while the process runs; /readyz names each check', async () => {
    const server = await start();
    const health = await request(server.url).get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await request(server.url).get('/readyz');
    expect(ready.status, ready.text).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', ready: true, draining: false, checks: { storage: { ok: true }, nix: { ok: true } } });
  });

  it('/readyz is 503 naming storage when the storage does not answer, and Nix when it does not run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nixyard-readyz-'));
    const real = await createFilesystemStorage(dir);
    const failing: Storage = { ...real, stat: async () => Promise.reject(new Error('storage is unavailable (filesystem): EACCES: permission denied')) };
    const brokenNix = { ...forbiddenNix, version: async () => Promise.reject(new Error('nix-build does not run (not found): install Nix, e.g. apt-get install -y nix-bin')) };
    const server = await start({}, { storage: failing, nix: brokenNix });
    const ready = await request(server.url).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not ready', ready: false, draining: false });
    expect(ready.body.checks.storage).toEqual({ ok: false, error: expect.stringMatching(/EACCES/) });
    expect(ready.body.checks.nix).toEqual({ ok: false, error: expect.stringMatching(/nix-build does not run/) });
    expect((await request(server.url).get('/healthz')).status).toBe(200);
  });
});

describe('request log and request ids', () => {
  it('logs one line per request with its route template, and the id reaches the build it started', async () => {
    const { log, requests } = capturedLog();
    const server = await startDemoServer({}, { log });
    try {
      const pull = await request(server.url).get('/v2/shell/hello/manifests/latest').set('Accept', OCI).set('X-Request-Id', 'pull-42');
      expect(pull.status, pull.text).toBe(200);
      expect(pull.headers['x-request-id']).toBe('pull-42');
      const line = requests().find((event) => event['requestId'] === 'pull-42');
      expect(line).toMatchObject({ level: 'info', method: 'GET', route: '/v2/{name}/manifests/{reference}', path: '/v2/shell/hello/manifests/latest', status: 200, client: '127.0.0.1', bytes: Number(pull.headers['content-length']) });
      expect(line?.['ms']).toEqual(expect.any(Number));

      const builds = await request(server.url).get('/v1/builds?image=shell/hello');
      expect(builds.status, builds.text).toBe(200);
      expect(builds.body.builds[0]).toMatchObject({ image: 'shell/hello', trigger: 'pull', requestId: 'pull-42' });

      // A client's id with spaces or quotes is not taken: the request gets an id of its own.
      const odd = await request(server.url).get('/v2/').set('X-Request-Id', 'a "quoted" id');
      expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const unknown = await request(server.url).get('/v2/nosuchpackage/manifests/latest').set('Accept', OCI);
      expect(unknown.status).toBe(404);
      expect(requests().find((event) => event['requestId'] === unknown.headers['x-request-id'])).toMatchObject({ status: 404, code: 'MANIFEST_UNKNOWN' });
    } finally {
      await server.close();
    }
  });

  it('takes the client from X-Forwarded-For only behind a proxy the operator trusts (NIXYARD_TRUST_PROXY)', async () => {
    for (const [trust, client] of [[undefined, '127.0.0.1'], ['loopback', '203.0.113.9'], ['10.0.0.0/8', '127.0.0.1']] as const) {
      const { log, requests } = capturedLog();
      const server = await startDemoServer(trust ? { NIXYARD_TRUST_PROXY: trust } : {}, { log, nix: forbiddenNix });
      try {
        const res = await request(server.url).get('/v2/').set('X-Forwarded-For', '203.0.113.9');
        expect(requests().find((event) => event['requestId'] === res.headers['x-request-id'])?.['client'], `NIXYARD_TRUST_PROXY=${trust}`).toBe(client);
      } finally {
        await server.close();
      }
    }
  });
});

describe('the token realm behind a proxy', () => {
  it('takes the scheme and host from X-Forwarded-Proto/-Host only from a trusted proxy', async () => {
    const htpasswd = await writeHtpasswd({ alice: 'secret' });
    for (const [trust, realm] of [[undefined, (url: string) => `${url}/token`], ['loopback', () => 'https://registry.example.com/token']] as const) {
      const server = await startDemoServer({ NIXYARD_HTPASSWD: htpasswd, ...(trust ? { NIXYARD_TRUST_PROXY: trust } : {}) }, { nix: forbiddenNix });
      try {
        const res = await request(server.url).get('/v2/').set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'registry.example.com');
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate'], `NIXYARD_TRUST_PROXY=${trust}`).toContain(`realm="${realm(server.url)}"`);
      } finally {
        await server.close();
      }
    }
  });
});

describe('/metrics', () => {
  it('counts requests by route template, manifests by origin, layers and storage operations, and names no image', async () => {
    const server = await startDemoServer();
    try {
      expect((await request(server.url).get('/v2/hello/manifests/latest').set('Accept', OCI)).status).toBe(200);
      expect((await request(server.url).get('/v2/hello/manifests/latest').set('Accept', OCI)).status).toBe(200);
      const res = await request(server.url).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = res.text;
      expect(text).toMatch(/^nixyard_http_requests_total\{route="\/v2\/\{name\}\/manifests\/\{reference\}",method="GET",status="200"\} [1-9]/m);
      expect(text).toMatch(/^nixyard_manifests_served_total\{from="build"\} [1-9]/m);
      expect(text).toMatch(/^nixyard_manifests_served_total\{from="memory"\} [1-9]/m);
      expect(text).toMatch(/^nixyard_layers_total\{outcome="(packed|reused)"\} [1-9]/m);
      expect(text).toMatch(/^nixyard_storage_operation_duration_seconds_count\{backend="filesystem",operation="put",outcome="ok"\} [1-9]/m);
      expect(text).toMatch(/^nixyard_nix_invocation_duration_seconds_count\{command="nix-build",outcome="ok"\} [1-9]/m);
      expect(text).toMatch(/^nixyard_builds_total\{kind="packages",trigger="pull",status="succeeded"\} [1-9]/m);
      expect(text).toMatch(/^nixyard_builds\{state="running"\} 0/m);
      expect(text).toMatch(/^process_resident_memory_bytes [1-9]/m);
      // Labels hold templates and outcomes, never image names.
      expect(text.split('\n').filter((line) => !line.startsWith('#') && /hello/.test(line))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('asks for the bearer token when one is set; on a port of its own it leaves the registry port', async () => {
    const guarded = await startDemoServer({ NIXYARD_METRICS_TOKEN: 'scrape-secret' }, { nix: forbiddenNix });
    try {
      const anonymous = await request(guarded.url).get('/metrics');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(anonymous.text).toContain('NIXYARD_METRICS_TOKEN');
      expect((await request(guarded.url).get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
      expect((await request(guarded.url).get('/metrics').set('Authorization', 'Bearer scrape-secret')).status).toBe(200);
    } finally {
      await guarded.close();
    }
    const separate = await startDemoServer({ NIXYARD_METRICS_PORT: '0' }, { nix: forbiddenNix });
    try {
      expect(separate.metricsPort).toEqual(expect.any(Number));
      expect((await request(separate.url).get('/metrics')).status).toBe(404);
      const scraped = await request(`http://127.0.0.1:${separate.metricsPort}`).get('/metrics');
      expect(scraped.status).toBe(200);
      expect(scraped.text).toContain('nixyard_http_requests_total');
    } finally {
      await separate.close();
    }
  });
});

describe('a serve-only instance (NIXYARD_SERVE_ONLY=1)', () => {
  it('runs without Nix, serves what storage holds and answers 503 for what would need a build', async () => {
    const builder = await startDemoServer();
    const storagePath = builder.storagePath;
    try {
      expect((await request(builder.url).get('/v2/shell/hello/manifests/latest').set('Accept', OCI)).status).toBe(200);
    } finally {
      await builder.close();
    }
    // PATH holds node alone: no nix-build, nix, skopeo or nixpacks.
    const bin = await mkdtemp(join(tmpdir(), 'nixyard-no-nix-'));
    await symlink(process.execPath, join(bin, 'node'));
    const server = await startCliServer({ NIXYARD_SERVE_ONLY: '1', STORAGE_PATH: storagePath, PATH: bin, NIXYARD_LOG_FORMAT: 'json' });
    try {
      const served = await fetch(`${server.url}/v2/shell/hello/manifests/latest`, { headers: { Accept: OCI } });
      expect(served.status).toBe(200);
      const refused = await fetch(`${server.url}/v2/hello/nano/manifests/latest`, { headers: { Accept: OCI } });
      expect(refused.status).toBe(503);
      const body = (await refused.json()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]?.code).toBe('UNAVAILABLE');
      expect(body.errors[0]?.message).toMatch(/this instance does not build \(NIXYARD_SERVE_ONLY=1\)/);
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { ready: boolean; checks: Record<string, unknown> };
      expect(ready).toMatchObject({ ready: true, checks: { storage: { ok: true } } });
      expect(Object.keys(ready.checks)).toEqual(['storage']);
      const records = (await (await fetch(`${server.url}/v1/builds?image=hello/nano`)).json()) as { builds: unknown[] };
      expect(records.builds).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});

describe('draining on SIGTERM', () => {
  it('reports not ready, refuses new builds, lets the running build finish, then exits', async () => {
    const server = await startCliServer({ NIXYARD_DRAIN_SECONDS: '60', NIXYARD_DEMO_RUN: `drain-${Date.now()}`, NIXYARD_LOG_FORMAT: 'json' }, { graceMs: 60_000 });
    try {
      // ticker-demo's build takes about 4 s (it is a new derivation for this NIXYARD_DEMO_RUN).
      const running = fetch(`${server.url}/v2/ticker-demo/manifests/latest`, { headers: { Accept: OCI } });
      const deadline = Date.now() + 30_000;
      while (!/"msg":"building image"[^\n]*ticker-demo|ticker-demo[^\n]*"msg":"building image"/.test(server.output())) {
        if (Date.now() > deadline) throw new Error(`the build did not start: ${server.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      server.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'draining', draining: true });
      const refused = await fetch(`${server.url}/v2/hello/nano/manifests/latest`, { headers: { Accept: OCI } });
      expect(refused.status).toBe(503);
      expect(await refused.text()).toMatch(/this instance is stopping and starts no new builds/);
      expect((await running).status).toBe(200);
      const exit = await server.child;
      expect(exit.exitCode, server.output()).toBe(0);
    } finally {
      await server.stop(true);
    }
  });
});

describe('a full disk', () => {
  it('answers 503 naming ENOSPC, records it in the build, and leaves no partial layer', async () => {
    const mount = await mkdtemp(join(tmpdir(), 'nixyard-full-'));
    // 1 MiB: less than the busybox layer of shell/hello.
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
    try {
      const server = await startDemoServer({ STORAGE_PATH: mount });
      try {
        const pull = await request(server.url).get('/v2/shell/hello/manifests/latest').set('Accept', OCI);
        expect(pull.status, pull.text).toBe(503);
        expect(pull.body.errors[0]).toMatchObject({ code: 'UNAVAILABLE', message: 'storage is unavailable (filesystem: no space left on the storage path (ENOSPC)); retry later' });
        const builds = await request(server.url).get('/v1/builds?image=shell/hello');
        expect(builds.body.builds[0]).toMatchObject({ status: 'failed', error: { code: 'UNAVAILABLE', message: expect.stringContaining('ENOSPC') } });
        const layers = await readdir(join(mount, 'layers')).catch(() => [] as string[]);
        for (const name of layers) expect(createHash('sha256').update(await readFile(join(mount, 'layers', name))).digest('hex'), `layers/${name} is whole`).toBe(name);
      } finally {
        await server.close();
      }
    } finally {
      await execa('umount', [mount]);
    }
  });
});

describe('builds whose instance died', () => {
  it('a record nobody rewrote for three heartbeats is ended as interrupted by the instance that reads it', async () => {
    const server = await startDemoServer({}, { nix: forbiddenNix });
    try {
      const storage = await createFilesystemStorage(server.storagePath);
      const then = new Date(Date.now() - 10 * 60_000);
      const left = enterStatus(newRecord({ id: newBuildId(then, 'deadbeef'), image: 'hello', tag: 'latest', packages: ['hello'], arch: 'amd64', revision: 'r', trigger: 'pull', instance: 'lost-machine:4242' }, then), 'packing', then);
      await storage.put(buildRecordKey(left.id), JSON.stringify(left), 'application/json');
      const res = await request(server.url).get(`/v1/builds/${left.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'failed', error: { code: 'BUILD_INTERRUPTED', message: expect.stringMatching(/lost-machine:4242\) stopped rewriting its record .* while the build was packing/) } });
      const stored = JSON.parse(((await storage.get(buildRecordKey(left.id))) as Buffer).toString('utf8')) as BuildRecord;
      expect(stored.status).toBe('failed');
    } finally {
      await server.close();
    }
  });

  it('an instance killed mid-build and started again ends the build it left running', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'nixyard-killed-'));
    const env = { NIXYARD_DATA_DIR: dataDir, NIXYARD_DEMO_RUN: `killed-${Date.now()}`, NIXYARD_LOG_FORMAT: 'json' };
    const first = await startCliServer(env);
    let id: string | undefined;
    try {
      void fetch(`${first.url}/v2/ticker-demo/manifests/latest`, { headers: { Accept: OCI } }).catch(() => undefined);
      const deadline = Date.now() + 30_000;
      // Building in storage, not only in the first instance's memory: its record write lands a few ms later.
      const stored = await createFilesystemStorage(join(dataDir, 'storage'));
      const storedStatus = async (build: string) => (JSON.parse((await stored.get(buildRecordKey(build)))?.toString('utf8') ?? '{}') as Partial<BuildRecord>).status;
      while (!id || (await storedStatus(id)) !== 'building') {
        const page = (await (await fetch(`${first.url}/v1/builds?image=ticker-demo&status=building`)).json()) as { builds: BuildRecord[] };
        id = page.builds[0]?.id;
        if (Date.now() > deadline) throw new Error(`the build did not start: ${first.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await first.stop(true);
    }
    const second = await startCliServer(env);
    try {
      const deadline = Date.now() + 20_000;
      let record = (await (await fetch(`${second.url}/v1/builds/${id}`)).json()) as BuildRecord;
      while (record.status !== 'failed' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        record = (await (await fetch(`${second.url}/v1/builds/${id}`)).json()) as BuildRecord;
      }
      expect(record).toMatchObject({ status: 'failed', error: { code: 'BUILD_INTERRUPTED', message: expect.stringMatching(/stopped and started again while the build was building/) } });
      expect(second.output()).toMatch(/ended builds an earlier run of this instance left running/);
    } finally {
      await second.stop();
    }
  });
});

