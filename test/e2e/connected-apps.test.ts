// The build-service loop end to end with real components: two nixyard replicas (`nixyard serve`)
// on one RabbitMQ broker and one storage directory, an app repository served by git daemon,
// Debian's reference registry with htpasswd users and TLS from a self-signed CA as the push
// target, and a callback receiver. An app connected on one replica; a signed push delivered to
// the other; the build, wherever it runs, is pushed to the target under nixyard's digest and runs
// from there with docker; a code-only commit's push uploads only its changed layers to the
// target; the callback receiver hears RUNNING then SUCCEEDED, signed with the app's token.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConnectedApp } from '../../src/apps/connected-apps.js';
import { isFinal, type BuildRecord } from '../../src/builds/record.js';
import type { CallbackPayload } from '../../src/notify/callback-message.js';
import { docker, dockerRemoveImages, ensureDocker, expectSuccess } from '../helpers/docker.js';
import { signedPush } from '../helpers/forge-payloads.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { startHookReceiver } from '../helpers/hook-receiver.js';
import { startRabbitMq, type RabbitBroker } from '../helpers/rabbitmq.js';
import { startReplica, stopReplica, type Replica } from '../helpers/replicas.js';
import { writeNodeApp } from '../helpers/sample-apps.js';
import { startTargetRegistry, type TargetRegistry } from '../helpers/target-registry.js';
import { freePort, requireTool } from '../helpers/tools.js';

const TOKEN = `callback-${randomUUID()}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('connected app on two replicas: push webhook → build → push to a TLS registry with htpasswd → docker run', () => {
  let broker: RabbitBroker;
  let replicas: Replica[] = [];
  let target: TargetRegistry;
  let repo: GitServer;
  let receiver: Awaited<ReturnType<typeof startHookReceiver<CallbackPayload>>>;
  let dockerConfig: string;
  let app: ConnectedApp;
  /** References and ids of images docker pulled, removed at the end. */
  const pulled: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    for (const [tool, hint] of [['nixpacks', 'cargo install nixpacks --version 1.41.0 --locked'], ['bwrap', 'apt-get install -y bubblewrap'], ['skopeo', 'apt-get install -y skopeo']] as const) await requireTool(tool, hint);
    [broker, target, repo, receiver] = await Promise.all([startRabbitMq(), startTargetRegistry({ tls: true, htpasswd: true }), startGitServer(), startHookReceiver<CallbackPayload>(TOKEN)]);
    await writeNodeApp(repo.work, 'first');
    await repo.commit('first');
    await repo.push('main');

    const secrets = await mkdtemp(join(tmpdir(), 'nixyard-push-secrets-'));
    const user = target.user as { name: string; password: string };
    const auths = JSON.stringify({ auths: { [target.host]: { auth: Buffer.from(`${user.name}:${user.password}`).toString('base64') } } });
    await writeFile(join(secrets, 'auth.json'), auths, { mode: 0o600 });
    await writeFile(join(secrets, 'ca.pem'), target.ca ?? '');
    // docker logs in with the same credentials (its config.json has the same format).
    dockerConfig = await mkdtemp(join(tmpdir(), 'nixyard-docker-config-'));
    await writeFile(join(dockerConfig, 'config.json'), auths, { mode: 0o600 });

    const storagePath = await mkdtemp(join(tmpdir(), 'nixyard-replicas-'));
    const env = { NIXYARD_PUSH_AUTH_FILE: join(secrets, 'auth.json'), NIXYARD_PUSH_CA_FILE: join(secrets, 'ca.pem'), NIXYARD_CALLBACK_ALLOW_PRIVATE: '1', NIXYARD_SOURCE_TIMEOUT: '300', NIXYARD_PUBLIC_HOST: 'registry.test' };
    replicas = await Promise.all([0, 1].map(() => startReplica({ broker, storagePath, demoRun: randomUUID(), env })));
  }, 300_000);

  afterAll(async () => {
    await dockerRemoveImages(pulled);
    await Promise.all(replicas.map((replica) => stopReplica(replica)));
    await Promise.all([broker?.stop(), target?.close(), repo?.close(), receiver?.close()]);
    if (dockerConfig) await rm(dockerConfig, { recursive: true, force: true });
  }, 120_000);

  const [a, b] = [() => replicas[0] as Replica, () => replicas[1] as Replica];

  async function ended(replica: Replica, id: string): Promise<BuildRecord> {
    return vi.waitFor(
      async () => {
        const record = (await (await fetch(`${replica.url}/v1/builds/${id}`)).json()) as BuildRecord;
        if (!isFinal(record.status)) throw new Error(`build ${id} is ${record.status} on ${record.instance || 'no instance'}`);
        return record;
      },
      { timeout: 300_000, interval: 250 },
    );
  }

  /** Commits what `write` changes, pushes it and delivers the push to replica `to`; the build record once it ended. */
  async function pushCommit(write: () => Promise<void>, to: Replica): Promise<BuildRecord> {
    const before = (await repo.git('rev-parse', 'HEAD')).trim();
    await write();
    const commit = await repo.commit('change');
    await repo.push('main');
    const delivery = signedPush('github', { ref: 'refs/heads/main', before, after: commit, commit, repository: repo.url }, { secret: app.webhookSecret ?? '' });
    const res = await fetch(`${to.url}/v1/apps/${app.id}/webhook`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...delivery.headers }, body: delivery.body });
    const answer = (await res.json()) as { queued: BuildRecord[] };
    expect(res.status, JSON.stringify(answer)).toBe(202);
    return ended(a(), answer.queued[0]?.id ?? '');
  }

  async function targetManifest(tag: string): Promise<{ digest: string | null; layers: string[] }> {
    const res = await target.get(`/v2/acme/web/manifests/${tag}`, { headers: { Accept: OCI_MANIFEST } });
    const body = (await res.json()) as { layers?: { digest: string }[] };
    return { digest: res.headers.get('docker-content-digest'), layers: (body.layers ?? []).map((layer) => layer.digest) };
  }

  /** Pulls `tag` from the target with docker (logged in), runs it and returns what it answers over HTTP. */
  async function runFromTarget(tag: string): Promise<{ answer: string; repoDigest: string }> {
    const reference = `${target.host}/acme/web:${tag}`;
    pulled.push(reference);
    expectSuccess(await docker(['--config', dockerConfig, 'pull', reference]), `docker pull ${reference}`);
    const repoDigest = (await docker(['image', 'inspect', '--format', '{{index .RepoDigests 0}}', reference])).stdout.trim();
    // By id: a later pull of the same tag leaves this image untagged, and it must go too.
    pulled.push((await docker(['image', 'inspect', '--format', '{{.Id}}', reference])).stdout.trim());
    const port = await freePort();
    const started = await docker(['run', '-d', '--rm', '-p', `127.0.0.1:${port}:3000`, reference]);
    expectSuccess(started, `docker run ${reference}`);
    try {
      const answer = await vi.waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).text(), { timeout: 30_000, interval: 200 });
      return { answer, repoDigest };
    } finally {
      await docker(['rm', '-f', started.stdout.trim()]);
    }
  }

  it('connects the app on one replica; the other sees it', async () => {
    await vi.waitFor(async () => expect(((await (await fetch(`${a().url}/v1/builds/queue/stats`)).json()) as { queue: { consumers: number } }).queue.consumers).toBe(2), { timeout: 30_000 });
    const res = await fetch(`${a().url}/v1/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repo: repo.url, image: 'apps/acme/web', push: [`${target.host}/acme/web`], callback: { url: receiver.url, token: TOKEN } }),
    });
    app = (await res.json()) as ConnectedApp;
    expect(res.status, JSON.stringify(app)).toBe(201);
    expect(((await (await fetch(`${b().url}/v1/apps/${app.id}`)).json()) as ConnectedApp).image).toBe('apps/acme/web');
  });

  it('builds a push delivered to the other replica, pushes it to the target under the same digest, and it runs from there', async () => {
    const done = await pushCommit(async () => writeNodeApp(repo.work, 'hello from the target'), b());
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(replicas.map((replica) => replica.instance)).toContain(done.instance);
    expect(done.pushes?.[0]).toMatchObject({ status: 'pushed', digest: done.manifestDigest, layersUploaded: done.layers.length });
    expect((await targetManifest('main')).digest).toBe(done.manifestDigest);
    const { answer, repoDigest } = await runFromTarget('main');
    expect(answer).toBe('hello from the target from node 20\n');
    expect(repoDigest).toBe(`${target.host}/acme/web@${done.manifestDigest}`);

    await vi.waitFor(() => expect(receiver.state.received.filter((entry) => entry.payload.build.id === done.id).map((entry) => [entry.payload.status, entry.verified])).toEqual([['RUNNING', true], ['SUCCEEDED', true]]), { timeout: 30_000 });
    const succeeded = receiver.state.received.find((entry) => entry.payload.build.id === done.id && entry.payload.status === 'SUCCEEDED');
    expect(succeeded?.payload).toMatchObject({ image: `registry.test/apps/acme/web:${done.tag}@${done.manifestDigest}`, digest: done.manifestDigest });
    expect(succeeded?.payload.pushed).toContain(`${target.host}/acme/web:main@${done.manifestDigest}`);
  }, 600_000);

  it('a code-only commit uploads only the changed layers to the target', async () => {
    const previous = await targetManifest('main');
    const mark = await target.logLength();
    const done = await pushCommit(async () => writeNodeApp(repo.work, 'changed code'), a());
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const now = await targetManifest('main');
    expect(now.digest).toBe(done.manifestDigest);
    const changed = now.layers.filter((layer) => !previous.layers.includes(layer));
    expect(changed).toHaveLength(1);
    const config = ((await (await target.get(`/v2/acme/web/manifests/main`, { headers: { Accept: OCI_MANIFEST } })).json()) as { config: { digest: string } }).config.digest;
    expect((await target.uploadedBlobs(mark)).sort()).toEqual([...changed, config].sort());
    expect(done.pushes?.[0]).toMatchObject({ status: 'pushed', layersUploaded: 1 });
    const imageBytes = done.layers.reduce((sum, layer) => sum + layer.size, 0);
    expect(done.pushes?.[0]?.bytesUploaded ?? Infinity).toBeLessThan(imageBytes / 100);
    expect((await runFromTarget('main')).answer).toBe('changed code from node 20\n');
  }, 600_000);
});
