/**
 * The builds API behind `/v1/builds`, the pages and the CLI: queries over the stored records
 * (live from memory for builds this instance runs), logs and their following, and starting,
 * cancelling and retrying builds. Records of other instances are read from storage, so every
 * instance answers for every build.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mapLimit } from '../concurrency.js';
import { RegistryError } from '../errors.js';
import { isValidName, isValidTag } from '../image/grammar.js';
import { ARCHITECTURES, parseImageName, type Architecture, type ImageRequest } from '../image/image-name.js';
import type { BuildRunner } from './build-runner.js';
import { interrupt, isStale, leftByEarlierLife } from './interrupted.js';
import { BUILD_STATUSES, isFinal, newBuildId, phaseDurations, totalDuration, type BuildRecord, type BuildSource, type BuildStatus } from './record.js';
import type { BuildRecordStore } from './record-store.js';
import type { AppSubmission, BuildClient, BuildDelivery, BuildOrigin, BuildPage, BuildQuery, Builds, BuildStats, BuildSubmission, LogSnapshot, QueueStats } from './types.js';

/** How many of the newest records `stats` covers. */
export const STATS_WINDOW = 1000;
/** Longest `cancel` waits for a build of this instance to stop before answering. */
export const CANCEL_WAIT_MS = 30_000;

/** What the service needs. */
export interface BuildServiceDeps {
  runner: BuildRunner<unknown>;
  /** Where the records are (the runner's store). */
  records: BuildRecordStore;
  /** Starts image builds (of package names, and from application source): here, or on the queue for any replica. */
  images: {
    submit(request: ImageRequest, origin: BuildOrigin & { arch?: Architecture }): Promise<BuildRecord>;
    /** Absent when this registry does not build from source. */
    submitSource?(image: string, tag: string, app: AppSubmission, origin: BuildOrigin): Promise<BuildRecord>;
  };
  /** The RabbitMQ queue's counts, when builds go through it. */
  queue?: { counts(): Promise<Omit<QueueStats, 'backend'>> };
  now?: () => Date;
  /** How often a follower looks for new log text: of a build here, and of one elsewhere. */
  followLocalMs?: number;
  followRemoteMs?: number;
}

/** The error for an id no build has. */
export function buildUnknown(id: string): RegistryError {
  return new RegistryError('BUILD_UNKNOWN', `no build has the id ${JSON.stringify(id)}: list builds with GET /v1/builds`, { detail: { id } });
}


/** The {@link Builds} of this instance. */
export class BuildService implements Builds {
  constructor(private readonly deps: BuildServiceDeps) {}

  private get store(): BuildRecordStore {
    return this.deps.records;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** A build's record; one whose instance is gone is ended as interrupted first (see `interrupted.ts`). */
  async get(id: string): Promise<BuildRecord | undefined> {
    const local = this.deps.runner.local(id);
    if (local) return local.record;
    const stored = await this.store.load(id);
    if (!stored || !this.queueLeaves(stored) || !isStale(stored, this.now())) return stored;
    return this.deps.runner.amend(id, (current) => (isStale(current, this.now()) && !this.deps.runner.local(id) ? interrupt(current, this.now(), 'silent') : current));
  }

  /**
   * Whether no queue takes `record` back when its instance dies: pulls, or any build without
   * RabbitMQ. Queued builds are redelivered to another replica, which adopts the record.
   */
  private queueLeaves(record: BuildRecord): boolean {
    return this.deps.queue === undefined || record.trigger === 'pull';
  }

  /**
   * Ends the builds an earlier life of this instance left running (it was killed, or its
   * machine lost): those of the last `withinMs` whose instance is this one's name, or a process
   * of this host that is gone. Resolves with how many it ended.
   */
  async endLeftRunning(self: { host: string; isAlive(pid: number): boolean }, withinMs = 2 * 24 * 3600 * 1000): Promise<number> {
    const me = { ...self, instance: this.deps.runner.load().id };
    const since = newBuildId(new Date(this.now().getTime() - withinMs), '00000000');
    const ids = (await this.store.ids()).filter((id) => id >= since);
    let ended = 0;
    await mapLimit(ids, 16, async (id) => {
      const stored = await this.store.load(id);
      if (!stored || this.deps.runner.local(id) || !this.queueLeaves(stored) || !leftByEarlierLife(stored, me)) return;
      const now = this.now();
      const after = await this.deps.runner.amend(id, (current) => (leftByEarlierLife(current, me) && !this.deps.runner.local(id) ? interrupt(current, now, 'restarted') : current));
      if (after?.error?.code === 'BUILD_INTERRUPTED') ended += 1;
    });
    return ended;
  }

  private async require(id: string): Promise<BuildRecord> {
    const record = await this.get(id);
    if (!record) throw buildUnknown(id);
    return record;
  }

  async list(query: BuildQuery): Promise<BuildPage> {
    const statuses = new Set(query.status ?? []);
    const matches = (record: BuildRecord) => (statuses.size === 0 || statuses.has(record.status)) && (query.image === undefined || record.image === query.image);
    const ids = (await this.store.ids()).filter((id) => query.cursor === undefined || id < query.cursor);
    const found: BuildRecord[] = [];
    // Read in batches until one more than a page matched (so `next` is only given when there is more).
    for (let start = 0; start < ids.length && found.length <= query.limit; start += 32) {
      const records = await mapLimit(ids.slice(start, start + 32), 16, (id) => this.get(id));
      for (const record of records) if (record && matches(record)) found.push(record);
    }
    const builds = found.slice(0, query.limit);
    return { builds, next: found.length > query.limit ? (builds[builds.length - 1]?.id ?? null) : null };
  }

  async log(id: string): Promise<LogSnapshot | undefined> {
    const local = this.deps.runner.local(id);
    if (local) return local.log.snapshot();
    if (!(await this.store.load(id))) return undefined;
    const text = (await this.store.loadLog(id)) ?? '';
    return { text, total: text.length };
  }

  async follow(id: string, onText: (text: string) => void, options: { signal?: AbortSignal; from?: number } = {}): Promise<BuildRecord> {
    let position = options.from ?? 0;
    for (;;) {
      const local = this.deps.runner.local(id);
      let record: BuildRecord;
      if (local) {
        record = local.record;
        const text = local.log.since(position);
        position = local.log.total;
        if (text !== '') onText(text);
      } else {
        record = await this.require(id);
        const text = (await this.store.loadLog(id)) ?? '';
        if (text.length > position) onText(text.slice(position));
        position = Math.max(position, text.length);
      }
      if (isFinal(record.status) || options.signal?.aborted) return record;
      const wait = local ? (this.deps.followLocalMs ?? 200) : (this.deps.followRemoteMs ?? 1000);
      await sleep(wait, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }

  async submit(submission: BuildSubmission): Promise<BuildRecord> {
    const { image, tag } = submission;
    if (!isValidName(image)) {
      throw new RegistryError('NAME_INVALID', `${JSON.stringify(image)} is not a valid image name: expected package names separated by "/", lowercase (e.g. shell/git)`, { detail: { image } });
    }
    if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', `${JSON.stringify(tag)} is not a valid tag: expected up to 128 of [A-Za-z0-9_.-], not starting with . or -`, { detail: { tag } });
    const { trigger, client, retryOf, delivery } = submission;
    if (submission.app) {
      if (!this.deps.images.submitSource) throw new RegistryError('UNSUPPORTED', 'this registry does not build images from application source (see the README: nixpacks and bubblewrap)');
      return this.deps.images.submitSource(image, tag, submission.app, { trigger, client, arch: submission.arch, retryOf, delivery });
    }
    const request = parseImageName(image, tag);
    const arch = submission.arch;
    if (arch !== undefined && !(arch in ARCHITECTURES)) {
      throw new RegistryError('PARAMETER_INVALID', `arch ${JSON.stringify(arch)} is not known: expected one of ${Object.keys(ARCHITECTURES).join(', ')}`, { detail: { arch } });
    }
    if (arch !== undefined && request.arch !== undefined && arch !== request.arch) {
      throw new RegistryError('PARAMETER_INVALID', `the name ${image} picks ${request.arch} but arch is ${arch}: give one of them`, { detail: { image, arch } });
    }
    return this.deps.images.submit(request, { trigger, client, arch: arch as Architecture | undefined, retryOf, delivery });
  }

  async cancel(id: string): Promise<BuildRecord> {
    const record = await this.require(id);
    if (isFinal(record.status)) throw new RegistryError('BUILD_FINISHED', `build ${id} has already ${record.status}: only queued or running builds can be cancelled`, { detail: { id, status: record.status } });
    const local = this.deps.runner.local(id);
    if (local && this.deps.runner.cancel(id, 'cancelled through the API')) {
      const waited = new AbortController();
      await Promise.race([local.done.catch(() => undefined), sleep(CANCEL_WAIT_MS, undefined, { signal: waited.signal }).catch(() => undefined)]);
      waited.abort();
      return local.record;
    }
    // Another instance runs it: it sees the request within seconds.
    await this.store.requestCancel(id);
    if (record.status !== 'queued') return record;
    // A queued build may wait where nobody looks for requests (the RabbitMQ queue, a stopped
    // instance): it ends now. Its instance, if it has one, stops it and writes the same.
    return (await this.deps.runner.end(id, { code: 'BUILD_CANCELLED', message: `build ${id} was cancelled through the API while queued` }, 'cancelled')) ?? record;
  }

  async retry(id: string, client: BuildClient): Promise<BuildRecord> {
    const record = await this.require(id);
    if (record.status !== 'failed' && record.status !== 'cancelled') {
      throw new RegistryError('BUILD_NOT_RETRYABLE', `build ${id} ${isFinal(record.status) ? 'has' : 'is'} ${record.status}: only failed or cancelled builds can be retried`, { detail: { id, status: record.status } });
    }
    return this.submit({ image: record.image, tag: record.tag, arch: record.arch, trigger: 'api', client, retryOf: id, app: record.source && appOf(record.source, id), delivery: deliveryOf(record) });
  }

  async stats(): Promise<BuildStats> {
    const ids = (await this.store.ids()).slice(0, STATS_WINDOW);
    const records = (await mapLimit(ids, 16, (id) => this.get(id))).filter((record): record is BuildRecord => record !== undefined);
    const counts = Object.fromEntries(BUILD_STATUSES.map((status) => [status, 0])) as Record<BuildStatus, number>;
    for (const record of records) counts[record.status] += 1;
    const now = this.now();
    const succeeded = records.filter((record) => record.status === 'succeeded');
    const average = (values: number[]) => (values.length === 0 ? null : Math.round(values.reduce((sum, value) => sum + value, 0) / values.length));
    const averageDurationMs: BuildStats['averageDurationMs'] = { total: average(succeeded.map((record) => totalDuration(record, now))) };
    for (const status of BUILD_STATUSES.filter((candidate) => !isFinal(candidate))) {
      const value = average(succeeded.flatMap((record) => phaseDurations(record, now)[status] ?? []));
      if (value !== null) averageDurationMs[status] = value;
    }
    const instance = this.deps.runner.load();
    return {
      window: records.length,
      counts,
      queued: counts.queued,
      running: BUILD_STATUSES.filter((status) => status !== 'queued' && !isFinal(status)).reduce((sum, status) => sum + counts[status], 0),
      succeeded: counts.succeeded,
      failed: counts.failed,
      cancelled: counts.cancelled,
      averageDurationMs,
      instance,
      queue: this.deps.queue
        ? { backend: 'rabbitmq', ...(await this.deps.queue.counts()) }
        : { backend: 'in-process', connected: true, waiting: instance.queued, consumers: 1, retrying: 0, dead: 0 },
    };
  }
}

/** Where a retried build's image goes: the same targets, tags and callback (its token kept in storage). */
function deliveryOf(record: BuildRecord): BuildDelivery {
  return {
    push: record.pushes?.map((push) => push.to) ?? [],
    callback: record.callback && { url: record.callback.url, sameTokenAs: record.id },
    moves: record.moves,
    app: record.app,
  };
}

/**
 * The source of a build from application source to retry, from its record. Credentials in its
 * repository URL were never kept, so such a build is submitted again by whoever has them.
 */
function appOf(source: BuildSource, id: string): AppSubmission {
  if (source.repo.includes('***@')) {
    throw new RegistryError('BUILD_NOT_RETRYABLE', `build ${id} fetched a repository URL with credentials, which nixyard does not keep: submit the build again with them`, { detail: { id } });
  }
  return { repo: source.repo, ref: source.ref ?? undefined, dir: source.dir, ...source.overrides, buildTimeout: source.timeoutSeconds };
}
