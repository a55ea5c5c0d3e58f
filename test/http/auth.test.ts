// Access control over HTTP: every status, challenge and error body of the token flow, basic
// mode, prefix-only protection and per-client build limits, against the real app with fixture
// packages (no Nix). Clocks are injected: nothing here waits for time to pass.
import bcrypt from 'bcryptjs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFilesystemStorage } from '../../storage/filesystem.js';
import type { Storage } from '../../storage/types.js';
import { createAccess, type AuthPolicy } from '../../src/auth/access.js';
import { parseAccessFile } from '../../src/auth/grants.js';
import { PasswordChecker } from '../../src/auth/htpasswd.js';
import { signToken, type TokenClaims } from '../../src/auth/token.js';
import type { BuiltLayers, ImageBuildRequest, ImageBuilder } from '../../src/builder/types.js';
import { BuildLimiter, type BuildLimits } from '../../src/builds/build-limits.js';
import { createBuildRunner } from '../../src/builds/build-runner.js';
import { ClientLimits } from '../../src/builds/client-limits.js';
import { BuildRecordStore } from '../../src/builds/record-store.js';
import { createImages } from '../../src/images/index.js';
import { createApp } from '../../src/http/app.js';
import type { ImageManifests } from '../../src/image/manifest.js';
import { silentLogger } from '../../src/log.js';
import { FixtureBuilder, type FixturePackage } from '../helpers/fixture-builder.js';
import { basicPackages } from '../helpers/registry-fixture.js';
import { StaticPackageSource } from '../helpers/static-source.js';

const HOST = 'registry.test';
const REALM = `http://${HOST}/token`;
const T0 = Date.parse('2026-03-01T12:00:00Z');
const KEY = Buffer.alloc(32, 42);

let packages: Record<string, FixturePackage>;
let passwords: PasswordChecker;

beforeAll(async () => {
  const basic = await basicPackages();
  // `private` and `corp` are packages too, so that protected names build.
  packages = { ...basic, private: basic['hello'] ?? [], corp: basic['hello'] ?? [] };
  const hash = (password: string) => bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$');
  passwords = await PasswordChecker.create(new Map([['alice', hash('secret')], ['bob', hash('hunter2')]]));
});

/** A builder that waits for the test before building (to hold builds running). */
class HeldBuilder implements ImageBuilder {
  readonly layout: ImageBuilder['layout'];
  private release: (() => void) | undefined;
  private readonly held = new Promise<void>((resolve) => (this.release = resolve));
  readonly entered: Promise<void>;
  private enter: (() => void) | undefined;

  constructor(private readonly inner: ImageBuilder) {
    this.layout = inner.layout;
    this.entered = new Promise<void>((resolve) => (this.enter = resolve));
  }

  async buildLayers(request: ImageBuildRequest): Promise<BuiltLayers> {
    this.enter?.();
    await this.held;
    return this.inner.buildLayers(request);
  }

  finish(): void {
    this.release?.();
  }
}

interface Options {
  auth?: Partial<AuthPolicy> | 'off';
  limits?: BuildLimits;
  /** Wraps the storage (e.g. to add signed download URLs). */
  storage?: (storage: Storage) => Storage;
  builder?: (inner: ImageBuilder) => ImageBuilder;
  architectures?: ('amd64' | 'arm64')[];
}

async function registry(options: Options = {}) {
  const fsStorage = await createFilesystemStorage(await mkdtemp(join(tmpdir(), 'nixyard-auth-')));
  const storage = options.storage ? options.storage(fsStorage) : fsStorage;
  const clock = { now: T0 };
  const auth: AuthPolicy | undefined =
    options.auth === 'off' ? undefined : { mode: 'token', passwords, prefixes: [], tokenKey: KEY, tokenTtlSeconds: 300, realmBase: undefined, ...options.auth };
  const access = auth && createAccess({ auth, log: silentLogger, now: () => clock.now });
  const limits = new ClientLimits(new BuildLimiter(options.limits ?? { maxConcurrent: 0, perMinute: 0 }, () => clock.now));
  const fixture = new FixtureBuilder(fsStorage, packages);
  const builder = options.builder ? options.builder(fixture) : fixture;
  const packageSource = new StaticPackageSource();
  const runner = createBuildRunner<ImageManifests>({ records: new BuildRecordStore(storage), maxBuilds: 4, logLimit: 1 << 20, log: silentLogger });
  const platforms = { defaultArch: 'amd64' as const, architectures: options.architectures ?? ['amd64' as const] };
  const { images } = createImages({ storage, builder, packageSource, platforms, runner, cacheSize: 100, limits, log: silentLogger });
  const app = createApp({ images, storage, packageSource, log: silentLogger, auth: access });
  const get = (path: string) => request(app).get(path).set('Host', HOST);
  const head = (path: string) => request(app).head(path).set('Host', HOST);
  /** A token from GET /token with Basic credentials (or none). */
  const token = async (scope: string | string[] | undefined, user?: string, password?: string) => {
    const req = get(`/token?service=nixyard${[scope ?? []].flat().map((value) => `&scope=${encodeURIComponent(value)}`).join('')}`);
    if (user !== undefined) req.auth(user, password ?? '');
    return req;
  };
  const tokenFor = async (scope: string, user = 'alice', password = 'secret') => {
    const res = await token(scope, user, password);
    expect(res.status).toBe(200);
    return res.body.token as string;
  };
  return { app, clock, get, head, token, tokenFor, fixture, storage };
}

function expectOciError(res: request.Response, status: number, code: string, message?: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.errors).toHaveLength(1);
  expect(res.body.errors[0].code).toBe(code);
  if (message) expect(res.body.errors[0].message).toMatch(message);
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as TokenClaims;
const BLOB = /^sha256:[0-9a-f]{64}$/;

describe('token mode, whole registry protected', () => {
  let r: Awaited<ReturnType<typeof registry>>;
  beforeAll(async () => {
    r = await registry();
  });

  it('anonymous GET /v2/ gets 401 UNAUTHORIZED with the Bearer challenge (docker login starts here)', async () => {
    const res = await r.get('/v2/');
    expectOciError(res, 401, 'UNAUTHORIZED', /authentication required: log in with docker login registry.test/);
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="nixyard"`);
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
    expect(res.body.errors[0].detail).toBeNull();
  });

  it('anonymous pulls get 401 with the scope to ask for, manifests, blobs and tags alike', async () => {
    for (const [path, name] of [
      ['/v2/shell/hello/manifests/latest', 'shell/hello'],
      [`/v2/hello/blobs/sha256:${'a'.repeat(64)}`, 'hello'],
      ['/v2/hello/tags/list', 'hello'],
    ] as const) {
      const res = await r.get(path);
      expectOciError(res, 401, 'UNAUTHORIZED', new RegExp(`authentication required to pull ${name}`));
      expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="nixyard",scope="repository:${name}:pull"`);
      expect(res.body.errors[0].detail).toEqual([{ Type: 'repository', Name: name, Action: 'pull' }]);
    }
    expect((await r.head('/v2/hello/manifests/latest')).status).toBe(401);
  });

  it('GET /token with the right Basic credentials issues a pull token that docker can use', async () => {
    const res = await r.token('repository:hello:pull', 'alice', 'secret');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ token: expect.any(String), access_token: res.body.token, expires_in: 300, issued_at: new Date(T0).toISOString(), scope: 'repository:hello:pull' });
    expect(claimsOf(res.body.token)).toMatchObject({ iss: 'nixyard', sub: 'alice', aud: 'nixyard', access: [{ type: 'repository', name: 'hello', actions: ['pull'] }] });

    const bearer = `Bearer ${res.body.token}`;
    const manifest = await r.get('/v2/hello/manifests/latest').set('Authorization', bearer);
    expect(manifest.status).toBe(200);
    const config = JSON.parse(manifest.text).config.digest as string;
    expect(config).toMatch(BLOB);
    expect((await r.get(`/v2/hello/blobs/${config}`).set('Authorization', bearer)).status).toBe(200);
    expect((await r.get('/v2/hello/tags/list').set('Authorization', bearer)).body).toEqual({ name: 'hello', tags: ['latest'] });
    expect((await r.get('/v2/').set('Authorization', bearer)).status).toBe(200);
  });

  it('docker login: a token without scope opens /v2/ only', async () => {
    const res = await r.token(undefined, 'alice', 'secret');
    expect(res.status).toBe(200);
    expect(claimsOf(res.body.token).access).toEqual([]);
    expect((await r.get('/v2/').set('Authorization', `Bearer ${res.body.token}`)).status).toBe(200);
    expect((await r.get('/v2/hello/manifests/latest').set('Authorization', `Bearer ${res.body.token}`)).status).toBe(403);
  });

  it('a wrong password or an unknown user gets the same 401, never saying which was wrong', async () => {
    const wrong = await r.token('repository:hello:pull', 'alice', 'nope');
    const unknown = await r.token('repository:hello:pull', 'mallory', 'secret');
    for (const res of [wrong, unknown]) {
      expectOciError(res, 401, 'UNAUTHORIZED', /^invalid username or password$/);
      expect(res.headers['www-authenticate']).toBe('Basic realm="nixyard",charset="UTF-8"');
    }
    expect(unknown.text).toBe(wrong.text);
  });

  it('anonymous GET /token is refused when every name is protected', async () => {
    const res = await r.token('repository:hello:pull');
    expectOciError(res, 401, 'UNAUTHORIZED', /every image of this registry needs credentials/);
  });

  it('a token for scope A used on name B gets 403 DENIED with insufficient_scope', async () => {
    const token = await r.tokenFor('repository:hello:pull');
    const res = await r.get('/v2/shell/hello/manifests/latest').set('Authorization', `Bearer ${token}`);
    expectOciError(res, 403, 'DENIED', /does not grant pull access to shell\/hello/);
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="nixyard",scope="repository:shell/hello:pull",error="insufficient_scope"`);
    expect(res.body.errors[0].detail).toEqual([{ Type: 'repository', Name: 'shell/hello', Action: 'pull' }]);
  });

  it('an expired token gets 401 with error="invalid_token"', async () => {
    const token = await r.tokenFor('repository:hello:pull');
    r.clock.now = T0 + 300_000;
    try {
      const res = await r.get('/v2/hello/manifests/latest').set('Authorization', `Bearer ${token}`);
      expectOciError(res, 401, 'UNAUTHORIZED', /the token has expired: get a new one from http:\/\/registry.test\/token/);
      expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="nixyard",scope="repository:hello:pull",error="invalid_token",error_description="the token has expired"`);
    } finally {
      r.clock.now = T0;
    }
  });

  it('forged, garbage and foreign-key tokens get 401 invalid_token', async () => {
    const token = await r.tokenFor('repository:hello:pull');
    const claims = claimsOf(token);
    const forged = await signToken({ ...claims, access: [{ type: 'repository', name: 'shell/hello', actions: ['pull'] }] }, Buffer.alloc(32, 1));
    for (const [bad, reason] of [
      [forged, 'bad signature'],
      ['garbage', 'not a signed token'],
      [`${token.split('.')[0]}.${token.split('.')[1]}.AAAA`, 'bad signature'],
    ] as const) {
      const res = await r.get('/v2/shell/hello/manifests/latest').set('Authorization', `Bearer ${bad}`);
      expectOciError(res, 401, 'UNAUTHORIZED', new RegExp(reason));
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });

  it('Basic credentials sent to /v2 in token mode get 401 pointing to the token endpoint', async () => {
    const res = await r.get('/v2/hello/manifests/latest').auth('alice', 'secret');
    expectOciError(res, 401, 'UNAUTHORIZED', /this registry takes Bearer tokens from http:\/\/registry.test\/token/);
  });

  it('grants pull only, whatever else is asked; malformed and foreign scopes are ignored', async () => {
    const res = await r.token(['repository:hello:pull,push', 'repository:shell/hello:*', 'registry:catalog:*', 'repository:Bad Name:pull', 'junk'], 'alice', 'secret');
    expect(res.status).toBe(200);
    expect(claimsOf(res.body.token).access).toEqual([
      { type: 'repository', name: 'hello', actions: ['pull'] },
      { type: 'repository', name: 'shell/hello', actions: ['pull'] },
    ]);
  });

  it('POST /token with grant_type=password (containerd) issues the same tokens; other grants are 405', async () => {
    const form = (fields: Record<string, string>) => request(r.app).post('/token').set('Host', HOST).type('form').send(fields);
    const ok = await form({ grant_type: 'password', username: 'alice', password: 'secret', service: 'nixyard', scope: 'repository:hello:pull repository:a:pull', client_id: 'containerd-client' });
    expect(ok.status).toBe(200);
    expect(ok.body.scope).toBe('repository:hello:pull repository:a:pull');
    expectOciError(await form({ grant_type: 'password', username: 'alice', password: 'bad', service: 'nixyard' }), 401, 'UNAUTHORIZED', /invalid username or password/);
    expectOciError(await form({ grant_type: 'refresh_token', refresh_token: 'x', service: 'nixyard' }), 405, 'UNSUPPORTED', /grant_type/);
  });

  it('percent-encoded names are judged as the routers decode them', async () => {
    const token = await r.tokenFor('repository:hello:pull');
    const res = await r.get('/v2/shell%2Fhello/manifests/latest').set('Authorization', `Bearer ${token}`);
    expectOciError(res, 403, 'DENIED');
    expectOciError(await r.get('/v2/%E0%A4%A/manifests/latest'), 400, 'NAME_INVALID');
  });

  it('unknown endpoints need a login before they say 404; pushes are 401 before 405', async () => {
    expectOciError(await r.get('/v2/_catalog'), 401, 'UNAUTHORIZED');
    const token = await r.tokenFor('repository:hello:pull');
    expectOciError(await r.get('/v2/_catalog').set('Authorization', `Bearer ${token}`), 404, 'NAME_UNKNOWN');
    expectOciError(await request(r.app).post('/v2/hello/blobs/uploads/').set('Host', HOST), 401, 'UNAUTHORIZED');
  });
});

describe('signed blob redirects with access control', () => {
  it('an authenticated blob GET is redirected to the signed URL; the redirect itself needs no registry auth', async () => {
    const r = await registry({
      storage: (inner) => Object.assign(Object.create(inner) as Storage, { downloadUrl: async (key: string) => `http://bucket.test/${key}?X-Goog-Signature=abc` }),
    });
    const token = await r.tokenFor('repository:hello:pull');
    const manifest = JSON.parse((await r.get('/v2/hello/manifests/latest').set('Authorization', `Bearer ${token}`)).text);
    const digest = manifest.layers[0].digest as string;
    expect((await r.get(`/v2/hello/blobs/${digest}`)).status).toBe(401);
    const res = await r.get(`/v2/hello/blobs/${digest}`).set('Authorization', `Bearer ${token}`).redirects(0);
    expect(res.status).toBe(307);
    expect(res.headers['location']).toBe(`http://bucket.test/layers/${digest.slice('sha256:'.length)}?X-Goog-Signature=abc`);
  });
});

describe('realm from NIXYARD_REALM', () => {
  it('uses the configured public base URL instead of the request Host', async () => {
    const r = await registry({ auth: { realmBase: 'https://registry.example.com' } });
    const res = await r.get('/v2/');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="https://registry.example.com/token",service="nixyard"');
  });
});

describe('token mode, prefixes protected', () => {
  let r: Awaited<ReturnType<typeof registry>>;
  beforeAll(async () => {
    r = await registry({ auth: { prefixes: ['private', 'corp'] } });
  });

  it('unprotected names are open without any token; names only starting like a prefix are not protected', async () => {
    expect((await r.get('/v2/hello/manifests/latest')).status).toBe(200);
    expect((await r.get('/v2/hello/tags/list')).status).toBe(200);
    // Not protected (privateer is not private/…): the registry answers, here that the package is unknown.
    expectOciError(await r.get('/v2/privateer/manifests/latest'), 404, 'MANIFEST_UNKNOWN');
  });

  it('/v2/ still challenges, so that docker login checks the password; an anonymous token opens it', async () => {
    const res = await r.get('/v2/');
    expectOciError(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="nixyard"`);
    const anonymous = await r.token(undefined);
    expect(anonymous.status).toBe(200);
    expect(claimsOf(anonymous.body.token).sub).toBe('');
    expect((await r.get('/v2/').set('Authorization', `Bearer ${anonymous.body.token}`)).status).toBe(200);
  });

  it('protected names: anonymous 401 with scope; an anonymous token is granted only the open names and still gets 401', async () => {
    const res = await r.get('/v2/private/hello/manifests/latest');
    expectOciError(res, 401, 'UNAUTHORIZED', /authentication required to pull private\/hello/);
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="nixyard",scope="repository:private/hello:pull"`);
    const anonymous = await r.token(['repository:private/hello:pull', 'repository:hello:pull']);
    expect(anonymous.status).toBe(200);
    expect(claimsOf(anonymous.body.token).access).toEqual([{ type: 'repository', name: 'hello', actions: ['pull'] }]);
    const again = await r.get('/v2/private/hello/manifests/latest').set('Authorization', `Bearer ${anonymous.body.token}`);
    expectOciError(again, 401, 'UNAUTHORIZED');
    expect((await r.get('/v2/hello/manifests/latest').set('Authorization', `Bearer ${anonymous.body.token}`)).status).toBe(200);
  });

  it('a user token pulls protected names, blobs included', async () => {
    const token = await r.tokenFor('repository:corp:pull');
    const manifest = await r.get('/v2/corp/manifests/latest').set('Authorization', `Bearer ${token}`);
    expect(manifest.status).toBe(200);
    const digest = JSON.parse(manifest.text).layers[0].digest as string;
    expect((await r.get(`/v2/corp/blobs/${digest}`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expectOciError(await r.get(`/v2/corp/blobs/${digest}`), 401, 'UNAUTHORIZED');
  });

  it('a protected package protects every name holding it: reordered, after arm64/, or as a package of a meta-package', async () => {
    const shell = await registry({ auth: { prefixes: ['shell', 'nano'] } });
    for (const name of ['shell/hello', 'hello/shell', 'arm64/hello/shell', 'hello/nano', 'nano/hello']) {
      const res = await shell.get(`/v2/${name}/manifests/latest`);
      expectOciError(res, 401, 'UNAUTHORIZED', new RegExp(`authentication required to pull ${name}`));
      expect(res.headers['www-authenticate']).toContain(`scope="repository:${name}:pull"`);
    }
    // An anonymous token is not granted them either; a user's token is.
    const anonymous = await shell.token(['repository:hello/shell:pull', 'repository:hello:pull']);
    expect(claimsOf(anonymous.body.token).access).toEqual([{ type: 'repository', name: 'hello', actions: ['pull'] }]);
    const token = await shell.tokenFor('repository:hello/shell:pull');
    // Past access control (this fixture set has no shell package, hence MANIFEST_UNKNOWN, not 401).
    expectOciError(await shell.get('/v2/hello/shell/manifests/latest').set('Authorization', `Bearer ${token}`), 404, 'MANIFEST_UNKNOWN');
    expect((await shell.get('/v2/hello/manifests/latest')).status).toBe(200);
  });

  it('the digests of a protected image are not served through an open name', async () => {
    const token = await r.tokenFor('repository:corp/hello:pull');
    const manifest = await r.get('/v2/corp/hello/manifests/latest').set('Authorization', `Bearer ${token}`);
    const digest = manifest.headers['docker-content-digest'] as string;
    const config = JSON.parse(manifest.text).config.digest as string;
    expect((await r.get('/v2/hello/manifests/latest')).status).toBe(200);
    expectOciError(await r.get(`/v2/hello/blobs/${config}`), 404, 'BLOB_UNKNOWN', /^no blob with digest sha256:[0-9a-f]{64} in hello: /);
    expectOciError(await r.get(`/v2/hello/manifests/${digest}`), 404, 'MANIFEST_UNKNOWN');
    expectOciError(await r.get(`/v2/privateer/blobs/${config}`), 404, 'BLOB_UNKNOWN');
  });

  it('an image’s referrers (its SBOMs) are visible exactly to those who may pull it', async () => {
    const token = await r.tokenFor('repository:corp/hello:pull');
    const digest = (await r.get('/v2/corp/hello/manifests/latest').set('Authorization', `Bearer ${token}`)).headers['docker-content-digest'] as string;
    const listed = await r.get(`/v2/corp/hello/referrers/${digest}`).set('Authorization', `Bearer ${token}`);
    expect(listed.status).toBe(200);
    const artifacts = (JSON.parse(listed.text) as { manifests: { digest: string }[] }).manifests;
    expect(artifacts).toHaveLength(2);
    const anonymous = await r.get(`/v2/corp/hello/referrers/${digest}`);
    expectOciError(anonymous, 401, 'UNAUTHORIZED');
    expect(anonymous.headers['www-authenticate']).toContain('scope="repository:corp/hello:pull"');
    // Through an open name: nothing, and the artifacts themselves are unknown there.
    expect(JSON.parse((await r.get(`/v2/hello/referrers/${digest}`)).text).manifests).toEqual([]);
    expectOciError(await r.get(`/v2/hello/manifests/${artifacts[0]?.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('wrong credentials are refused even for open names, and a bad token is not treated as anonymous', async () => {
    expectOciError(await r.token('repository:hello:pull', 'alice', 'wrong'), 401, 'UNAUTHORIZED', /invalid username or password/);
    expectOciError(await r.get('/v2/hello/manifests/latest').set('Authorization', 'Bearer not.a.token'), 401, 'UNAUTHORIZED');
  });
});

describe('grants of the access file', () => {
  let file = parseAccessFile('alice: corp\nbob: private, corp', 'access');
  let r: Awaited<ReturnType<typeof registry>>;
  beforeAll(async () => {
    r = await registry({ auth: { prefixes: ['private', 'corp'], grants: () => file } });
  });

  it('a token grants a user only the protected names her grants cover; others get 403 DENIED naming what is missing', async () => {
    const res = await r.token(['repository:corp:pull', 'repository:private/hello:pull', 'repository:hello/corp/private:pull', 'repository:hello:pull'], 'alice', 'secret');
    expect(claimsOf(res.body.token).access.map((entry) => entry.name)).toEqual(['corp', 'hello']);
    const token = res.body.token as string;
    expect((await r.get('/v2/corp/manifests/latest').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const denied = await r.get('/v2/hello/corp/private/manifests/latest').set('Authorization', `Bearer ${token}`);
    expectOciError(denied, 403, 'DENIED', /^alice may not pull hello\/corp\/private: hello\/corp\/private holds private, which the access file does not grant alice$/);
    expect(denied.body.errors[0].detail).toEqual([{ Type: 'repository', Name: 'hello/corp/private', Action: 'pull' }]);
    // bob holds both.
    const bob = await r.tokenFor('repository:hello/corp/private:pull', 'bob', 'hunter2');
    expect((await r.get('/v2/hello/corp/private/manifests/latest').set('Authorization', `Bearer ${bob}`)).status).toBe(200);
  });

  it('a changed file counts at once, also for tokens issued before it', async () => {
    const bob = await r.tokenFor('repository:private:pull', 'bob', 'hunter2');
    expect((await r.get('/v2/private/manifests/latest').set('Authorization', `Bearer ${bob}`)).status).toBe(200);
    file = parseAccessFile('bob: corp', 'access');
    expectOciError(await r.get('/v2/private/manifests/latest').set('Authorization', `Bearer ${bob}`), 403, 'DENIED', /bob may not pull private/);
    // Open names stay open to everyone.
    expect((await r.get('/v2/hello/manifests/latest').set('Authorization', `Bearer ${bob}`)).status).toBe(200);
  });

  it('basic mode, every name protected: a name is covered when each of its packages is granted', async () => {
    const basic = await registry({ auth: { mode: 'basic', grants: () => parseAccessFile('alice: hello, corp\n*: private', 'access') } });
    expect((await basic.get('/v2/corp/hello/manifests/latest').auth('alice', 'secret')).status).toBe(200);
    expect((await basic.get('/v2/private/manifests/latest').auth('bob', 'hunter2')).status).toBe(200);
    const denied = await basic.get('/v2/hello/manifests/latest').auth('bob', 'hunter2');
    expectOciError(denied, 403, 'DENIED', /^bob may not pull hello: the access file grants bob no prefix or packages that cover hello$/);
    expect(denied.headers['www-authenticate']).toBeUndefined();
  });
});

describe('basic mode', () => {
  let r: Awaited<ReturnType<typeof registry>>;
  beforeAll(async () => {
    r = await registry({ auth: { mode: 'basic' } });
  });

  it('asks for Basic credentials on /v2/ and every name', async () => {
    for (const path of ['/v2/', '/v2/hello/manifests/latest']) {
      const res = await r.get(path);
      expectOciError(res, 401, 'UNAUTHORIZED', /authentication required/);
      expect(res.headers['www-authenticate']).toBe('Basic realm="nixyard",charset="UTF-8"');
    }
  });

  it('serves with the right password; a wrong password or unknown user gets the same 401', async () => {
    expect((await r.get('/v2/').auth('alice', 'secret')).status).toBe(200);
    expect((await r.get('/v2/hello/manifests/latest').auth('bob', 'hunter2')).status).toBe(200);
    const wrong = await r.get('/v2/hello/manifests/latest').auth('alice', 'wrong');
    const unknown = await r.get('/v2/hello/manifests/latest').auth('eve', 'secret');
    expectOciError(wrong, 401, 'UNAUTHORIZED', /^invalid username or password$/);
    expect(unknown.text).toBe(wrong.text);
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="nixyard",charset="UTF-8"');
  });

  it('has no token endpoint, and refuses bearer tokens', async () => {
    expect((await r.get('/token')).status).toBe(404);
    expectOciError(await r.get('/v2/').set('Authorization', 'Bearer x.y.z'), 401, 'UNAUTHORIZED', /this registry takes Basic credentials/);
  });
});

describe('build limits', () => {
  it('429 TOOMANYREQUESTS with Retry-After once a client used its builds per minute; cached pulls never count', async () => {
    const r = await registry({ auth: 'off', limits: { maxConcurrent: 0, perMinute: 1 } });
    expect((await r.get('/v2/hello/manifests/latest')).status).toBe(200);
    expect((await r.get('/v2/hello/manifests/latest')).status).toBe(200);
    expect((await r.head('/v2/hello/manifests/latest')).status).toBe(200);
    const res = await r.get('/v2/hello/private/manifests/latest');
    expectOciError(res, 429, 'TOOMANYREQUESTS', /127\.0\.0\.1 started too many image builds \(NIXYARD_BUILD_RATE=1 per minute\): retry in 60 s/);
    expect(res.headers['retry-after']).toBe('60');
    r.clock.now = T0 + 60_000;
    expect((await r.get('/v2/hello/private/manifests/latest')).status).toBe(200);
    expect(r.fixture.builds).toBe(2);
  });

  it('counts per authenticated user, not per address', async () => {
    const r = await registry({ limits: { maxConcurrent: 0, perMinute: 1 } });
    const alice = await r.tokenFor('repository:hello:pull repository:corp:pull');
    const bob = await r.tokenFor('repository:private:pull', 'bob', 'hunter2');
    expect((await r.get('/v2/hello/manifests/latest').set('Authorization', `Bearer ${alice}`)).status).toBe(200);
    expect((await r.get('/v2/private/manifests/latest').set('Authorization', `Bearer ${bob}`)).status).toBe(200);
    expectOciError(await r.get('/v2/corp/manifests/latest').set('Authorization', `Bearer ${alice}`), 429, 'TOOMANYREQUESTS', /^alice started too many/);
  });

  it('a pull that builds every architecture of an index holds one slot and counts once', async () => {
    const r = await registry({ auth: 'off', limits: { maxConcurrent: 1, perMinute: 1 }, architectures: ['amd64', 'arm64'] });
    const index = await r.get('/v2/hello/manifests/latest').set('Accept', 'application/vnd.oci.image.index.v1+json');
    expect(index.status).toBe(200);
    expect(JSON.parse(index.text).manifests).toHaveLength(2);
    expect(r.fixture.builds).toBe(2);
    expectOciError(await r.get('/v2/corp/manifests/latest'), 429, 'TOOMANYREQUESTS', /NIXYARD_BUILD_RATE=1/);
  });

  it('429 while a client has NIXYARD_MAX_BUILDS_PER_CLIENT builds running', async () => {
    let held: HeldBuilder | undefined;
    const r = await registry({
      auth: 'off',
      limits: { maxConcurrent: 1, perMinute: 0 },
      builder: (inner) => (held = new HeldBuilder(inner)),
    });
    const first = r.get('/v2/hello/manifests/latest').then((res) => res);
    await held?.entered;
    const busy = await r.get('/v2/corp/manifests/latest');
    expectOciError(busy, 429, 'TOOMANYREQUESTS', /already has 1 image builds running \(NIXYARD_MAX_BUILDS_PER_CLIENT=1\)/);
    expect(busy.headers['retry-after']).toBe('10');
    held?.finish();
    expect((await first).status).toBe(200);
    expect((await r.get('/v2/corp/manifests/latest')).status).toBe(200);
  });
});
