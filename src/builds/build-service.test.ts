// Two instances (runner + service each) on one real filesystem storage, with builds whose work
// the test drives: what one instance runs, the other lists, reads, follows and cancels.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFilesystemStorage } from '../../storage/filesystem.js';
import type { Storage } from '../../storage/types.js';
import { RegistryError } from '../errors.js';
import type { ImageRequest } from '../image/image-name.js';
import { silentLogger } from '../log.js';
import { BuildRunner, type BuildOutcome, type BuildProgress } from './build-runner.js';
import { BuildService } from './build-service.js';
import { Semaphore } from '../concurrency.js';
import type { BuildRecord, BuildTrigger } from './record.js';
import { BuildRecordStore } from './record-store.js';

/** Work the test finishes by hand: each build waits for `finish(image)` or `failWith(image)`. */
class Gates {
  private readonly pending = new Map<string, { resolve: () => void; reject: (error: unknown) => void }>();
  readonly started: string[] = [];

  work(image: string) {
    return async (progress: BuildProgress): Promise<BuildOutcome<string>> => {
      this.started.push(image);
      progress.output(`${image}: working\n`);
      progress.phase('building');
      await new Promise<void>((resolve, reject) => {
        this.pending.set(image, { resolve, reject });
        progress.signal.addEventListener('abort', () => reject(progress.signal.reason), { once: true });
      });
      progress.phase('uploading');
      return { value: image, layers: [{ digest: 'sha256:aa', size: 3 }], manifestDigest: 'sha256:mm' };
    };
  }

  finish(image: string): void {
    this.pending.get(image)?.resolve();
  }

  failWith(image: string, error: unknown): void {
    this.pending.get(image)?.reject(error);
  }
}

/** Every runner of the test, so that it ends only when their writes are done. */
const runners: BuildRunner<string>[] = [];

/** Who the test's builds are for. */
const client = { id: 'tester' };

function instance(storage: Storage, name: string, gates: Gates, maxBuilds = 4, onStatus?: (record: BuildRecord) => void) {
  const store = new BuildRecordStore(storage);
  const runner = new BuildRunner<string>({ store, slots: new Semaphore(maxBuilds), instance: name, logLimit: 10_000, log: silentLogger, flushIntervalMs: 20, onStatus });
  runners.push(runner);
  const images = {
    async submit(request: ImageRequest, origin: { trigger: BuildTrigger; arch?: string; retryOf?: string }): Promise<BuildRecord> {
      const spec = { key: request.name, image: request.name, tag: request.tag, packages: request.packages, arch: origin.arch ?? 'amd64', revision: 'rev', trigger: origin.trigger, retryOf: origin.retryOf };
      const build = runner.startOrJoin(spec, gates.work(request.name));
      build.done.catch(() => undefined);
      await build.saved;
      return build.record;
    },
  };
  return { runner, store, service: new BuildService({ runner, records: store, images, followLocalMs: 10, followRemoteMs: 20 }) };
}

const settled = (service: BuildService, id: string) =>
  vi.waitFor(
    async () => {
      const record = await service.get(id);
      if (!record || !['succeeded', 'failed', 'cancelled'].includes(record.status)) throw new Error(`build ${id} is ${record?.status}`);
      return record;
    },
    { timeout: 10_000, interval: 20 },
  );

describe('BuildService on shared storage', () => {
  let dir: string;
  let storage: Storage;
  let gates: Gates;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nixyard-builds-'));
    storage = await createFilesystemStorage(dir);
    gates = new Gates();
  });
  afterEach(async () => {
    await vi.waitFor(() => expect(runners.map((runner) => runner.size)).toEqual(runners.map(() => 0)), { timeout: 5000, interval: 20 });
    runners.length = 0;
    await rm(dir, { recursive: true, force: true });
  });

  it('shows a build of one instance on the other, live, and follows its log to the end', async () => {
    const a = instance(storage, 'a', gates);
    const b = instance(storage, 'b', gates);
    const created = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    expect(created).toMatchObject({ image: 'hello', status: 'queued', trigger: 'api', instance: 'a', attempts: 0 });
    await vi.waitFor(async () => expect((await b.service.get(created.id))?.status).toBe('building'), { timeout: 5000, interval: 20 });

    const followed: string[] = [];
    const following = b.service.follow(created.id, (text) => followed.push(text));
    await vi.waitFor(() => expect(followed.join('')).toContain('hello: working'), { timeout: 5000, interval: 20 });
    gates.finish('hello');
    const final = await following;
    expect(final).toMatchObject({ status: 'succeeded', attempts: 1, manifestDigest: 'sha256:mm', layers: [{ digest: 'sha256:aa', size: 3 }] });
    expect(final.phases.map((phase) => phase.status)).toEqual(['queued', 'evaluating', 'building', 'uploading', 'succeeded']);
    expect(followed.join('')).toBe((await b.service.log(created.id))?.text);
    expect(followed.join('')).toMatch(/succeeded: manifest sha256:mm, 1 layers/);
  });

  it('gives a follower on the other instance the last log lines even when log writes are slow', async () => {
    // The running instance's log writes take 100 ms: its final record must still come after them.
    const slowLogs: Storage = Object.assign(Object.create(storage) as Storage, {
      put: async (key: string, body: Buffer | string, contentType: string) => {
        if (key.startsWith('build-logs/')) await new Promise((resolve) => setTimeout(resolve, 100));
        return storage.put(key, body, contentType);
      },
    });
    const a = instance(slowLogs, 'a', gates);
    const b = instance(storage, 'b', gates);
    const created = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    await vi.waitFor(async () => expect((await b.service.get(created.id))?.status).toBe('building'), { timeout: 5000, interval: 20 });
    const followed: string[] = [];
    const following = b.service.follow(created.id, (text) => followed.push(text));
    gates.finish('hello');
    expect(await following).toMatchObject({ status: 'succeeded' });
    expect(followed.join('')).toMatch(/succeeded: manifest sha256:mm, 1 layers/);
  });

  it('joins a second request for the same image instead of building twice', async () => {
    const a = instance(storage, 'a', gates);
    const first = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    const second = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    expect(second.id).toBe(first.id);
    gates.finish('hello');
    await settled(a.service, first.id);
    expect(gates.started).toEqual(['hello']);
    expect((await a.service.list({ limit: 10 })).builds).toHaveLength(1);
  });

  it('gives a build\'s value to `ready` before the record says succeeded; a failure only once the build is no longer joined', async () => {
    const { runner, store } = instance(storage, 'a', gates);
    const spec = { key: 'hello', image: 'hello', tag: 'latest', packages: ['hello'], arch: 'amd64', revision: 'rev', trigger: 'pull' as const };
    let writes = 0;
    const saving = store.save.bind(store);
    // The final record's write waits until the test has seen `ready`.
    let releaseFinal: () => void = () => undefined;
    const finalHeld = new Promise<void>((resolve) => (releaseFinal = resolve));
    store.save = async (record: BuildRecord) => {
      writes += 1;
      if (record.status === 'succeeded') await finalHeld;
      return saving(record);
    };
    const build = runner.startOrJoin(spec, gates.work('hello'));
    await vi.waitFor(() => expect(gates.started).toEqual(['hello']), { timeout: 5000, interval: 10 });
    gates.finish('hello');
    try {
      expect(await build.ready).toBe('hello');
      expect((await store.load(build.id))?.status).not.toBe('succeeded');
    } finally {
      releaseFinal();
    }
    expect(await build.done).toBe('hello');
    expect((await store.load(build.id))?.status).toBe('succeeded');
    expect(writes).toBeGreaterThan(1);

    const failing = runner.startOrJoin({ ...spec, key: 'broken', image: 'broken' }, gates.work('broken'));
    failing.done.catch(() => undefined);
    await vi.waitFor(() => expect(gates.started).toContain('broken'), { timeout: 5000, interval: 10 });
    gates.failWith('broken', new RegistryError('NIX_BUILD_FAILED', 'broken does not build'));
    await expect(failing.ready).rejects.toThrow('broken does not build');
    const retried = runner.startOrJoin({ ...spec, key: 'broken', image: 'broken' }, gates.work('broken'));
    expect(retried.id).not.toBe(failing.id);
    retried.done.catch(() => undefined);
    await vi.waitFor(() => expect(gates.started.filter((image) => image === 'broken')).toHaveLength(2), { timeout: 5000, interval: 10 });
    gates.failWith('broken', new RegistryError('NIX_BUILD_FAILED', 'still broken'));
    await expect(retried.ready).rejects.toThrow('still broken');
  });

  it('cancels a running build here at once and one of another instance through storage', async () => {
    const a = instance(storage, 'a', gates);
    const b = instance(storage, 'b', gates);
    const here = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    await vi.waitFor(async () => expect((await a.service.get(here.id))?.status).toBe('building'), { timeout: 5000, interval: 20 });
    const cancelled = await a.service.cancel(here.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED' } });
    await expect(a.service.cancel(here.id)).rejects.toMatchObject({ code: 'BUILD_FINISHED' });

    const there = await a.service.submit({ image: 'git', tag: 'latest', trigger: 'api', client });
    await vi.waitFor(async () => expect((await b.service.get(there.id))?.status).toBe('building'), { timeout: 5000, interval: 20 });
    expect((await b.service.cancel(there.id)).status).toBe('building');
    const final = await settled(b.service, there.id);
    expect(final).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED', message: expect.stringContaining('another instance') } });
  });

  it('on close, cancels its builds and returns once their records are final', async () => {
    const a = instance(storage, 'a', gates, 1);
    const running = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    const waiting = await a.service.submit({ image: 'git', tag: 'latest', trigger: 'api', client });
    await a.runner.close();
    expect(a.runner.size).toBe(0);
    const store = new BuildRecordStore(storage);
    for (const id of [running.id, waiting.id]) {
      expect(await store.load(id)).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED', message: expect.stringContaining('the registry stopped') } });
    }
  });

  it('cancels a build waiting for a slot before it ever runs', async () => {
    const a = instance(storage, 'a', gates, 1);
    const running = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    const waiting = await a.service.submit({ image: 'git', tag: 'latest', trigger: 'api', client });
    expect((await a.service.stats()).instance).toMatchObject({ running: 1, queued: 1, maxBuilds: 1 });
    expect(await a.service.cancel(waiting.id)).toMatchObject({ status: 'cancelled', attempts: 0 });
    gates.finish('hello');
    await settled(a.service, running.id);
    expect(gates.started).toEqual(['hello']);
  });

  it('retries failed builds only, as new records pointing at the old one', async () => {
    const a = instance(storage, 'a', gates);
    const failed = await a.service.submit({ image: 'hello', tag: 'v1', trigger: 'api', client });
    await vi.waitFor(() => expect(gates.started).toContain('hello'), { timeout: 5000, interval: 20 });
    gates.failWith('hello', new RegistryError('NIX_BUILD_FAILED', 'it broke'));
    expect(await settled(a.service, failed.id)).toMatchObject({ status: 'failed', error: { code: 'NIX_BUILD_FAILED', message: 'it broke' } });
    expect((await a.service.log(failed.id))?.text).toContain('failed: NIX_BUILD_FAILED: it broke');

    const retry = await a.service.retry(failed.id, client);
    expect(retry).toMatchObject({ retryOf: failed.id, image: 'hello', tag: 'v1', status: 'queued' });
    expect(retry.id).not.toBe(failed.id);
    await expect(a.service.retry(retry.id, client)).rejects.toMatchObject({ code: 'BUILD_NOT_RETRYABLE' });
    await vi.waitFor(() => expect(gates.started).toEqual(['hello', 'hello']), { timeout: 5000, interval: 20 });
    gates.finish('hello');
    expect((await settled(a.service, retry.id)).status).toBe('succeeded');
    await expect(a.service.retry('20000101T000000000Z-00000000', client)).rejects.toMatchObject({ code: 'BUILD_UNKNOWN' });
  });

  it('leaves no record of a build refused by a client limit', async () => {
    const a = instance(storage, 'a', gates);
    const refused = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'pull', client });
    await vi.waitFor(() => expect(gates.started).toContain('hello'), { timeout: 5000, interval: 20 });
    gates.failWith('hello', new RegistryError('TOOMANYREQUESTS', 'slow down'));
    await vi.waitFor(async () => expect(await a.service.get(refused.id)).toBeUndefined(), { timeout: 5000, interval: 20 });
    expect(await storage.list('build-')).toEqual([]);
  });

  it('makes an API build refused by its client limit wait queued and run again, the refused attempt not counted', async () => {
    const a = instance(storage, 'a', gates);
    const build = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    await vi.waitFor(() => expect(gates.started).toEqual(['hello']), { timeout: 5000, interval: 10 });
    gates.failWith('hello', new RegistryError('TOOMANYREQUESTS', 'tester already has 1 image builds running', { headers: { 'Retry-After': '1' } }));
    await vi.waitFor(async () => expect(await a.service.get(build.id)).toMatchObject({ status: 'queued', attempts: 0, instance: 'a' }), { timeout: 5000, interval: 10 });
    expect((await a.service.log(build.id))?.text).toContain('queued: tester already has 1 image builds running; this build waits and tries again in 1.0s');
    await vi.waitFor(() => expect(gates.started).toEqual(['hello', 'hello']), { timeout: 5000, interval: 10 });
    gates.finish('hello');
    const final = await settled(a.service, build.id);
    expect(final).toMatchObject({ status: 'succeeded', attempts: 1, error: null });
    expect(final.phases.map((phase) => phase.status)).toEqual(['queued', 'evaluating', 'building', 'queued', 'evaluating', 'building', 'uploading', 'succeeded']);
  });

  it('tells the observer every status once written, and amends records running or finished', async () => {
    const heard: string[] = [];
    const a = instance(storage, 'a', gates, 4, (record) => heard.push(record.status));
    const store = new BuildRecordStore(storage);
    const build = await a.service.submit({ image: 'hello', tag: 'latest', trigger: 'api', client });
    await vi.waitFor(() => expect(heard).toContain('building'), { timeout: 5000, interval: 20 });
    const delivery = { status: 'building' as const, attempts: 1, delivered: true, lastAttemptAt: null, lastResult: 'HTTP 204' };
    await a.runner.amend(build.id, (record) => ({ ...record, notifications: [delivery] }));
    expect((await store.load(build.id))?.notifications).toEqual([delivery]);
    gates.finish('hello');
    const final = await settled(a.service, build.id);
    await vi.waitFor(() => expect(a.runner.size).toBe(0), { timeout: 5000, interval: 20 });
    expect(heard).toEqual(['queued', 'evaluating', 'building', 'uploading', 'succeeded']);
    expect(final.notifications).toEqual([delivery]);
    const later = { ...delivery, status: 'succeeded' as const };
    await Promise.all([1, 2].map((n) => a.runner.amend(build.id, (record) => ({ ...record, notifications: [...record.notifications, { ...later, attempts: n }] }))));
    expect((await new BuildRecordStore(storage).load(build.id))?.notifications.map((entry) => entry.attempts)).toEqual([1, 1, 2]);
    expect(await a.runner.amend('20000101T000000000Z-00000000', (record) => record)).toBeUndefined();
  });

  it('lists newest first, filtered by status and image, in pages; counts in stats', async () => {
    const a = instance(storage, 'a', gates);
    const ids: string[] = [];
    for (const image of ['a1', 'b1', 'a1x', 'c1']) {
      const record = await a.service.submit({ image, tag: 'latest', trigger: 'api', client });
      ids.push(record.id);
      await vi.waitFor(() => expect(gates.started).toContain(image), { timeout: 5000, interval: 20 });
      if (image === 'b1') gates.failWith(image, new RegistryError('NIX_BUILD_FAILED', 'no'));
      else gates.finish(image);
      await settled(a.service, record.id);
    }
    const first = await a.service.list({ limit: 3 });
    expect(first.builds.map((build) => build.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect(first.next).toBe(ids[1]);
    const second = await a.service.list({ limit: 3, cursor: first.next ?? '' });
    expect(second).toEqual({ builds: [expect.objectContaining({ id: ids[0] })], next: null });
    expect((await a.service.list({ limit: 10, status: ['failed'] })).builds.map((build) => build.image)).toEqual(['b1']);
    expect((await a.service.list({ limit: 10, image: 'a1' })).builds.map((build) => build.id)).toEqual([ids[0]]);
    const stats = await a.service.stats();
    expect(stats).toMatchObject({ window: 4, succeeded: 3, failed: 1, queued: 0, running: 0, instance: { id: 'a', running: 0, queued: 0, maxBuilds: 4 } });
    expect(stats.averageDurationMs.total).toBeGreaterThanOrEqual(0);
  });

  it('takes over a record another instance left (queued jobs): same id and history, one more attempt, the old log kept', async () => {
    const a = instance(storage, 'a', gates);
    const spec = { key: 'hello', image: 'hello', tag: 'latest', packages: ['hello'], arch: 'amd64', revision: 'rev', trigger: 'api' as const };
    const created = await a.runner.create(spec);
    expect(created).toMatchObject({ status: 'queued', instance: '', attempts: 0 });
    // Instance b died while building attempt 1.
    const left: BuildRecord = { ...created, status: 'building', instance: 'b', attempts: 1, phases: [...created.phases, { status: 'building', at: created.createdAt }] };
    await a.store.save(left);
    const build = a.runner.startOrJoin(spec, gates.work('hello'), { adopt: { record: left, log: 'attempt 1 said hi\n' } });
    expect(build.id).toBe(created.id);
    await vi.waitFor(() => expect(gates.started).toEqual(['hello']), { timeout: 5000, interval: 10 });
    gates.finish('hello');
    await build.done;
    const final = await settled(a.service, created.id);
    expect(final).toMatchObject({ status: 'succeeded', instance: 'a', attempts: 2 });
    expect(final.phases.map((phase) => phase.status)).toEqual(['queued', 'building', 'queued', 'evaluating', 'building', 'uploading', 'succeeded']);
    const log = (await a.service.log(created.id))?.text ?? '';
    expect(log.startsWith('attempt 1 said hi\n')).toBe(true);
    expect(log).toContain('queued: attempt 2 picked up by a (attempt 1 on b stopped while building)');
  });

  it('sends a failed build back to queued when told to, and hands a build back without ending it', async () => {
    const a = instance(storage, 'a', gates);
    const spec = { key: 'hello', image: 'hello', tag: 'latest', packages: ['hello'], arch: 'amd64', revision: 'rev', trigger: 'api' as const };
    const created = await a.runner.create(spec);
    const verdicts: number[] = [];
    const requeued = a.runner.startOrJoin(spec, gates.work('hello'), {
      adopt: { record: created, log: '' },
      onFailure: (_failure, attempts) => (verdicts.push(attempts), { requeue: true, note: 'attempt 2 of 3 in 1.0s' }),
    });
    await vi.waitFor(() => expect(gates.started).toEqual(['hello']), { timeout: 5000, interval: 10 });
    gates.failWith('hello', new RegistryError('UNAVAILABLE', 'storage is down'));
    await expect(requeued.done).rejects.toThrow('storage is down');
    expect(verdicts).toEqual([1]);
    expect(await a.store.load(created.id)).toMatchObject({ status: 'queued', instance: '', attempts: 1, error: null });
    expect(await a.service.log(created.id)).toMatchObject({ text: expect.stringContaining('attempt 1 failed: UNAVAILABLE: storage is down; attempt 2 of 3 in 1.0s') });

    const again = a.runner.startOrJoin(spec, gates.work('hello'), { adopt: { record: (await a.store.load(created.id)) as BuildRecord, log: '' } });
    await vi.waitFor(() => expect(gates.started).toEqual(['hello', 'hello']), { timeout: 5000, interval: 10 });
    expect(a.runner.abandon(created.id, 'the registry stopped', true)).toBe(true);
    await expect(again.done).rejects.toThrow('was handed to another instance (the registry stopped)');
    expect(again.handedBack).toBe(true);
    expect(await a.store.load(created.id)).toMatchObject({ status: 'queued', instance: '', attempts: 2, finishedAt: null });
  });
});
