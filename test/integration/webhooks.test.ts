// Forge webhooks against a real registry with the git package source (a repository served by
// `git daemon` on 127.0.0.1) and real Nix: for GitHub, GitLab and Gitee, correctly signed
// pushes in the forges' documented payload shapes pre-build `hello` at the pushed commit (the
// build succeeds, the image is then served from cache), wrongly signed ones get 401 and queue
// nothing, other events, unwatched refs and deletions are ignored; with RabbitMQ, pushes become
// jobs on its queue.
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../src/builds/record.js';
import type { BuildPage } from '../../src/builds/types.js';
import type { WebhookResult } from '../../src/http/webhooks.js';
import type { Logger } from '../../src/log.js';
import { FORGES, type Forge } from '../../src/webhooks/push-events.js';
import { githubSignature } from '../../src/webhooks/signatures.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { signedPush as signForge, ZERO, type Delivery, type RefUpdate } from '../helpers/forge-payloads.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { startRabbitMq } from '../helpers/rabbitmq.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { countingNix, pullImage, setGreeting, writeDemoSet } from '../helpers/package-sets.js';

type DemoServer = Awaited<ReturnType<typeof startDemoServer>>;

const SECRET = `webhook-secret-${randomUUID()}`;

/** A delivery signed with the registry's secret unless `options` say otherwise. */
const signedPush = (forge: Forge, update: RefUpdate, options: { secret?: string; event?: string; giteePassword?: boolean; timestamp?: number } = {}): Delivery => signForge(forge, update, { ...options, secret: options.secret ?? SECRET });

async function deliver(server: DemoServer, forge: string, delivery: Delivery): Promise<{ status: number; body: WebhookResult & { errors?: { code: string; message: string }[] } }> {
  const res = await fetch(`${server.url}/v1/webhooks/${forge}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...delivery.headers }, body: delivery.body });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, body: (await res.json()) as WebhookResult & { errors?: { code: string; message: string }[] } };
}

async function buildIds(server: DemoServer): Promise<string[]> {
  const res = await fetch(`${server.url}/v1/builds?limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as BuildPage).builds.map((record) => record.id);
}

/** Follows a build's log until the server ends the stream (the build ended); returns the record then. */
async function followToEnd(server: DemoServer, id: string): Promise<{ log: string; record: BuildRecord }> {
  const res = await fetch(`${server.url}/v1/builds/${id}/logs?follow=1`);
  expect(res.status).toBe(200);
  const log = await res.text();
  const record = (await (await fetch(`${server.url}/v1/builds/${id}`)).json()) as BuildRecord;
  return { log, record };
}

/** A logger keeping its lines, to check what was logged about rejected deliveries. */
function recordingLogger(): Logger & { lines: { level: string; message: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('forge webhooks (git package source, real Nix)', () => {
  let repo: GitServer;
  let registry: DemoServer;
  const servers: DemoServer[] = [];
  const nix = countingNix();
  const log = recordingLogger();
  let storage: string;
  const env = (extra: Record<string, string> = {}) => ({
    NIXERY_PKGS_PATH: '',
    NIXERY_PKGS_REPO: repo.url,
    NIXYARD_SOURCE_TTL: '0',
    STORAGE_PATH: storage,
    NIXYARD_WEBHOOK_SECRET: SECRET,
    NIXYARD_PREBUILD: 'hello',
    NIXYARD_WEBHOOK_REFS: 'main,v*',
    ...extra,
  });
  const start = async (...args: Parameters<typeof startDemoServer>) => {
    const server = await startDemoServer(...args);
    servers.push(server);
    return server;
  };
  const head = async () => (await repo.git('rev-parse', 'HEAD')).trim();

  beforeAll(async () => {
    repo = await startGitServer();
    await writeDemoSet(repo.work, 'Hello from the first commit!');
    await repo.commit('first');
    await repo.push('main');
    storage = join(repo.work, '..', 'storage');
    registry = await start(env(), { nix, log });
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await repo?.close();
  });

  for (const forge of FORGES) {
    describe(forge, () => {
      it('a signed push of a watched branch pre-builds hello at the pushed commit; the image is then served from cache', async () => {
        const before = await head();
        await setGreeting(repo.work, `Hello from a push reported by ${forge}!`);
        const commit = await repo.commit(`change for ${forge}`);
        await repo.push('main');

        const answer = await deliver(registry, forge, signedPush(forge, { ref: 'refs/heads/main', before, after: commit, commit }));
        expect(answer.status, JSON.stringify(answer.body)).toBe(202);
        expect(answer.body.ignored).toBeNull();
        expect(answer.body.queued).toHaveLength(1);
        const queued = answer.body.queued[0] as BuildRecord;
        expect(queued).toMatchObject({ image: 'hello', tag: commit, trigger: 'webhook', revision: `git:${commit}` });

        const { log: buildLog, record } = await followToEnd(registry, queued.id);
        expect(record.status, buildLog).toBe('succeeded');
        expect(record).toMatchObject({ id: queued.id, trigger: 'webhook', tag: commit, error: null });
        expect(buildLog).toContain(`succeeded: manifest ${record.manifestDigest}`);

        const builds = nix.builds;
        const ids = await buildIds(registry);
        const image = await pullImage(registry.url, 'hello', commit);
        expect(image.status, image.body).toBe(200);
        expect(image.digest).toBe(record.manifestDigest);
        expect(image.text).toContain(`Hello from a push reported by ${forge}!`);
        expect((await pullImage(registry.url, 'hello', 'main')).digest).toBe(record.manifestDigest);
        expect(nix.builds).toBe(builds);
        expect(await buildIds(registry)).toEqual(ids);
      });

      it('a signed push of a watched tag pre-builds the commit the tag points to', async () => {
        // A commit that only the (annotated) tag reaches.
        await repo.git('checkout', '--quiet', '--detach');
        await setGreeting(repo.work, `Hello from a tag reported by ${forge}!`);
        const commit = await repo.commit(`tagged for ${forge}`);
        const tag = `v-${forge}`;
        await repo.git('tag', '--annotate', '--message', `release for ${forge}`, tag);
        await repo.git('checkout', '--quiet', 'main');
        await repo.push(tag);
        const tagObject = (await repo.git('rev-parse', tag)).trim();
        expect(tagObject).not.toBe(commit);

        const answer = await deliver(registry, forge, signedPush(forge, { ref: `refs/tags/${tag}`, before: ZERO, after: forge === 'gitee' ? commit : tagObject, commit }));
        expect(answer.status, JSON.stringify(answer.body)).toBe(202);
        expect(answer.body.queued).toHaveLength(1);
        const queued = answer.body.queued[0] as BuildRecord;
        expect(queued).toMatchObject({ image: 'hello', tag: commit, trigger: 'webhook' });
        const { log: buildLog, record } = await followToEnd(registry, queued.id);
        expect(record.status, buildLog).toBe('succeeded');
        const image = await pullImage(registry.url, 'hello', tag);
        expect(image.digest).toBe(record.manifestDigest);
        expect(image.text).toContain(`Hello from a tag reported by ${forge}!`);
      });

      it('wrongly signed deliveries get 401, are logged and queue nothing', async () => {
        const commit = await head();
        const update = { ref: 'refs/heads/main', before: ZERO, after: commit, commit };
        const ids = await buildIds(registry);
        const rejectedBefore = log.lines.filter((line) => line.message === 'webhook delivery rejected').length;

        const wrongSecret = signedPush(forge, update, { secret: `${SECRET}-not` });
        const signed = signedPush(forge, update);
        const withoutProof = { ...signed, headers: Object.fromEntries(Object.entries(signed.headers).filter(([name]) => !/Signature|Token/.test(name))) };
        const refused: Delivery[] = [wrongSecret, withoutProof];
        if (forge === 'github') refused.push({ ...signed, body: signed.body.replace(commit, 'f'.repeat(40)) }); // tampered body
        if (forge === 'gitee') {
          refused.push({ ...signed, headers: { ...signed.headers, 'X-Gitee-Timestamp': String(Number(signed.headers['X-Gitee-Timestamp']) + 1) } }); // tampered timestamp
          refused.push(signedPush(forge, update, { timestamp: Date.now() - 2 * 60 * 60 * 1000 })); // replayed: two hours old
        }
        for (const delivery of refused) {
          const answer = await deliver(registry, forge, delivery);
          expect(answer.status, JSON.stringify(answer.body)).toBe(401);
          expect(answer.body.errors?.[0]).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining(`${forge} webhook delivery refused`) });
        }
        expect(await buildIds(registry)).toEqual(ids);
        const rejected = log.lines.filter((line) => line.message === 'webhook delivery rejected').slice(rejectedBefore);
        expect(rejected).toHaveLength(refused.length);
        for (const line of rejected) expect(line).toMatchObject({ level: 'warn', fields: { forge, reason: expect.any(String), client: expect.stringContaining('127.0.0.1') } });
      });

      it('ignores other events, unwatched refs and deletions (202, nothing queued)', async () => {
        const commit = await head();
        const ids = await buildIds(registry);
        const otherEvent = forge === 'github' ? 'issues' : 'Issue Hook';
        const ignored = async (delivery: Delivery) => {
          const answer = await deliver(registry, forge, delivery);
          expect(answer.status, JSON.stringify(answer.body)).toBe(202);
          expect(answer.body.queued).toEqual([]);
          return answer.body.ignored;
        };

        expect(await ignored(signedPush(forge, { ref: 'refs/heads/main', before: ZERO, after: commit, commit }, { event: otherEvent }))).toBe(`event "${otherEvent}" is not a push: nothing to build`);

        await repo.git('branch', '--force', 'feature');
        await repo.push('feature');
        expect(await ignored(signedPush(forge, { ref: 'refs/heads/feature', before: ZERO, after: commit, commit }))).toBe('refs/heads/feature is not watched (NIXYARD_WEBHOOK_REFS=main,v*): nothing to build');

        await repo.push('--delete', 'feature');
        expect(await ignored(signedPush(forge, { ref: 'refs/heads/feature', before: commit, after: ZERO, commit: null }))).toBe('refs/heads/feature was deleted: nothing to build');
        expect(await ignored(signedPush(forge, { ref: 'refs/heads/main', before: commit, after: ZERO, commit: null }))).toBe('refs/heads/main was deleted: nothing to build');
        if (forge === 'gitee') {
          // Password mode: X-Gitee-Token is the secret itself.
          expect(await ignored(signedPush(forge, { ref: 'refs/heads/feature', before: ZERO, after: commit, commit }, { giteePassword: true }))).toContain('is not watched');
        }
        expect(await buildIds(registry)).toEqual(ids);
      });

      it('refuses a signed body that is not JSON with 400', async () => {
        const signed = signedPush(forge, { ref: 'refs/heads/main', before: ZERO, after: '1'.repeat(40), commit: null });
        const body = 'payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D';
        const headers = forge === 'github' ? { ...signed.headers, 'X-Hub-Signature-256': githubSignature(SECRET, body) } : signed.headers;
        const ids = await buildIds(registry);
        const answer = await deliver(registry, forge, { body, headers });
        expect(answer.status).toBe(400);
        expect(answer.body.errors?.[0]).toMatchObject({ code: 'PARAMETER_INVALID', message: expect.stringContaining('the body is not JSON') });
        expect(await buildIds(registry)).toEqual(ids);
      });
    });
  }

  it('answers GitHub ping with 200', async () => {
    const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 109948940, hook: { type: 'Repository', id: 109948940, events: ['push'], config: { content_type: 'json', url: `${registry.url}/v1/webhooks/github` } } });
    const answer = await deliver(registry, 'github', { body, headers: { 'X-GitHub-Event': 'ping', 'X-Hub-Signature-256': githubSignature(SECRET, body) } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ queued: [], ignored: expect.stringMatching(/^ping/) });
  });

  it('answers 404 for other forges', async () => {
    const answer = await deliver(registry, 'bitbucket', { body: '{}', headers: {} });
    expect(answer.status).toBe(404);
    expect(answer.body.errors?.[0]).toMatchObject({ code: 'ENDPOINT_UNKNOWN', message: expect.stringContaining('/v1/webhooks/github|gitlab|gitee') });
  });

  it('without NIXYARD_WEBHOOK_SECRET, webhooks are off: 404 saying how to turn them on', async () => {
    const off = await start({ NIXERY_PKGS_PATH: '', NIXERY_PKGS_REPO: repo.url, STORAGE_PATH: storage });
    const commit = await head();
    const answer = await deliver(off, 'github', signedPush('github', { ref: 'refs/heads/main', before: ZERO, after: commit, commit }));
    expect(answer.status).toBe(404);
    expect(answer.body.errors?.[0]).toMatchObject({ code: 'ENDPOINT_UNKNOWN', message: expect.stringContaining('set NIXYARD_WEBHOOK_SECRET') });
  });

  it('with access control on, deliveries need the webhook secret, not a user login', async () => {
    const guarded = await start(env({ NIXYARD_HTPASSWD: await writeHtpasswd({ alice: 'wonderland' }), NIXYARD_AUTH: 'basic' }), { nix });
    expect((await fetch(`${guarded.url}/v1/builds`)).status).toBe(401);
    const commit = await head();
    const answer = await deliver(guarded, 'gitlab', signedPush('gitlab', { ref: 'refs/heads/main', before: ZERO, after: commit, commit }));
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    expect(answer.body.queued).toEqual([expect.objectContaining({ image: 'hello', tag: commit, trigger: 'webhook' })]);
    // Built before on the same storage: the record succeeds at once (followed as alice).
    const id = (answer.body.queued[0] as BuildRecord).id;
    const alice = { Authorization: `Basic ${Buffer.from('alice:wonderland').toString('base64')}` };
    const followed = await fetch(`${guarded.url}/v1/builds/${id}/logs?follow=1`, { headers: alice });
    expect(followed.status).toBe(200);
    await followed.text();
    expect(((await (await fetch(`${guarded.url}/v1/builds/${id}`, { headers: alice })).json()) as BuildRecord).status).toBe('succeeded');
    const refused = await deliver(guarded, 'gitlab', signedPush('gitlab', { ref: 'refs/heads/main', before: ZERO, after: commit, commit }, { secret: 'wrong' }));
    expect(refused.status).toBe(401);
  });

  it('with NIXYARD_AMQP_URL, a push goes through RabbitMQ: the pre-build is a job a replica picks up; with the broker down, 503 and nothing queued', async () => {
    const broker = await startRabbitMq();
    try {
      const queued = await start(env({ NIXYARD_AMQP_URL: broker.url, STORAGE_PATH: await mkdtemp(join(tmpdir(), 'nixyard-webhook-queue-')) }), { nix });
      const before = await head();
      await setGreeting(repo.work, 'Hello through the queue!');
      const commit = await repo.commit('change for the queue');
      await repo.push('main');
      const answer = await deliver(queued, 'github', signedPush('github', { ref: 'refs/heads/main', before, after: commit, commit }));
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      expect(answer.body.queued).toEqual([expect.objectContaining({ image: 'hello', tag: commit, trigger: 'webhook', status: 'queued', instance: '' })]);
      const { log: buildLog, record } = await followToEnd(queued, (answer.body.queued[0] as BuildRecord).id);
      expect(record, buildLog).toMatchObject({ status: 'succeeded', trigger: 'webhook', attempts: 1 });
      expect(buildLog).toMatch(/queued: attempt 1 picked up by \S+/);
      expect((await pullImage(queued.url, 'hello', commit)).text).toContain('Hello through the queue!');

      await broker.stop();
      const ids = await buildIds(queued);
      const refused = await deliver(queued, 'github', signedPush('github', { ref: 'refs/heads/main', before, after: commit, commit }));
      expect(refused.status).toBe(503);
      expect(refused.body.errors?.[0]).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('did not take the build: not connected to RabbitMQ') });
      expect(await buildIds(queued)).toEqual(ids);
    } finally {
      await broker.stop();
    }
  }, 120_000);
});
