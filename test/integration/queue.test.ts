// Replicas on one RabbitMQ queue (a private Debian rabbitmq-server) and one storage directory,
// each a real `nixyard serve` process building the demo set with real Nix: jobs spread over
// both, a replica SIGKILLed mid-build has its build finished by the other, a replica stopped
// mid-build hands its build back, a transient failure is retried then dead-lettered, a job
// cancelled while it waits in RabbitMQ ends at once, a broker that is down gives 503, and a
// queued build over its client's build limit waits until the client's other build has ended, and
// a build from application source runs from its job like any other.
import { connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isFinal, type BuildRecord, type BuildStatus } from '../../src/builds/record.js';
import type { BuildPage, BuildStats } from '../../src/builds/types.js';
import { decodeJob } from '../../src/queue/job.js';
import { requireNix } from '../helpers/demo-server.js';
import { startGitServer } from '../helpers/git-server.js';
import { startRabbitMq, type RabbitBroker } from '../helpers/rabbitmq.js';
import { startReplica as startSharedReplica, stopReplica, type Replica } from '../helpers/replicas.js';
import { writeNodeApp } from '../helpers/sample-apps.js';

/** slow-demo and ticker-demo really build in this run, the same derivations on every replica. */
const DEMO_RUN = randomUUID();

let storagePath: string;

const startReplica = (broker: RabbitBroker, env: Record<string, string>) => startSharedReplica({ broker, storagePath, demoRun: DEMO_RUN, env });

async function api<T>(replica: Replica, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${replica.url}${path}`, init).catch((error: unknown) => {
    // Say whether the replica is gone, and what it said last.
    throw new Error(`${path}: ${String(error)}; replica exit code ${String(replica.child.exitCode)}, signal ${String(replica.child.signalCode)}; its output ends:\n${replica.output().slice(-3000)}`, { cause: error });
  });
  return { status: res.status, body: (await res.json()) as T };
}

const submit = (replica: Replica, image: string) =>
  api<BuildRecord>(replica, '/v1/builds', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image, tag: 'latest' }) });

const record = async (replica: Replica, id: string) => (await api<BuildRecord>(replica, `/v1/builds/${id}`)).body;
const stats = async (replica: Replica) => (await api<BuildStats>(replica, '/v1/builds/queue/stats')).body.queue;
const log = async (replica: Replica, id: string) => (await fetch(`${replica.url}/v1/builds/${id}/logs`)).text();

/** Polls the record until `done` holds for it. */
async function waitFor(replica: Replica, id: string, done: (record: BuildRecord) => boolean, timeout = 90_000): Promise<BuildRecord> {
  let last: BuildRecord | undefined;
  await vi.waitFor(
    async () => {
      last = await record(replica, id);
      if (!done(last)) throw new Error(`build ${id} is ${last.status} on ${last.instance || 'no instance'} (attempt ${last.attempts})`);
    },
    { timeout, interval: 100 },
  );
  return last as BuildRecord;
}

const ended = (build: BuildRecord) => isFinal(build.status);
const statuses = (build: BuildRecord): BuildStatus[] => build.phases.map((phase) => phase.status);

describe('builds across replicas on RabbitMQ (real Nix, real rabbitmq-server)', () => {
  let broker: RabbitBroker;
  let a: Replica;
  let b: Replica;
  let c: Replica | undefined;
  const submitted: string[] = [];

  beforeAll(async () => {
    await requireNix();
    storagePath = await mkdtemp(join(tmpdir(), 'nixyard-replicas-'));
    broker = await startRabbitMq();
    [a, b] = await Promise.all([startReplica(broker, {}), startReplica(broker, {})]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a, b, c].map((replica) => stopReplica(replica)));
    await broker?.stop();
  }, 60_000);

  it('spreads jobs over both replicas, each built once and acknowledged', async () => {
    await vi.waitFor(async () => expect(await stats(a)).toMatchObject({ backend: 'rabbitmq', connected: true, consumers: 2 }), { timeout: 20_000 });
    const images = ['hello', 'coreutils', 'shell/hello', 'shell/coreutils'];
    const ids: string[] = [];
    for (const image of images) {
      const { status, body } = await submit(a, image);
      expect(status).toBe(202);
      expect(body).toMatchObject({ image, status: 'queued', trigger: 'api', attempts: 0, instance: '' });
      ids.push(body.id);
    }
    submitted.push(...ids);
    const builds = await Promise.all(ids.map((id) => waitFor(b, id, ended)));
    for (const build of builds) expect(build).toMatchObject({ status: 'succeeded', attempts: 1, error: null });
    expect(new Set(builds.map((build) => build.instance))).toEqual(new Set([a.instance, b.instance]));
    expect(await stats(b)).toMatchObject({ waiting: 0, consumers: 2, retrying: 0, dead: 0 });
  }, 180_000);

  it('finishes on the other replica a build whose replica was SIGKILLed mid-build', async () => {
    const { body: queued } = await submit(a, 'ticker-demo');
    submitted.push(queued.id);
    const building = await waitFor(a, queued.id, (build) => build.status === 'building');
    const [victim, survivor] = building.instance === a.instance ? [a, b] : [b, a];
    victim.signal('SIGKILL');
    await victim.child;

    const done = await waitFor(survivor, queued.id, ended);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, instance: survivor.instance, error: null });
    expect(statuses(done)).toEqual(['queued', 'evaluating', 'building', 'queued', 'evaluating', 'building', 'packing', 'uploading', 'succeeded']);
    const text = await log(survivor, queued.id);
    expect(text).toContain(`attempt 2 picked up by ${survivor.instance} (attempt 1 on ${victim.instance} stopped while building)`);
    expect(text).toContain('ticker-demo: step 4 of 4');

    // Every job has exactly one record, and each ended once.
    const { body: page } = await api<BuildPage>(survivor, '/v1/builds?limit=100');
    expect(page.builds.map((build) => build.id).sort()).toEqual([...submitted].sort());
    expect(page.builds.every(ended)).toBe(true);
    if (victim === a) a = survivor;
    else b = survivor;
    // The survivor serves alone until a new replica joins.
    c = await startReplica(broker, {});
    await vi.waitFor(async () => expect((await stats(c as Replica)).consumers).toBe(2), { timeout: 20_000 });
  }, 180_000);

  it('hands a build back to the queue when its replica is stopped (SIGTERM), and another replica takes it', async () => {
    const other = c as Replica;
    const { body: queued } = await submit(a, 'slow-demo');
    submitted.push(queued.id);
    const building = await waitFor(a, queued.id, (build) => build.status === 'building');
    const [stopped, taker] = building.instance === a.instance ? [a, other] : [other, a];
    // As a container runtime stops it: SIGTERM to the registry process only.
    stopped.child.kill('SIGTERM');
    const exit = await stopped.child;
    expect({ exitCode: exit.exitCode, signal: exit.signal }, String(exit.all)).toEqual({ exitCode: 0, signal: undefined });

    const retaken = await waitFor(taker, queued.id, (build) => build.instance === taker.instance && build.status === 'building');
    expect(retaken.attempts).toBe(2);
    expect(await log(taker, queued.id)).toContain(`handed back: build ${queued.id} was handed to another instance (the registry stopped); retry`);
    const cancel = await api<BuildRecord>(taker, `/v1/builds/${queued.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED' } });
    if (stopped === a) a = taker;
    c = taker === a ? undefined : taker;
  }, 180_000);
});

/** One replica started with `env` on a broker and storage of its own, for the tests of one describe block. */
function ownReplica(env: Record<string, string>): { broker: RabbitBroker; replica: Replica } {
  const own = {} as { broker: RabbitBroker; replica: Replica };
  beforeAll(async () => {
    await requireNix();
    storagePath = await mkdtemp(join(tmpdir(), 'nixyard-replicas-'));
    own.broker = await startRabbitMq();
    own.replica = await startReplica(own.broker, env);
  }, 120_000);
  afterAll(async () => {
    await stopReplica(own.replica);
    await own.broker?.stop();
  }, 60_000);
  return own;
}

describe('retries and dead letters on RabbitMQ (real Nix, real rabbitmq-server)', () => {
  const queue = `dlq-test-${randomUUID().slice(0, 8)}`;
  // NIX_TIMEOUT stops slow-demo every time: a transient failure that never goes away.
  const own = ownReplica({ NIXYARD_AMQP_QUEUE: queue, NIX_TIMEOUT: '3', NIXYARD_MAX_ATTEMPTS: '2', NIXYARD_RETRY_DELAY: '1' });

  it('retries a timed-out build with a delay, then dead-letters it with its record failed; a job cancelled while it waits ends at once', async () => {
    await vi.waitFor(async () => expect((await stats(own.replica)).consumers).toBe(1), { timeout: 20_000 });
    const { body: slow } = await submit(own.replica, 'slow-demo');
    await waitFor(own.replica, slow.id, (build) => build.status === 'building');
    // The only slot is busy: the next job waits in RabbitMQ, where a cancel ends it at once.
    const { body: waiting } = await submit(own.replica, 'hello');
    await vi.waitFor(async () => expect(await stats(own.replica)).toMatchObject({ waiting: 1, consumers: 1 }), { timeout: 10_000 });
    const cancel = await api<BuildRecord>(own.replica, `/v1/builds/${waiting.id}/cancel`, { method: 'POST' });
    expect(cancel.body).toMatchObject({ id: waiting.id, status: 'cancelled', attempts: 0, error: { code: 'BUILD_CANCELLED' } });

    const dead = await waitFor(own.replica, slow.id, ended);
    expect(dead).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'NIX_TIMEOUT' } });
    expect(dead.error?.message).toContain('(gave up after 2 attempts)');
    expect(statuses(dead)).toEqual(['queued', 'evaluating', 'building', 'queued', 'evaluating', 'building', 'failed']);
    const text = await log(own.replica, slow.id);
    expect(text).toContain('attempt 1 failed: NIX_TIMEOUT');
    expect(text).toContain('attempt 2 of 2 in 1.0s');
    expect(await record(own.replica, waiting.id)).toMatchObject({ status: 'cancelled', attempts: 0 });
    await vi.waitFor(async () => expect(await stats(own.replica)).toMatchObject({ waiting: 0, retrying: 0, dead: 1 }), { timeout: 10_000 });

    // The dead-letter queue holds the job, for people to look at.
    const connection = await connect(own.broker.url);
    try {
      const channel = await connection.createChannel();
      const message = await channel.get(`${queue}.dead`, { noAck: false });
      expect(message).not.toBe(false);
      if (message) {
        expect(decodeJob(message.content)).toMatchObject({ id: slow.id, image: 'slow-demo' });
        channel.nack(message, false, true);
      }
    } finally {
      await connection.close();
    }
  }, 180_000);

  it('fails a build that fails the same way every time at once, without retrying or dead-lettering it', async () => {
    const { body: queued } = await submit(own.replica, 'failing-demo');
    const failed = await waitFor(own.replica, queued.id, ended);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'NIX_BUILD_FAILED' } });
    expect(await stats(own.replica)).toMatchObject({ retrying: 0, dead: 1 });
  }, 120_000);

  it('answers 503 and keeps no record when RabbitMQ is down', async () => {
    const before = (await api<BuildPage>(own.replica, '/v1/builds?limit=100')).body.builds.length;
    await own.broker.stop();
    const { status, body } = await api<{ errors: { code: string; message: string }[] }>(own.replica, '/v1/builds', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'hello', tag: 'latest' }),
    });
    expect(status).toBe(503);
    expect(body.errors[0]?.code).toBe('UNAVAILABLE');
    expect(body.errors[0]?.message).toMatch(/^the build queue \(RabbitMQ, NIXYARD_AMQP_URL\) did not take the build: not connected to RabbitMQ \(.+\); retry later$/);
    expect((await api<BuildPage>(own.replica, '/v1/builds?limit=100')).body.builds).toHaveLength(before);
    expect(await stats(own.replica)).toMatchObject({ backend: 'rabbitmq', connected: false, waiting: null, consumers: null });
  }, 60_000);
});

describe('queued builds on one replica: client limits, builds from source (real Nix, real rabbitmq-server)', () => {
  // Two build slots, but one build at a time per client: the limit, not the slots, holds the second build.
  const own = ownReplica({ NIXYARD_MAX_BUILDS: '2', NIXYARD_MAX_BUILDS_PER_CLIENT: '1' });

  it('a queued build over its client limit waits queued, then runs once the client has no build running', async () => {
    await vi.waitFor(async () => expect((await stats(own.replica)).consumers).toBe(1), { timeout: 20_000 });
    // slow-demo never finishes in this file (each test stops it): it holds the client's one build.
    const { body: first } = await submit(own.replica, 'slow-demo');
    await waitFor(own.replica, first.id, (build) => build.status === 'building');
    const { body: second } = await submit(own.replica, 'hello');
    await vi.waitFor(async () => expect(await log(own.replica, second.id)).toContain('this build waits'), { timeout: 20_000, interval: 100 });
    expect(await log(own.replica, second.id)).toMatch(/queued: 127\.0\.0\.1 already has 1 image builds running \(NIXYARD_MAX_BUILDS_PER_CLIENT=1\): retry when one has finished; this build waits and tries again in 10s/);
    expect(await record(own.replica, second.id)).toMatchObject({ status: 'queued', attempts: 0, instance: own.replica.instance });

    expect((await api<BuildRecord>(own.replica, `/v1/builds/${first.id}/cancel`, { method: 'POST' })).body.status).toBe('cancelled');
    const stopped = await record(own.replica, first.id);
    const later = await waitFor(own.replica, second.id, ended, 60_000);
    expect(later).toMatchObject({ status: 'succeeded', attempts: 1, error: null });
    // The attempt that ran started after the client's other build had ended.
    const lastStart = later.phases.filter((phase) => phase.status === 'evaluating').at(-1)?.at ?? '';
    expect(Date.parse(lastStart)).toBeGreaterThanOrEqual(Date.parse(stopped.finishedAt ?? ''));
    expect(statuses(later).filter((status) => status !== 'building')).toEqual(['queued', 'evaluating', 'queued', 'evaluating', 'packing', 'uploading', 'succeeded']);
  }, 180_000);
  it('a build from application source goes through the queue: the job carries the repository, the replica builds and tags the image', async () => {
    const repo = await startGitServer();
    try {
      await writeNodeApp(repo.work, 'queued');
      await repo.commit('app');
      await repo.push('main');
      const res = await api<BuildRecord>(own.replica, '/v1/builds', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ image: 'apps/queued/web', tag: 'v1', source: { repo: repo.url, ref: 'main' } }),
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'queued', instance: '', source: { repo: repo.url, ref: 'main', commit: null } });
      const done = await waitFor(own.replica, res.body.id, ended, 120_000);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 1, instance: own.replica.instance, plan: { provider: 'node' } });
      const tags = await (await fetch(`${own.replica.url}/v2/apps/queued/web/tags/list`)).json();
      expect(tags).toEqual({ name: 'apps/queued/web', tags: ['v1'] });
    } finally {
      await repo.close();
    }
  }, 180_000);
});
