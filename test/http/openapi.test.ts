// The builds API against its OpenAPI document: a real demo server (real Nix) is driven through
// every operation, and every real response — status, headers, content type, body — is checked
// by the generic checker against what the document says for that operation and status. Requests
// are checked against the document too, so that "invalid" means invalid to both. Builds are
// waited for by following their logs (the server ends the stream when the build ends), never by
// timers; slow-demo is always cancelled.
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_STATUSES, isFinal, type BuildRecord, type BuildStatus } from '../../src/builds/record.js';
import type { BuilderType, BuildPage, BuildStats } from '../../src/builds/types.js';
import { OPENAPI_DOCUMENT, type HttpMethod } from '../../src/http/openapi.js';
import type { AppView } from '../../src/apps/app.js';
import type { ConnectedApp } from '../../src/apps/connected-apps.js';
import { githubSignature } from '../../src/webhooks/signatures.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { openApiChecker, type WireRequest, type WireResponse } from '../helpers/openapi-check.js';

type DemoServer = Awaited<ReturnType<typeof startDemoServer>>;

const checker = openApiChecker(OPENAPI_DOCUMENT);
/** A well-formed id no build has. */
const UNKNOWN_ID = '20000101T000000000Z-00000000';
const IN_PROGRESS = BUILD_STATUSES.filter((status) => !isFinal(status));

interface Sent extends WireResponse {
  headers: Headers;
  json<T>(): T;
}

/** Sends a request for operation `method template` to `base`; `rawBody` is sent as JSON text unchecked. */
async function send(base: string, method: HttpMethod, template: string, request: WireRequest & { rawBody?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(request.path?.[name] ?? ''));
  const query = new URLSearchParams(request.query ?? {}).toString();
  const body = request.rawBody ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
  const res = await fetch(`${base}${path}${query === '' ? '' : `?${query}`}`, {
    method: method.toUpperCase(),
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...request.headers },
    body,
    redirect: 'manual',
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text, json: <T>() => JSON.parse(text) as T };
}

/** The response's status is `status` and everything about it is as the document says. */
function expectDocumented(method: HttpMethod, template: string, res: WireResponse, status: number): void {
  expect(res.status, `${method.toUpperCase()} ${template}: ${res.body.slice(0, 500)}`).toBe(status);
  expect(checker.checkResponse(method, template, res), `${method.toUpperCase()} ${template} ${status}`).toEqual([]);
}

/** The error code of a (documented) error response. */
const errorCode = (res: Sent) => res.json<{ errors: { code: string }[] }>().errors[0]?.code;

describe('builds API against its OpenAPI document (demo package set, real Nix)', () => {
  let server: DemoServer;
  const ids: Record<'hello' | 'failing' | 'retried' | 'slow', string> = { hello: '', failing: '', retried: '', slow: '' };

  /** Sends a request the document says is valid, and checks the response against the document. */
  async function call(method: HttpMethod, template: string, request: WireRequest & { headers?: Record<string, string> }, status: number): Promise<Sent> {
    expect(checker.checkRequest(method, template, request), `request ${method.toUpperCase()} ${template}`).toEqual([]);
    const res = await send(server.url, method, template, request);
    expectDocumented(method, template, res, status);
    return res;
  }

  /** Sends a request the document says is invalid; the server must answer `status` `code`, documented. */
  async function refused(method: HttpMethod, template: string, request: WireRequest, status: number, code: string): Promise<void> {
    expect(checker.checkRequest(method, template, request), `request ${method.toUpperCase()} ${template} ${JSON.stringify(request)} is invalid by the document`).not.toEqual([]);
    const res = await send(server.url, method, template, request);
    expectDocumented(method, template, res, status);
    expect(errorCode(res), JSON.stringify(request)).toBe(code);
  }

  async function create(image: string): Promise<BuildRecord> {
    const res = await call('post', '/v1/builds', { body: { image } }, 202);
    const record = res.json<BuildRecord>();
    expect(res.headers.get('location')).toBe(`/v1/builds/${record.id}`);
    expect(record).toMatchObject({ image, tag: 'latest', trigger: 'api', retryOf: null });
    return record;
  }

  /** Follows the build's log to its end (the server ends the response when the build ends); the log and the final record. */
  async function followToEnd(id: string): Promise<{ log: string; record: BuildRecord }> {
    const res = await call('get', '/v1/builds/{id}/logs', { path: { id }, query: { follow: '1' } }, 200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const record = (await call('get', '/v1/builds/{id}', { path: { id } }, 200)).json<BuildRecord>();
    expect(isFinal(record.status), `${id} is ${record.status} after its log ended`).toBe(true);
    return { log: res.body, record };
  }

  beforeAll(async () => {
    server = await startDemoServer();
  });

  afterAll(async () => {
    if (!server) return;
    // Never leave slow-demo (600 s) running, whatever failed above.
    const page = await send(server.url, 'get', '/v1/builds', { query: { status: IN_PROGRESS.join(','), limit: '100' } });
    if (page.status === 200) {
      for (const build of page.json<BuildPage>().builds) await send(server.url, 'post', '/v1/builds/{id}/cancel', { path: { id: build.id } });
    }
    await server.close();
  });

  it('GET /v1/openapi.json serves this document', async () => {
    const res = await call('get', '/v1/openapi.json', {}, 200);
    expect(res.json()).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  });

  it('POST /v1/builds: 202, Location, an api record; the log shows the phases; the record ends succeeded with layers', async () => {
    const created = await create('hello');
    ids.hello = created.id;
    expect(created.phases[0]?.status).toBe('queued');
    const { log, record } = await followToEnd(created.id);
    expect(record.status, log).toBe('succeeded');
    expect(record.layers.length).toBeGreaterThan(0);
    expect(record.manifestDigest).toMatch(/^sha256:/);
    expect(record.error).toBeNull();
    expect(record.finishedAt).not.toBeNull();
    expect(log).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] /m);
  });

  it('GET /v1/builds/{id} and GET /v1/builds/{id}/logs (plain): record, text/plain log with X-Build-Status', async () => {
    const record = (await call('get', '/v1/builds/{id}', { path: { id: ids.hello } }, 200)).json<BuildRecord>();
    expect(record.id).toBe(ids.hello);
    const logs = await call('get', '/v1/builds/{id}/logs', { path: { id: ids.hello } }, 200);
    expect(logs.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(logs.headers.get('x-build-status')).toBe('succeeded');
    expect(logs.body).toContain('succeeded');
  });

  it('a failing build ends failed with NIX_BUILD_FAILED and Nix’s output in its log; retry answers 202 with retryOf', async () => {
    const created = await create('failing-demo');
    ids.failing = created.id;
    const { log, record } = await followToEnd(created.id);
    expect(record.status).toBe('failed');
    expect(record.error?.code).toBe('NIX_BUILD_FAILED');
    expect(log).toContain('failing-demo: error: this package is meant to fail to build');

    const retry = await call('post', '/v1/builds/{id}/retry', { path: { id: ids.failing } }, 202);
    const retried = retry.json<BuildRecord>();
    ids.retried = retried.id;
    expect(retried.id).not.toBe(ids.failing);
    expect(retried).toMatchObject({ image: 'failing-demo', retryOf: ids.failing, trigger: 'api' });
    expect(retry.headers.get('location')).toBe(`/v1/builds/${retried.id}`);
    expect((await followToEnd(retried.id)).record.status).toBe('failed');
  });

  it('409 for cancelling a finished build (BUILD_FINISHED) and retrying a succeeded one (BUILD_NOT_RETRYABLE)', async () => {
    const cancel = await call('post', '/v1/builds/{id}/cancel', { path: { id: ids.hello } }, 409);
    expect(errorCode(cancel)).toBe('BUILD_FINISHED');
    const retry = await call('post', '/v1/builds/{id}/retry', { path: { id: ids.hello } }, 409);
    expect(errorCode(retry)).toBe('BUILD_NOT_RETRYABLE');
  });

  it('slow-demo: a second POST joins the running build; following its log streams until cancel stops it', async () => {
    const created = await create('slow-demo');
    ids.slow = created.id;
    const again = (await call('post', '/v1/builds', { body: { image: 'slow-demo' } }, 202)).json<BuildRecord>();
    expect(again.id).toBe(created.id);

    // Headers arrive while the build runs; the body only ends once it has stopped.
    const res = await fetch(`${server.url}/v1/builds/${created.id}/logs?follow=1`);
    const status = res.headers.get('x-build-status') as BuildStatus;
    expect(IN_PROGRESS).toContain(status);
    const text = res.text();

    const cancel = await call('post', '/v1/builds/{id}/cancel', { path: { id: created.id } }, 200);
    expect(cancel.json<BuildRecord>().status).toBe('cancelled');
    const followed: WireResponse = { status: res.status, headers: res.headers, body: await text };
    expectDocumented('get', '/v1/builds/{id}/logs', followed, 200);
    const record = (await call('get', '/v1/builds/{id}', { path: { id: created.id } }, 200)).json<BuildRecord>();
    expect(record.status).toBe('cancelled');
    expect(record.finishedAt).not.toBeNull();
  });

  it('404 BUILD_UNKNOWN from every operation on a build id nobody has', async () => {
    for (const id of [UNKNOWN_ID, 'no-such-build']) {
      for (const [method, template] of [
        ['get', '/v1/builds/{id}'],
        ['get', '/v1/builds/{id}/logs'],
        ['post', '/v1/builds/{id}/cancel'],
        ['post', '/v1/builds/{id}/retry'],
      ] as const) {
        const res = await call(method, template, { path: { id } }, 404);
        expect(errorCode(res), `${method} ${template} ${id}`).toBe('BUILD_UNKNOWN');
      }
    }
  });

  it('400 for invalid query parameters and bodies, with the code the document names', async () => {
    for (const limit of ['0', '101', 'ten', '1.5']) await refused('get', '/v1/builds', { query: { limit } }, 400, 'PARAMETER_INVALID');
    for (const status of ['done', 'failed,done', 'failed,']) await refused('get', '/v1/builds', { query: { status } }, 400, 'PARAMETER_INVALID');
    await refused('get', '/v1/builds', { query: { cursor: 'page-2' } }, 400, 'PARAMETER_INVALID');
    await refused('get', '/v1/builds', { query: { image: 'Shell/Git' } }, 400, 'NAME_INVALID');
    await refused('get', '/v1/builds/{id}/logs', { path: { id: ids.hello }, query: { follow: 'yes' } }, 400, 'PARAMETER_INVALID');
    await refused('post', '/v1/builds', { body: {} }, 400, 'PARAMETER_INVALID');
    await refused('post', '/v1/builds', { body: ['hello'] }, 400, 'PARAMETER_INVALID');
    await refused('post', '/v1/builds', { body: { image: 42 } }, 400, 'PARAMETER_INVALID');
    await refused('post', '/v1/builds', { body: { image: 'hello', arch: 'mips' } }, 400, 'PARAMETER_INVALID');
    await refused('post', '/v1/builds', { body: { image: 'hello', tags: 'v1' } }, 400, 'PARAMETER_INVALID');
    await refused('post', '/v1/builds', { body: { image: 'Hello!' } }, 400, 'NAME_INVALID');
    await refused('post', '/v1/builds', { body: { image: 'hello', tag: '-x' } }, 400, 'TAG_INVALID');
    const notJson = await send(server.url, 'post', '/v1/builds', { rawBody: '{"image": ' });
    expectDocumented('post', '/v1/builds', notJson, 400);
    expect(errorCode(notJson)).toBe('PARAMETER_INVALID');
  });

  it('GET /v1/builds: newest first, filtered by status and image, paged by cursor', async () => {
    const all = (await call('get', '/v1/builds', { query: { limit: '100' } }, 200)).json<BuildPage>();
    const allIds = all.builds.map((build) => build.id);
    expect(all.next).toBeNull();
    expect(allIds).toEqual([ids.slow, ids.retried, ids.failing, ids.hello]);
    expect(allIds).toEqual([...allIds].sort().reverse());

    const failed = (await call('get', '/v1/builds', { query: { status: 'failed' } }, 200)).json<BuildPage>();
    expect(failed.builds.map((build) => build.id)).toEqual([ids.retried, ids.failing]);
    const ended = (await call('get', '/v1/builds', { query: { status: 'failed,cancelled' } }, 200)).json<BuildPage>();
    expect(ended.builds.map((build) => build.id)).toEqual([ids.slow, ids.retried, ids.failing]);
    const hello = (await call('get', '/v1/builds', { query: { image: 'hello' } }, 200)).json<BuildPage>();
    expect(hello.builds.map((build) => build.id)).toEqual([ids.hello]);
    const none = (await call('get', '/v1/builds', { query: { image: 'shell/git' } }, 200)).json<BuildPage>();
    expect(none).toEqual({ builds: [], next: null });
    const combined = (await call('get', '/v1/builds', { query: { status: 'failed', image: 'hello' } }, 200)).json<BuildPage>();
    expect(combined.builds).toEqual([]);

    const paged: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < allIds.length + 1; page++) {
      const query: Record<string, string> = cursor === null ? { limit: '1' } : { limit: '1', cursor };
      const body = (await call('get', '/v1/builds', { query }, 200)).json<BuildPage>();
      paged.push(...body.builds.map((build) => build.id));
      cursor = body.next;
      if (cursor === null) break;
    }
    expect(paged).toEqual(allIds);
    expect(cursor).toBeNull();
    const failedPaged = (await call('get', '/v1/builds', { query: { status: 'failed', limit: '1' } }, 200)).json<BuildPage>();
    expect(failedPaged).toMatchObject({ builds: [{ id: ids.retried }], next: ids.retried });
    const failedRest = (await call('get', '/v1/builds', { query: { status: 'failed', limit: '1', cursor: ids.retried } }, 200)).json<BuildPage>();
    expect(failedRest).toMatchObject({ builds: [{ id: ids.failing }], next: null });
  });

  it('GET /v1/builds/builder-types names the kinds of build, nixpacks with its version and providers', async () => {
    const { builders } = (await call('get', '/v1/builds/builder-types', {}, 200)).json<{ builders: BuilderType[] }>();
    expect(builders.map((builder) => builder.kind)).toEqual(['packages', 'nixpacks']);
    expect(builders[1]).toMatchObject({ version: '1.41.0', available: true, names: 'apps/…' });
    expect(builders[1]?.providers).toEqual(expect.arrayContaining(['node', 'python']));
  });

  it('GET /v1/builds/queue/stats counts the builds above; nothing runs any more', async () => {
    const stats = (await call('get', '/v1/builds/queue/stats', {}, 200)).json<BuildStats>();
    expect(stats).toMatchObject({ window: 4, succeeded: 1, failed: 2, cancelled: 1, queued: 0, running: 0 });
    expect(stats.counts).toMatchObject({ succeeded: 1, failed: 2, cancelled: 1 });
    expect(stats.averageDurationMs.total).toBeGreaterThan(0);
    expect(stats.instance).toMatchObject({ running: 0, queued: 0 });
    expect(stats.instance.maxBuilds).toBeGreaterThan(0);
  });

  it('/v1/apps: connect, list, show, change, disconnect and webhook deliveries, each status as documented', async () => {
    const repo = 'https://bot:s3cret@git.example.com/acme/shop.git';
    const connected = (await call('post', '/v1/apps', { body: { repo, image: 'apps/acme/web', branches: ['main'] } }, 201)).json<ConnectedApp>();
    expect(connected).toMatchObject({ repo: 'https://***@git.example.com/acme/shop.git', webhookSecret: expect.any(String) });
    const app = { app: connected.id };
    expect(errorCode(await call('post', '/v1/apps', { body: { repo, image: 'apps/acme/web' } }, 409))).toBe('APP_EXISTS');
    expect(errorCode(await call('post', '/v1/apps', { body: { repo, image: 'web' } }, 400))).toBe('NAME_INVALID');
    await refused('post', '/v1/apps', { body: { image: 'apps/acme/other' } }, 400, 'PARAMETER_INVALID');
    const other = (await call('post', '/v1/apps', { body: { repo, image: 'apps/acme/api' } }, 201)).json<ConnectedApp>();
    expect((await call('get', '/v1/apps', {}, 200)).json<{ apps: AppView[] }>().apps.map((view) => view.image)).toEqual(['apps/acme/api', 'apps/acme/web']);
    expect((await call('get', '/v1/apps/{app}', { path: app }, 200)).json<AppView>()).not.toHaveProperty('webhookSecret');
    expect(errorCode(await call('get', '/v1/apps/{app}', { path: { app: 'app-0000000000' } }, 404))).toBe('APP_UNKNOWN');
    expect((await call('patch', '/v1/apps/{app}', { path: app, body: { tags: true } }, 200)).json<AppView>().tags).toBe(true);
    expect(errorCode(await call('patch', '/v1/apps/{app}', { path: app, body: { image: 'apps/acme/api' } }, 409))).toBe('APP_EXISTS');
    await refused('patch', '/v1/apps/{app}', { path: app, body: { branches: 'main' } }, 400, 'PARAMETER_INVALID');
    expect(errorCode(await call('patch', '/v1/apps/{app}', { path: { app: 'app-0000000000' }, body: { tags: true } }, 404))).toBe('APP_UNKNOWN');

    const ping = JSON.stringify({ zen: 'Design for failure.', hook_id: 1 });
    const signed = (body: string, secret = connected.webhookSecret ?? '') => ({ 'X-GitHub-Event': 'ping', 'X-Hub-Signature-256': githubSignature(secret, body) });
    const webhook = (headers: Record<string, string>, body: string, target = app) => send(server.url, 'post', '/v1/apps/{app}/webhook', { path: target, rawBody: body, headers });
    expectDocumented('post', '/v1/apps/{app}/webhook', await webhook(signed(ping), ping), 200);
    const feature = JSON.stringify({ ref: 'refs/heads/feature', before: '0'.repeat(40), after: 'a'.repeat(40), head_commit: { id: 'a'.repeat(40) }, repository: { clone_url: 'https://git.example.com/acme/shop.git', default_branch: 'main' } });
    const ignored = await webhook({ ...signed(feature), 'X-GitHub-Event': 'push' }, feature);
    expectDocumented('post', '/v1/apps/{app}/webhook', ignored, 202);
    expect(ignored.json<{ ignored: string }>().ignored).toContain('is not watched');
    expectDocumented('post', '/v1/apps/{app}/webhook', await webhook(signed(ping, 'not-the-secret-at-all'), ping), 401);
    expectDocumented('post', '/v1/apps/{app}/webhook', await webhook({}, ping), 400);
    expectDocumented('post', '/v1/apps/{app}/webhook', await webhook(signed(ping), ping, { app: 'app-0000000000' }), 404);

    await call('delete', '/v1/apps/{app}', { path: { app: other.id } }, 204);
    expect(errorCode(await call('delete', '/v1/apps/{app}', { path: { app: other.id } }, 404))).toBe('APP_UNKNOWN');
  });

  it('every documented status of every operation was seen (401 and 403 in the next block)', () => {
    const missing = checker
      .operations()
      .flatMap(({ method, path, operation }) =>
        Object.keys(operation.responses)
          .filter((status) => /^\d{3}$/.test(status) && status !== '401' && status !== '403')
          .map((status) => `${method.toUpperCase()} ${path} ${status}`),
      )
      .filter((key) => !checker.seen.has(key));
    expect(missing).toEqual([]);
  });
});

describe('builds API with access control (token mode) against its OpenAPI document', () => {
  let server: DemoServer;
  const authorization = `Basic ${Buffer.from('alice:secret').toString('base64')}`;

  beforeAll(async () => {
    const htpasswd = await writeHtpasswd({ alice: 'secret', carol: 'c-secret' });
    const accessFile = join(dirname(htpasswd), 'access');
    // hello, shell and apps are protected; alice is granted hello and carol's app apps/acme/shop, carol everything.
    await writeFile(accessFile, 'alice: hello, apps/acme/shop\ncarol: *\n');
    server = await startDemoServer({ NIXYARD_AUTH: 'token', NIXYARD_HTPASSWD: htpasswd, NIXYARD_AUTH_PREFIXES: 'hello,shell,apps', NIXYARD_ACCESS_FILE: accessFile });
  });
  afterAll(async () => server?.close());

  it('401 UNAUTHORIZED with the Basic challenge for every operation without credentials, except open ones', async () => {
    for (const { method, path, operation } of checker.operations()) {
      const res = await send(server.url, method, path, { path: { id: UNKNOWN_ID, app: 'app-0000000000' }, ...(method === 'post' && path === '/v1/builds' ? { body: { image: 'hello' } } : {}) });
      if (operation.security?.length === 0) {
        // Open to everyone: the document, and forges' deliveries (which prove themselves by signature).
        if (path === '/v1/openapi.json') expectDocumented(method, path, res, 200);
        continue;
      }
      expectDocumented(method, path, res, 401);
      expect(errorCode(res)).toBe('UNAUTHORIZED');
    }
    const wrong = await send(server.url, 'get', '/v1/builds', { headers: { authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` } });
    expectDocumented('get', '/v1/builds', wrong, 401);
  });

  it('Basic credentials and a Bearer token from GET /token are both accepted', async () => {
    const basic = await send(server.url, 'get', '/v1/builds', { headers: { authorization } });
    expectDocumented('get', '/v1/builds', basic, 200);
    const token = await fetch(`${server.url}/token?service=nixyard`, { headers: { authorization } });
    expect(token.status).toBe(200);
    const { token: bearer } = (await token.json()) as { token: string };
    const res = await send(server.url, 'get', '/v1/builds/queue/stats', { headers: { authorization: `Bearer ${bearer}` } });
    expectDocumented('get', '/v1/builds/queue/stats', res, 200);
  });

  it('403 DENIED for builds and apps of names the access file does not grant the user', async () => {
    const carol = { authorization: `Basic ${Buffer.from('carol:c-secret').toString('base64')}` };
    const repo = 'https://git.example.com/acme/shop.git';
    const app = (await send(server.url, 'post', '/v1/apps', { headers: carol, body: { repo, image: 'apps/acme/shop' } })).json<ConnectedApp>();
    const denied = [
      await send(server.url, 'post', '/v1/builds', { headers: { authorization }, body: { image: 'hello/shell' } }),
      await send(server.url, 'post', '/v1/apps', { headers: { authorization }, body: { repo, image: 'apps/acme/web' } }),
      await send(server.url, 'patch', '/v1/apps/{app}', { headers: { authorization }, path: { app: app.id }, body: { image: 'apps/acme/other' } }),
    ];
    const operations = [['post', '/v1/builds'], ['post', '/v1/apps'], ['patch', '/v1/apps/{app}']] as const;
    denied.forEach((res, i) => {
      const [method, path] = operations[i] ?? operations[0];
      expectDocumented(method, path, res, 403);
      expect(errorCode(res)).toBe('DENIED');
    });
    expect(denied[0]?.json<{ errors: { message: string }[] }>().errors[0]?.message).toBe('alice may not build hello/shell: hello/shell holds shell, which the access file does not grant alice');
    const missing = checker
      .operations()
      .filter(({ operation }) => '403' in operation.responses)
      .map(({ method, path }) => `${method.toUpperCase()} ${path} 403`)
      .filter((key) => !checker.seen.has(key));
    expect(missing).toEqual([]);
  });
});
