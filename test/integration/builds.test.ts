// Build records with real Nix on the demo package set: pulls leave records, logs are followed
// while Nix builds, cancel stops Nix, retry runs a failed build again, NIXYARD_MAX_BUILDS queues,
// and the API and pages are behind access control when it is on.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { phaseDurations, type BuildRecord } from '../../src/builds/record.js';
import type { BuildPage, BuildStats } from '../../src/builds/types.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { writeHtpasswd, writeTokenKey } from '../helpers/htpasswd.js';

type DemoServer = Awaited<ReturnType<typeof startDemoServer>>;

async function api<T>(server: DemoServer, path: string, init: RequestInit = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, init);
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

const post = (server: DemoServer, path: string, body?: unknown) =>
  api<BuildRecord>(server, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

/** Follows a build's log to its end; returns the text and when each piece arrived. */
async function followLog(server: DemoServer, id: string): Promise<{ pieces: { text: string; at: number }[]; text: string }> {
  const res = await fetch(`${server.url}/v1/builds/${id}/logs?follow=1`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  const pieces: { text: string; at: number }[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) pieces.push({ text: decoder.decode(chunk, { stream: true }), at: Date.now() });
  return { pieces, text: pieces.map((piece) => piece.text).join('') };
}

const record = async (server: DemoServer, id: string) => (await api<BuildRecord>(server, `/v1/builds/${id}`)).body;

/** Processes whose command line contains `text` (the demo builders carry the test run's id). */
async function processesWith(text: string): Promise<string[]> {
  const found = await execa('pgrep', ['-f', '-a', text], { reject: false });
  return found.stdout.split('\n').filter((line) => line.trim() !== '' && !line.includes('pgrep'));
}

describe('build records of a registry (real Nix)', () => {
  let server: DemoServer;
  beforeAll(async () => {
    server = await startDemoServer({ NIXYARD_MAX_BUILDS: '1' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('records a pull as a succeeded build with phase timings and a log', async () => {
    const pulled = await fetch(`${server.url}/v2/shell/hello/manifests/latest`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(pulled.status).toBe(200);
    const { body: page } = await api<BuildPage>(server, '/v1/builds?image=shell/hello');
    expect(page.builds).toHaveLength(1);
    const build = page.builds[0] as BuildRecord;
    expect(build).toMatchObject({ trigger: 'pull', status: 'succeeded', tag: 'latest', arch: 'amd64', attempts: 1, error: null, manifestDigest: pulled.headers.get('docker-content-digest') });
    expect(build.packages).toEqual(expect.arrayContaining(['bashInteractive', 'hello']));
    expect(build.revision).toMatch(/^path:sha256:/);
    expect(build.phases.map((phase) => phase.status)).toEqual(expect.arrayContaining(['queued', 'evaluating', 'packing', 'uploading', 'succeeded']));
    expect(phaseDurations(build, new Date()).evaluating).toBeGreaterThan(0);
    expect(build.layers.length).toBeGreaterThan(1);
    const log = await fetch(`${server.url}/v1/builds/${build.id}/logs`);
    expect(log.headers.get('x-build-status')).toBe('succeeded');
    const text = await log.text();
    expect(text).toContain('nix-build: evaluating');
    expect(text).toContain(`succeeded: manifest ${build.manifestDigest}`);
  });

  it('records a pull of a missing package as failed with the error code', async () => {
    const pulled = await fetch(`${server.url}/v2/shell/no-such-package/manifests/latest`);
    expect(pulled.status).toBe(404);
    const { body: page } = await api<BuildPage>(server, '/v1/builds?image=shell/no-such-package&status=failed');
    expect(page.builds).toHaveLength(1);
    expect(page.builds[0]).toMatchObject({ trigger: 'pull', status: 'failed', error: { code: 'MANIFEST_UNKNOWN', message: expect.stringContaining('no-such-package') } });
  });

  it('streams the log while Nix builds and ends the stream when the build ends', async () => {
    const created = await post(server, '/v1/builds', { image: 'ticker-demo' });
    expect(created.status).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/builds/${created.body.id}`);
    const { pieces, text } = await followLog(server, created.body.id);
    const steps = [...text.matchAll(/ticker-demo: step (\d) of 4/g)].map((match) => Number(match[1]));
    expect(steps).toEqual([1, 2, 3, 4]);
    const final = await record(server, created.body.id);
    expect(final.status).toBe('succeeded');
    // The first step reached the follower while the build was still running: it was streamed.
    const firstStep = pieces.find((piece) => piece.text.includes('step 1 of 4'));
    expect(firstStep?.at).toBeLessThan(Date.parse(final.finishedAt ?? ''));
    expect(pieces.length).toBeGreaterThan(2);
    expect(text.trimEnd().split('\n').at(-1)).toContain('succeeded: manifest');
  });

  it('queues builds beyond NIXYARD_MAX_BUILDS, and cancel stops the Nix build', async () => {
    const run = process.env['NIXYARD_DEMO_RUN'] ?? '';
    expect(run).not.toBe('');
    const slow = await post(server, '/v1/builds', { image: 'slow-demo' });
    const waiting = await post(server, '/v1/builds', { image: 'hello', tag: 'other' });
    expect(waiting.body.status).toBe('queued');
    await vi.waitFor(async () => expect(await processesWith(run)).not.toEqual([]), { timeout: 60_000, interval: 250 });
    const { body: stats } = await api<BuildStats>(server, '/v1/builds/queue/stats');
    expect(stats.instance).toMatchObject({ running: 1, queued: 1, maxBuilds: 1 });
    expect((await record(server, waiting.body.id)).status).toBe('queued');

    const cancelled = await post(server, `/v1/builds/${slow.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED' } });
    await vi.waitFor(async () => expect(await processesWith(run)).toEqual([]), { timeout: 15_000, interval: 250 });
    expect((await post(server, `/v1/builds/${slow.body.id}/cancel`)).body).toMatchObject({ errors: [{ code: 'BUILD_FINISHED' }] });

    // The queued build gets the slot and runs.
    await followLog(server, waiting.body.id);
    expect((await record(server, waiting.body.id)).status).toBe('succeeded');
  });

  it('retries a failed build: Nix runs again for a new record', async () => {
    const failed = await post(server, '/v1/builds', { image: 'failing-demo' });
    const first = await followLog(server, failed.body.id);
    expect(first.text).toContain('failing-demo: error: this package is meant to fail to build');
    expect(await record(server, failed.body.id)).toMatchObject({ status: 'failed', error: { code: 'NIX_BUILD_FAILED' } });

    const retried = await post(server, `/v1/builds/${failed.body.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ retryOf: failed.body.id, image: 'failing-demo', trigger: 'api' });
    const second = await followLog(server, retried.body.id);
    expect(second.text).toContain('failing-demo: compiling...');
    expect(await record(server, retried.body.id)).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'NIX_BUILD_FAILED' } });
  });

  it('answers bad requests with the parameter at fault', async () => {
    expect((await api(server, '/v1/builds?status=done')).body).toMatchObject({ errors: [{ code: 'PARAMETER_INVALID', message: expect.stringContaining('"done"') }] });
    expect((await api(server, '/v1/builds?limit=0')).status).toBe(400);
    expect((await post(server, '/v1/builds', { image: 'Shell' })).body).toMatchObject({ errors: [{ code: 'NAME_INVALID' }] });
    expect((await post(server, '/v1/builds', { image: 'hello', arch: 'riscv' })).body).toMatchObject({ errors: [{ code: 'PARAMETER_INVALID', message: expect.stringContaining('riscv') }] });
    expect((await post(server, '/v1/builds', { image: 'hello', tags: 'x' })).status).toBe(400);
    const notJson = await api(server, '/v1/builds', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson.body).toMatchObject({ errors: [{ code: 'PARAMETER_INVALID', message: 'the request body is not valid JSON' }] });
    expect((await api(server, '/v1/builds/20000101T000000000Z-00000000')).body).toMatchObject({ errors: [{ code: 'BUILD_UNKNOWN' }] });
    expect((await api(server, '/v1/nothing')).status).toBe(404);
  });
});

describe('builds API and pages with access control on', () => {
  let server: DemoServer;
  beforeAll(async () => {
    server = await startDemoServer({ NIXYARD_HTPASSWD: await writeHtpasswd({ alice: 'wonderland' }), NIXYARD_TOKEN_KEY: await writeTokenKey(), NIXYARD_AUTH_PREFIXES: 'private' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it('needs a user: Basic credentials or a token of a logged-in user', async () => {
    for (const path of ['/v1/builds', '/builds']) {
      const anonymous = await fetch(`${server.url}${path}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="nixyard"/);
    }
    expect((await fetch(`${server.url}/v1/builds`, { headers: basic('alice', 'nope') })).status).toBe(401);
    expect((await fetch(`${server.url}/v1/builds`, { headers: basic('alice', 'wonderland') })).status).toBe(200);
    expect((await fetch(`${server.url}/builds`, { headers: basic('alice', 'wonderland') })).status).toBe(200);

    const token = async (headers: Record<string, string>) => ((await (await fetch(`${server.url}/token?service=nixyard`, { headers })).json()) as { token: string }).token;
    expect((await fetch(`${server.url}/v1/builds`, { headers: { authorization: `Bearer ${await token(basic('alice', 'wonderland'))}` } })).status).toBe(200);
    const anonymousToken = await fetch(`${server.url}/v1/builds`, { headers: { authorization: `Bearer ${await token({})}` } });
    expect(anonymousToken.status).toBe(401);
    expect(await anonymousToken.json()).toMatchObject({ errors: [{ code: 'UNAUTHORIZED', message: expect.stringContaining('anonymous') }] });
    // The description of the API is public.
    expect((await fetch(`${server.url}/v1/openapi.json`)).status).toBe(200);
  });
});
