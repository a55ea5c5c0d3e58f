// Access control end to end: real docker (with a throwaway client configuration, so the host's
// ~/.docker is untouched) and skopeo against demo servers with an htpasswd file made at test
// time: docker login + pull + run, wrong passwords, logout, prefix-only protection, grants of an
// access file (and digests that an open name does not hold), and blob
// downloads by signed-URL redirect from an emulated GCS bucket after authentication.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_COMMAND_TIMEOUT_MS, dockerRemoveImages, ensureDocker, runTool, type CommandResult, expectSuccess } from '../helpers/docker.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { startFakeGcs, writeServiceAccountKey } from '../helpers/fake-gcs.js';
import { writeHtpasswd, writeTokenKey } from '../helpers/htpasswd.js';
import { startProxy } from '../helpers/proxy.js';
import { requireTool } from '../helpers/tools.js';

const PASSWORD = 'correct horse battery staple';

function expectFailure(result: CommandResult, what: string, pattern: RegExp): void {
  expect(result.failed, `${what} should have failed:\n${result.all}`).toBe(true);
  expect(result.all).toMatch(pattern);
}

/** The docker CLI with its own configuration directory (credentials of `docker login` go there). */
async function dockerClient() {
  const config = await mkdtemp(join(tmpdir(), 'nixyard-docker-config-'));
  const run = async (args: readonly string[], input?: string): Promise<CommandResult> => {
    const result = await execa('docker', ['--config', config, ...args], { reject: false, all: true, timeout: DOCKER_COMMAND_TIMEOUT_MS, ...(input === undefined ? { stdin: 'ignore' as const } : { input }) });
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    return { exitCode: result.exitCode, stdout: text(result.stdout), stderr: text(result.stderr), all: text(result.all) || text(result.stderr), failed: result.failed };
  };
  return {
    run,
    login: (host: string, user: string, password: string) => run(['login', host, '-u', user, '--password-stdin'], password),
    logout: (host: string) => run(['logout', host]),
  };
}

const AUTH_ERROR = /unauthorized|authentication required|no basic auth credentials/i;

describe('pulls from a registry with access control', () => {
  let htpasswd: string;
  let tokenKey: string;
  const pulled: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    await requireTool('skopeo', 'apt-get install -y skopeo');
    htpasswd = await writeHtpasswd({ alice: PASSWORD, bob: 'another password' });
    tokenKey = await writeTokenKey();
  });

  afterAll(async () => {
    await dockerRemoveImages(pulled);
  });

  describe('whole registry protected (token mode)', () => {
    let server: Awaited<ReturnType<typeof startDemoServer>>;
    beforeAll(async () => {
      server = await startDemoServer({ NIXYARD_HTPASSWD: htpasswd, NIXYARD_TOKEN_KEY: tokenKey });
    });
    afterAll(async () => {
      await server?.close();
    });

    it('docker login with a wrong password fails; with the right one succeeds; pull and run work; logout locks out again', async () => {
      const docker = await dockerClient();
      const reference = `${server.host}/shell/hello:latest`;
      pulled.push(reference);
      await dockerRemoveImages([reference]);

      expectFailure(await docker.login(server.host, 'alice', 'wrong password'), 'docker login (wrong password)', /unauthorized|invalid username or password/i);
      expectFailure(await docker.login(server.host, 'mallory', PASSWORD), 'docker login (unknown user)', /unauthorized|invalid username or password/i);
      expectFailure(await docker.run(['pull', reference]), 'docker pull (anonymous)', AUTH_ERROR);

      const login = await docker.login(server.host, 'alice', PASSWORD);
      expectSuccess(login, 'docker login');
      expect(login.all).toContain('Login Succeeded');
      expectSuccess(await docker.run(['pull', reference]), 'docker pull');
      const hello = await docker.run(['run', '--rm', reference, 'hello']);
      expectSuccess(hello, 'docker run hello');
      expect(hello.stdout.trim()).toBe('Hello, world!');

      expectSuccess(await docker.logout(server.host), 'docker logout');
      await dockerRemoveImages([reference]);
      expectFailure(await docker.run(['pull', reference]), 'docker pull after logout', AUTH_ERROR);
    });

    it('skopeo with --creds inspects and copies; without or with wrong credentials it fails', async () => {
      const image = `docker://${server.host}/shell/hello:latest`;
      const inspect = await runTool('skopeo', ['inspect', '--tls-verify=false', '--creds', `alice:${PASSWORD}`, image]);
      expectSuccess(inspect, 'skopeo inspect --creds');
      expect(JSON.parse(inspect.stdout).Layers.length).toBeGreaterThan(1);
      const dir = await mkdtemp(join(tmpdir(), 'nixyard-skopeo-auth-'));
      expectSuccess(await runTool('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', `bob:another password`, image, `dir:${dir}`]), 'skopeo copy --src-creds');
      expectFailure(await runTool('skopeo', ['inspect', '--tls-verify=false', '--no-creds', image]), 'skopeo inspect (anonymous)', /unauthorized|authentication required/i);
      expectFailure(await runTool('skopeo', ['inspect', '--tls-verify=false', '--creds', 'alice:wrong', image]), 'skopeo inspect (wrong password)', /unauthorized|invalid username or password/i);
    });

    it('the error bodies are OCI errors naming what is missing or wrong', async () => {
      const anonymous = await request(server.url).get('/v2/shell/hello/manifests/latest');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe(`Bearer realm="${server.url}/token",service="nixyard",scope="repository:shell/hello:pull"`);
      expect(anonymous.body.errors[0]).toMatchObject({ code: 'UNAUTHORIZED', message: `authentication required to pull shell/hello: log in with docker login ${server.host}` });
      const wrong = await request(server.url).get('/token?service=nixyard&scope=repository:shell/hello:pull').auth('alice', 'nope');
      expect(wrong.status).toBe(401);
      expect(wrong.body.errors[0]).toMatchObject({ code: 'UNAUTHORIZED', message: 'invalid username or password' });
    });
  });

  describe('only a prefix protected', () => {
    it('anonymous docker pulls open names; protected names need docker login', async () => {
      // `shell` is protected: shell/hello needs a login, hello does not.
      const server = await startDemoServer({ NIXYARD_HTPASSWD: htpasswd, NIXYARD_AUTH_PREFIXES: 'shell' });
      try {
        const docker = await dockerClient();
        const open = `${server.host}/hello:latest`;
        const closed = `${server.host}/shell/hello:latest`;
        pulled.push(open, closed);
        await dockerRemoveImages([open, closed]);
        expectSuccess(await docker.run(['pull', open]), 'docker pull (open name, anonymous)');
        expectFailure(await docker.run(['pull', closed]), 'docker pull (protected name, anonymous)', AUTH_ERROR);
        expectFailure(await docker.login(server.host, 'alice', 'wrong password'), 'docker login (wrong password)', /unauthorized|invalid username or password/i);
        expectSuccess(await docker.login(server.host, 'alice', PASSWORD), 'docker login');
        expectSuccess(await docker.run(['pull', closed]), 'docker pull (protected name, logged in)');
        const hello = await docker.run(['run', '--rm', closed, 'hello']);
        expect(hello.stdout.trim()).toBe('Hello, world!');
      } finally {
        await server.close();
      }
    });
  });

  describe('grants of an access file', () => {
    it('docker as a user without the grant is denied; the image cannot be pulled by digest through an open name', async () => {
      const accessFile = join(await mkdtemp(join(tmpdir(), 'nixyard-access-')), 'access');
      await writeFile(accessFile, 'alice: shell\n');
      const server = await startDemoServer({ NIXYARD_HTPASSWD: htpasswd, NIXYARD_AUTH_PREFIXES: 'shell', NIXYARD_ACCESS_FILE: accessFile });
      try {
        const closed = `${server.host}/hello/shell:latest`;
        pulled.push(closed);
        await dockerRemoveImages([closed]);
        const bob = await dockerClient();
        expectSuccess(await bob.login(server.host, 'bob', 'another password'), 'docker login (bob)');
        expectFailure(await bob.run(['pull', closed]), 'docker pull (bob, not granted shell)', /denied|insufficient_scope|forbidden/i);

        const alice = await dockerClient();
        expectSuccess(await alice.login(server.host, 'alice', PASSWORD), 'docker login (alice)');
        expectSuccess(await alice.run(['pull', closed]), 'docker pull (alice, granted shell)');
        const inspect = await runTool('skopeo', ['inspect', '--tls-verify=false', '--creds', `alice:${PASSWORD}`, `docker://${closed}`]);
        expectSuccess(inspect, 'skopeo inspect (alice)');
        const digest = (JSON.parse(inspect.stdout) as { Digest: string }).Digest;

        // The digest is known now, but the open name hello does not hold it.
        const anonymous = await dockerClient();
        const byDigest = `${server.host}/hello@${digest}`;
        expectFailure(await anonymous.run(['pull', byDigest]), 'docker pull (the protected image by digest through an open name)', /manifest unknown|not found/i);
        expectFailure(await runTool('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${byDigest}`]), 'skopeo inspect (by digest through an open name)', /manifest unknown|not found/i);
      } finally {
        await server.close();
      }
    });
  });

  describe('GCS storage', () => {
    it('blobs come from the bucket by signed-URL redirect after the token check', async () => {
      const gcs = await startFakeGcs();
      const bucketProxy = await startProxy(gcs.endpoint);
      const bucket = await gcs.createBucket();
      const server = await startDemoServer({
        NIXYARD_HTPASSWD: htpasswd,
        NIXERY_STORAGE_BACKEND: 'gcs',
        GCS_BUCKET: bucket,
        NIXYARD_GCS_ENDPOINT: bucketProxy.url,
        GOOGLE_APPLICATION_CREDENTIALS: await writeServiceAccountKey(),
      });
      try {
        const docker = await dockerClient();
        const reference = `${server.host}/shell/hello:latest`;
        pulled.push(reference);
        // Layers docker already has (from the pulls above) are not downloaded again.
        await dockerRemoveImages(pulled);
        expectSuccess(await docker.login(server.host, 'alice', PASSWORD), 'docker login');
        const signed = () => bucketProxy.requests.filter((req) => req.method === 'GET' && req.path.includes('X-Goog-Signature=')).length;
        const before = signed();
        expectSuccess(await docker.run(['pull', reference]), 'docker pull (GCS)');
        const run = await docker.run(['run', '--rm', reference, 'hello']);
        expect(run.stdout.trim()).toBe('Hello, world!');
        // At least the image config (new to docker) came from the bucket.
        expect(signed() - before).toBeGreaterThanOrEqual(1);

        // The redirect is only given after the token check; the signed URL needs no registry credentials.
        const token = (await request(server.url).get('/token?service=nixyard&scope=repository:shell/hello:pull').auth('alice', PASSWORD)).body.token as string;
        const manifest = JSON.parse((await request(server.url).get('/v2/shell/hello/manifests/latest').set('Authorization', `Bearer ${token}`)).text) as { config: { digest: string } };
        const blobPath = `/v2/shell/hello/blobs/${manifest.config.digest}`;
        expect((await request(server.url).get(blobPath)).status).toBe(401);
        const redirect = await request(server.url).get(blobPath).set('Authorization', `Bearer ${token}`).redirects(0);
        expect(redirect.status).toBe(307);
        const location = redirect.headers['location'] as string;
        expect(location).toContain('X-Goog-Signature=');
        const download = await fetch(location);
        expect(download.status).toBe(200);
        const body = Buffer.from(await download.arrayBuffer());
        expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(manifest.config.digest);
      } finally {
        await server.close();
        await bucketProxy.close();
        await gcs.stop();
      }
    });
  });
});
