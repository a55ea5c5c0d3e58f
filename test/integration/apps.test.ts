// Connected repositories against a real registry building from source (real git daemon, real
// nixpacks, real bubblewrap, real Nix), pushing to Debian's reference registry and calling back
// a receiver on loopback: an app is connected once (its webhook secret shown once, never again),
// a signed push of its default branch builds the pushed commit, tags it <branch>-<sha7> and moves
// <branch> and latest, here and at the target; unwatched branches, deletions, other repositories,
// bad signatures and unknown apps each get their answer; a quick second push cancels the first
// push's build, whose tags never move back; the apps page shows the latest build per branch.
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppView } from '../../src/apps/app.js';
import type { ConnectedApp } from '../../src/apps/connected-apps.js';
import { isFinal, type BuildRecord } from '../../src/builds/record.js';
import type { CallbackPayload } from '../../src/notify/callback-message.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { signedPush, ZERO, type Delivery } from '../helpers/forge-payloads.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { startHookReceiver } from '../helpers/hook-receiver.js';
import { writeNodeApp } from '../helpers/sample-apps.js';
import { startTargetRegistry, type TargetRegistry } from '../helpers/target-registry.js';
import { requireTool } from '../helpers/tools.js';

type Server = Awaited<ReturnType<typeof startDemoServer>>;
type Answer<T> = { status: number; body: T & { errors?: { code: string; message: string }[] } };
const TOKEN = 'app-callback-token-0123456789';
const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');

describe('connected repositories (real git, nixpacks, bubblewrap, Nix, skopeo, docker-registry)', () => {
  let server: Server;
  let repo: GitServer;
  let other: GitServer;
  let target: TargetRegistry;
  let receiver: Awaited<ReturnType<typeof startHookReceiver<CallbackPayload>>>;
  let app: ConnectedApp;

  async function api<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const res = await fetch(`${server.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as Answer<T>['body'] };
  }

  async function deliver(id: string, delivery: Delivery): Promise<Answer<{ queued: BuildRecord[]; ignored: string | null }>> {
    const res = await fetch(`${server.url}/v1/apps/${id}/webhook`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...delivery.headers }, body: delivery.body });
    return { status: res.status, body: (await res.json()) as Answer<{ queued: BuildRecord[]; ignored: string | null }>['body'] };
  }

  const pushOf = (ref: string, before: string, commit: string, repository = repo.url) => signedPush('github', { ref, before, after: commit, commit, repository }, { secret: app.webhookSecret ?? '' });

  async function ended(id: string): Promise<BuildRecord> {
    return vi.waitFor(
      async () => {
        const record = (await api<BuildRecord>('GET', `/v1/builds/${id}`)).body;
        if (!isFinal(record.status)) throw new Error(`build ${id} is ${record.status}`);
        return record;
      },
      { timeout: 180_000, interval: 250 },
    );
  }

  const digestAt = async (name: string, tag: string) => (await fetch(`${server.url}/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })).headers.get('docker-content-digest');
  const targetDigest = async (tag: string) => {
    const res = await target.get(`/v2/acme/web/manifests/${tag}`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    return res.status === 200 ? res.headers.get('docker-content-digest') : null;
  };

  beforeAll(async () => {
    await requireTool('nixpacks', 'cargo install nixpacks --version 1.41.0 --locked');
    await requireTool('bwrap', 'apt-get install -y bubblewrap');
    await requireTool('skopeo', 'apt-get install -y skopeo');
    [repo, other, target, receiver] = await Promise.all([startGitServer(), startGitServer(), startTargetRegistry(), startHookReceiver<CallbackPayload>(TOKEN)]);
    await writeNodeApp(repo.work, 'first');
    await repo.commit('first');
    await repo.push('main');
    server = await startDemoServer({ NIXYARD_SOURCE_TIMEOUT: '300', NIXYARD_PUSH_INSECURE: target.host, NIXYARD_CALLBACK_ALLOW_PRIVATE: '1' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await Promise.all([repo?.close(), other?.close(), target?.close(), receiver?.close()]);
  });

  it('connects an app, shows its webhook secret once, and checks what it is given', async () => {
    const created = await api<ConnectedApp>('POST', '/v1/apps', { repo: repo.url, image: 'apps/acme/web', push: [`${target.host}/acme/web`], callback: { url: receiver.url, token: TOKEN } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    app = created.body;
    expect(app).toMatchObject({ id: expect.stringMatching(/^app-[0-9a-f]{10}$/), repo: repo.url, image: 'apps/acme/web', branches: [], tags: false, push: [`${target.host}/acme/web`], callback: { url: receiver.url }, builds: [] });
    expect(app.webhookSecret).toMatch(/^[0-9a-f]{48}$/);
    const shown = await api<AppView>('GET', `/v1/apps/${app.id}`);
    expect(shown.body).toMatchObject({ id: app.id, webhookUrl: `/v1/apps/${app.id}/webhook` });
    expect(JSON.stringify(shown.body) + JSON.stringify((await api('GET', '/v1/apps')).body)).not.toMatch(new RegExp(`${app.webhookSecret}|${TOKEN}`));

    const refused: [unknown, number, string, RegExp][] = [
      [{ repo: repo.url, image: 'apps/acme/web' }, 409, 'APP_EXISTS', new RegExp(`app ${app.id} already builds apps/acme/web`)],
      [{ repo: repo.url, image: 'acme/web' }, 400, 'NAME_INVALID', /expected a name under apps\//],
      [{ repo: '/srv/git/shop', image: 'apps/acme/x' }, 400, 'PARAMETER_INVALID', /NIXYARD_SOURCE_ALLOW_LOCAL=1/],
      [{ repo: repo.url, image: 'apps/acme/y', push: ['acme/web'] }, 400, 'PARAMETER_INVALID', /push target "acme\/web"/],
      [{ repo: repo.url, image: 'apps/acme/z', callback: { url: receiver.url } }, 400, 'PARAMETER_INVALID', /callback\.token/],
      [{ image: 'apps/acme/w' }, 400, 'PARAMETER_INVALID', /repo: Required/],
    ];
    for (const [body, status, code, says] of refused) {
      const answer = await api('POST', '/v1/apps', body);
      expect(answer.status, JSON.stringify(body)).toBe(status);
      expect(answer.body.errors?.[0]?.code).toBe(code);
      expect(answer.body.errors?.[0]?.message).toMatch(says);
    }
    expect((await api('GET', '/v1/apps/app-0000000000')).body.errors?.[0]?.code).toBe('APP_UNKNOWN');
  });

  it('builds a signed push of the default branch: <branch>-<sha7>, main and latest, here and at the target; calls back', async () => {
    const commit = (await repo.git('rev-parse', 'HEAD')).trim();
    const answer = await deliver(app.id, pushOf('refs/heads/main', ZERO, commit));
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    const [queued] = answer.body.queued;
    const tag = `main-${commit.slice(0, 7)}`;
    expect(queued).toMatchObject({ image: 'apps/acme/web', tag, trigger: 'webhook', app: app.id, moves: { tags: ['main', 'latest'] }, source: { ref: commit } });
    const done = await ended(queued?.id ?? '');
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.tags).toEqual([tag, 'main', 'latest']);
    expect(done.pushes?.[0]).toMatchObject({ status: 'pushed', digest: done.manifestDigest, references: [tag, 'main', 'latest'].map((name) => `${target.host}/acme/web:${name}`) });
    for (const name of [tag, 'main', 'latest']) {
      expect(await digestAt('apps/acme/web', name), name).toBe(done.manifestDigest);
      expect(await targetDigest(name), name).toBe(done.manifestDigest);
    }
    await vi.waitFor(() => expect(receiver.state.received.filter((entry) => entry.payload.build.id === done.id).map((entry) => [entry.payload.status, entry.verified])).toEqual([['RUNNING', true], ['SUCCEEDED', true]]), { timeout: 30_000 });
    const succeeded = receiver.state.received.find((entry) => entry.payload.build.id === done.id && entry.payload.status === 'SUCCEEDED');
    expect(succeeded?.payload).toMatchObject({ digest: done.manifestDigest, tags: [tag, 'main', 'latest'], pushed: [tag, 'main', 'latest'].map((name) => `${target.host}/acme/web:${name}@${done.manifestDigest}`), build: { app: app.id } });
    expect((await api<AppView>('GET', `/v1/apps/${app.id}`)).body.builds).toMatchObject([{ ref: 'refs/heads/main', commit, build: done.id, tag }]);
  }, 240_000);

  it('ignores unwatched branches and deletions, refuses bad signatures, other repositories and unknown apps', async () => {
    const commit = (await repo.git('rev-parse', 'HEAD')).trim();
    const feature = await deliver(app.id, pushOf('refs/heads/feature', ZERO, commit));
    expect(feature).toMatchObject({ status: 202, body: { queued: [], ignored: `refs/heads/feature is not watched by app ${app.id} (its default branch main): nothing to build` } });
    const deletion = await deliver(app.id, signedPush('github', { ref: 'refs/heads/main', before: commit, after: ZERO, commit: null, repository: repo.url }, { secret: app.webhookSecret ?? '' }));
    expect(deletion).toMatchObject({ status: 202, body: { queued: [], ignored: 'refs/heads/main was deleted: nothing to build' } });
    const forged = await deliver(app.id, signedPush('github', { ref: 'refs/heads/main', before: ZERO, after: commit, commit, repository: repo.url }, { secret: 'not-the-app-secret' }));
    expect(forged.status).toBe(401);
    expect(forged.body.errors?.[0]?.message).toMatch(/X-Hub-Signature-256 does not match the body signed with the app's webhook secret/);
    const elsewhere = await deliver(app.id, pushOf('refs/heads/main', ZERO, commit, other.url));
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.errors?.[0]?.message).toContain(`this push is for ${other.url}, not for ${repo.url}`);
    expect((await deliver('app-0000000000', pushOf('refs/heads/main', ZERO, commit))).body.errors?.[0]?.code).toBe('APP_UNKNOWN');
    const gitlab = await deliver(app.id, signedPush('gitlab', { ref: 'refs/heads/feature', before: ZERO, after: commit, commit, repository: repo.url }, { secret: app.webhookSecret ?? '' }));
    expect(gitlab.body.ignored).toContain('is not watched');
    const none = await fetch(`${server.url}/v1/apps/${app.id}/webhook`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(400);
  });

  it('cancels the build of an older push when a newer one arrives; the tags follow the newer', async () => {
    const before = (await repo.git('rev-parse', 'HEAD')).trim();
    await writeNodeApp(repo.work, 'second');
    const second = await repo.commit('second');
    await writeNodeApp(repo.work, 'third');
    const third = await repo.commit('third');
    await repo.push('main');
    const older = (await deliver(app.id, pushOf('refs/heads/main', before, second))).body.queued[0];
    const newer = (await deliver(app.id, pushOf('refs/heads/main', second, third))).body.queued[0];
    const [olderDone, newerDone] = await Promise.all([ended(older?.id ?? ''), ended(newer?.id ?? '')]);
    expect(olderDone).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED' } });
    expect(newerDone.status, JSON.stringify(newerDone.error)).toBe('succeeded');
    expect(await digestAt('apps/acme/web', 'main')).toBe(newerDone.manifestDigest);
    expect(await targetDigest('latest')).toBe(newerDone.manifestDigest);
    const view = (await api<AppView>('GET', `/v1/apps/${app.id}`)).body;
    expect(view.builds).toMatchObject([{ ref: 'refs/heads/main', commit: third, build: newerDone.id }]);

    const page = await (await fetch(`${server.url}/apps`)).text();
    expect(page).toContain('apps/acme/web');
    expect(page).toContain(`/builds/${newerDone.id}`);
    expect(page).toContain('data-status="succeeded"');
    expect(page).not.toContain(app.webhookSecret ?? 'no secret');
  }, 300_000);

  it('nixyard apps connects, lists, shows, updates and disconnects, with the exit codes of nixyard builds', async () => {
    const apps = (...args: string[]) => execa('node', [CLI, 'apps', ...args, '--registry', server.url], { reject: false, env: { PATH: process.env['PATH'] ?? '' }, extendEnv: false });
    const connected = await apps('connect', '--repo', other.url, '--image', 'apps/acme/api', '--branch', 'main', '--no-push', '--start-cmd', 'node server.js');
    expect(connected.exitCode, connected.stderr).toBe(0);
    const id = /^app (app-[0-9a-f]{10}): apps\/acme\/api$/m.exec(connected.stdout)?.[1] ?? '';
    expect(connected.stdout).toContain(`webhook      POST ${server.url}/v1/apps/${id}/webhook`);
    expect(connected.stdout).toMatch(/secret {7}[0-9a-f]{48} {3}\(shown once/);
    const listed = await apps('list');
    expect(listed.stdout).toContain(`app ${id}: apps/acme/api`);
    expect(listed.stdout).toContain('pushes to    nowhere else');
    expect(listed.stdout).not.toMatch(/secret/);
    const shown = await apps('show', id, '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, branches: ['main'], overrides: { startCmd: 'node server.js' }, push: [] });
    const updated = await apps('update', id, '--tags');
    expect(updated.stdout).toContain('builds       pushes to main, and tags');
    expect((await apps('disconnect', id)).stdout).toBe(`disconnected ${id}`);
    const gone = await apps('show', id);
    expect(gone.exitCode).toBe(3);
    expect(gone.stderr).toContain(`nixyard: APP_UNKNOWN: no app has the id "${id}"`);
    const taken = await apps('connect', '--repo', other.url, '--image', 'apps/acme/web');
    expect(taken.exitCode).toBe(3);
    expect(taken.stderr).toContain('APP_EXISTS');
    expect((await apps('show')).exitCode).toBe(2);
  });

  it('changes and disconnects an app; a new webhook secret is shown once', async () => {
    const patched = await api<ConnectedApp>('PATCH', `/v1/apps/${app.id}`, { branches: ['main', 'release/*'], tags: true, webhookSecret: 'a-new-webhook-secret-0123' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ branches: ['main', 'release/*'], tags: true, webhookSecret: 'a-new-webhook-secret-0123', repo: repo.url, push: [`${target.host}/acme/web`] });
    expect((await api<ConnectedApp>('PATCH', `/v1/apps/${app.id}`, { tags: false })).body.webhookSecret).toBeUndefined();
    expect((await api('DELETE', `/v1/apps/${app.id}`)).status).toBe(204);
    expect((await api('GET', `/v1/apps/${app.id}`)).status).toBe(404);
    expect((await api<{ apps: AppView[] }>('GET', '/v1/apps')).body.apps).toEqual([]);
  });
});
