/**
 * Runs builds on this instance and keeps their records: one record per build, created `queued`
 * before the build waits for one of the `NIXYARD_MAX_BUILDS` slots, saved at every phase change
 * and when it ends; the log is kept in memory (capped) and written to storage about once a
 * second while it grows, so other instances can read and follow it. A build of an image that
 * is already building here is joined, not started twice (the key is the manifest cache key).
 * Cancelling aborts the build's signal, which stops Nix; another instance asks for a cancel by
 * writing a cancel request, which the running instance checks every few seconds.
 *
 * A build refused by its client's build limits (see `client-limits.ts`) is decided here: a pull
 * is refused at once and leaves no record (its client waits for the answer: a 429); any other
 * build (API, webhook, queued job) waits `queued` for the `Retry-After` and tries again, and the
 * refused attempt does not count as one.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError, toRegistryError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatBytes, formatDuration } from '../units.js';
import { Semaphore } from '../concurrency.js';
import { CappedLog } from './capped-log.js';
import { limitRefusal } from './client-limits.js';
import { enterStatus, fail, isFinal, newBuildId, newRecord, requeue, succeed, type BuildArtifact, type BuildLayer, type BuildRecord, type BuildStatus, type NewBuild } from './record.js';
import type { BuildRecordStore } from './record-store.js';

/** Statuses a build's work reports while it runs. */
export type ActivePhase = Exclude<BuildStatus, 'queued' | 'succeeded' | 'failed' | 'cancelled'>;

/** What a build's work adds to its record as it learns it (builds from source: the commit, the plan, the packages; pushes; tags). */
export type RecordAnnotation = Partial<Pick<BuildRecord, 'packages' | 'source' | 'plan' | 'revision' | 'pushes' | 'tags'>>;

/** What a running build's work reports through. */
export interface BuildProgress {
  /** The build's id (its record's). */
  readonly id: string;
  /** Aborts when the build is cancelled. */
  readonly signal: AbortSignal;
  /** The build enters a phase (no-op when it is already there); logs a line saying so. */
  phase(status: ActivePhase, detail?: string): void;
  /** Adds what the work learnt to the record (written at once, in order). */
  annotate(annotation: RecordAnnotation): void;
  /** Appends text as it came (Nix's stderr). */
  output(text: string): void;
  /** Appends one line of nixyard's own, with the time. */
  note(line: string): void;
}

/** What a successful build's work returns: its value and what the record keeps of it. */
export interface BuildOutcome<T> {
  value: T;
  layers: BuildLayer[];
  manifestDigest: string;
  /** What was attached to the image (its SBOMs). */
  artifacts?: BuildArtifact[];
}

/** What to build: the record's fields and the key that identifies the same build. */
export interface BuildSpec extends Omit<NewBuild, 'id' | 'instance'> {
  /** Builds with the same key are the same build (the manifest cache key). */
  key: string;
  /** The phase an attempt starts in (`evaluating`; `fetching` for builds from source). */
  firstPhase?: ActivePhase;
}

/**
 * Whether a build may join a running build of the same key instead of starting: not when it has
 * a source to fetch, push targets or a callback of its own, which the running build would not
 * honour. Such a build waits for the running one, then runs.
 */
export function mayJoin(spec: BuildSpec): boolean {
  return spec.source === undefined && (spec.push ?? []).length === 0 && spec.callback === undefined;
}

/** What happens to a failed build the runner was told to ask about (queued builds). */
export type FailureVerdict =
  /** Back to `queued` for another attempt; `note` (the log) says when. */
  | { requeue: true; note: string }
  /** The build fails; `note`, when given, is added to the error message. */
  | { requeue: false; note?: string };

/** How a build is started besides what it builds. */
export interface StartOptions {
  /**
   * Runs the build of this existing record (a queued job, or one whose replica died) instead
   * of a new one: the record is taken over by this instance, keeps its id and history and
   * counts one more attempt. Such a build does not join a running build of the same image: it
   * waits for it and then runs (finding the image built).
   */
  adopt?: { record: BuildRecord; log: string };
  /** Asked when the build fails (not when it is cancelled or abandoned). */
  onFailure?: (failure: RegistryError, attempts: number) => FailureVerdict;
}

/** A build running (or waiting for a slot) on this instance. */
export interface RunningBuild<T> {
  readonly id: string;
  readonly key: string;
  /** The record as it is now. */
  readonly record: BuildRecord;
  readonly log: CappedLog;
  /** Settles with the build: its value, or its error (`BUILD_CANCELLED` when cancelled). */
  readonly done: Promise<T>;
  /**
   * Settles with the value as soon as the work has it, before the record says `succeeded` and
   * the log is written (what a pull waits for); with `done`'s error when it fails.
   */
  readonly ready: Promise<T>;
  /** Settles once the queued record is in storage (rejects when storage failed). */
  readonly saved: Promise<void>;
  /** Whether the build was given up here for another instance (see {@link BuildRunner.abandon}). */
  readonly handedBack: boolean;
}

/** What the runner needs. */
export interface BuildRunnerDeps {
  store: BuildRecordStore;
  slots: Semaphore;
  /** Name of this instance in records. */
  instance: string;
  /** Characters of each build's log kept (`NIXYARD_BUILD_LOG_LIMIT`). */
  logLimit: number;
  log: Logger;
  now?: () => Date;
  /** How often a running build's log is written and its cancel request checked. */
  flushIntervalMs?: number;
  /** Hears of every status a build enters (`queued` included), once the record is written; must not block. */
  onStatus?: (record: BuildRecord) => void;
}

/** Seconds between rewrites of a running build's record with nothing new, so readers see it is alive. */
export const HEARTBEAT_SECONDS = 20;

/** A build in memory: the record, its log and the bookkeeping of what storage has. */
class ActiveBuild<T> implements RunningBuild<T> {
  record: BuildRecord;
  readonly log: CappedLog;
  readonly controller = new AbortController();
  done!: Promise<T>;
  saved!: Promise<void>;
  readonly ready: Promise<T>;
  /** Settle {@link ready}; the first call wins. */
  settleReady!: { resolve(value: T): void; reject(error: unknown): void };
  private writes: Promise<void> = Promise.resolve();
  private logWritten = 0;
  private discarded = false;
  /** Set when the build is given up here without a final record (see {@link BuildRunner.abandon}). */
  abandoned: { handBack: boolean } | undefined;
  recordWrittenAt = 0;

  constructor(
    readonly key: string,
    /** The phase each attempt starts in. */
    readonly firstPhase: ActivePhase,
    record: BuildRecord,
    logLimit: number,
    private readonly deps: BuildRunnerDeps,
  ) {
    this.record = record;
    this.log = new CappedLog(logLimit);
    this.ready = new Promise<T>((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    // Its failure is also `done`'s, which whoever waits handles.
    this.ready.catch(() => undefined);
  }

  get id(): string {
    return this.record.id;
  }

  get handedBack(): boolean {
    return this.abandoned !== undefined;
  }

  now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  note(line: string): void {
    this.log.append(`[${this.now().toISOString()}] ${line}\n`);
  }

  /** Replaces the record and queues its write (writes stay in order); rejects when that write fails. */
  save(record: BuildRecord): Promise<void> {
    this.record = record;
    return this.write(() => this.deps.store.save(record).then(() => {
      this.recordWrittenAt = Date.now();
    }));
  }

  /** {@link save} for callers that leave failures to the log: never rejects. */
  update(record: BuildRecord): Promise<void> {
    return this.save(record).catch(() => undefined);
  }

  /** {@link update} for a new status: the observer hears of it once it is written. */
  async transition(record: BuildRecord): Promise<void> {
    await this.update(record);
    this.announce(record);
  }

  /**
   * {@link transition} to a final status, after the log's last lines: writes are in order, so
   * whoever sees the final record (another instance following the build) finds the whole log.
   */
  async finish(record: BuildRecord): Promise<void> {
    void this.flushLog().catch(() => undefined);
    await this.transition(record);
  }

  /**
   * {@link transition} for callers that go on at once (phases while the build works): its write
   * is queued now, in order, and the final record's write comes after it; it never rejects.
   */
  enter(record: BuildRecord): void {
    this.transition(record).catch(() => undefined);
  }

  /** Tells the observer about `record`'s status; an observer's failure is only logged. */
  announce(record: BuildRecord): void {
    try {
      this.deps.onStatus?.(record);
    } catch (error) {
      this.deps.log.warn('build status observer failed', { id: this.id, status: record.status, error: String(error) });
    }
  }

  /** Writes the log if it grew since the last write. */
  flushLog(): Promise<void> {
    if (this.log.total === this.logWritten) return this.writes;
    const { text, total } = this.log.snapshot();
    return this.write(async () => {
      await this.deps.store.saveLog(this.id, text);
      this.logWritten = total;
    });
  }

  /** Drops the build from storage once the writes in flight are done; nothing is written after. */
  async discard(): Promise<void> {
    this.stopWriting();
    await this.writes;
    await this.deps.store.remove(this.id);
  }

  /** Writes nothing more (what is in flight still lands). */
  stopWriting(): void {
    this.discarded = true;
  }

  private write(task: () => Promise<void>): Promise<void> {
    const next = this.writes.then(() => (this.discarded ? undefined : task()));
    // A failed write is logged; the next one tries again with newer content.
    this.writes = next.catch((error: unknown) => this.deps.log.warn('could not write build record', { id: this.id, error: String(error) }));
    return next;
  }
}

/** This instance's builds as stats show them: running, waiting for a slot, and the slots. */
export interface InstanceLoad {
  /** The instance's name in records. */
  id: string;
  running: number;
  queued: number;
  maxBuilds: number;
}

/** Starts, tracks and cancels builds on this instance. */
export class BuildRunner<T> {
  private readonly byKey = new Map<string, ActiveBuild<T>>();
  private readonly byId = new Map<string, ActiveBuild<T>>();
  /** Changes of records of builds no longer running here, in order per build. */
  private readonly amending = new Map<string, Promise<void>>();

  constructor(private readonly deps: BuildRunnerDeps) {}

  /** Builds this instance runs or has waiting, until their last write is done. */
  get size(): number {
    return this.byId.size;
  }

  /** Builds running and waiting for a slot here. */
  load(): InstanceLoad {
    const { slots } = this.deps;
    return { id: this.deps.instance, running: slots.running, queued: slots.queued, maxBuilds: slots.size };
  }

  /** The build with this id if this instance runs it. */
  local(id: string): RunningBuild<T> | undefined {
    return this.byId.get(id);
  }

  /**
   * Starts a build of `spec` with `work`, or returns the build with the same key already
   * running; with `options.adopt`, runs the build of that record (see {@link StartOptions}).
   */
  startOrJoin(spec: BuildSpec, work: (progress: BuildProgress) => Promise<BuildOutcome<T>>, options: StartOptions = {}): RunningBuild<T> {
    const joined = this.byKey.get(spec.key);
    if (joined && !options.adopt && mayJoin(spec)) return joined;
    const now = this.now();
    const { key, firstPhase, ...fields } = spec;
    const record = options.adopt ? requeue(options.adopt.record, now, this.deps.instance) : newRecord({ ...fields, id: this.newId(now), instance: this.deps.instance }, now);
    const build = new ActiveBuild<T>(key, firstPhase ?? 'evaluating', record, this.deps.logLimit, this.deps);
    const { id } = build;
    if (!joined) this.byKey.set(key, build);
    this.byId.set(id, build);
    if (options.adopt) {
      build.log.append(options.adopt.log);
      build.note(`queued: attempt ${record.attempts + 1} picked up by ${this.deps.instance}${options.adopt.record.status === 'queued' ? '' : ` (attempt ${record.attempts} on ${options.adopt.record.instance} stopped while ${options.adopt.record.status})`}`);
    } else {
      build.note(queuedLine(spec));
    }
    build.saved = build.save(build.record);
    const before = joined?.done.then(
      () => undefined,
      () => undefined,
    );
    build.done = this.execute(build, work, options, before).finally(() => {
      if (this.byKey.get(key) === build) this.byKey.delete(key);
      this.byId.delete(id);
    });
    // A failure reaches `ready` only once the build is no longer joined: a retry starts afresh.
    build.done.catch((error: unknown) => build.settleReady.reject(error));
    return build;
  }

  /**
   * Writes the record of a build that will run elsewhere (a job for the queue): `queued`, on
   * no instance yet, then hands it to `publish`. Resolves once both are done; when publishing
   * fails, the record is removed again and the error thrown.
   */
  async create(spec: BuildSpec, publish?: (record: BuildRecord) => Promise<void>): Promise<BuildRecord> {
    const now = this.now();
    const { key: _key, firstPhase: _first, ...fields } = spec;
    const record = newRecord({ ...fields, id: this.newId(now), instance: '' }, now);
    const { store } = this.deps;
    await store.save(record);
    await store.saveLog(record.id, `[${now.toISOString()}] ${queuedLine(spec)}; waiting for a replica\n`);
    try {
      await publish?.(record);
    } catch (error) {
      await store.remove(record.id).catch(() => undefined);
      throw error;
    }
    return record;
  }

  /**
   * Ends the record of a build that no instance runs (waiting in the queue, or left by a
   * stopped instance), unless it has ended already; resolves with the record as it then is.
   */
  async end(id: string, error: Parameters<typeof fail>[1], status: 'failed' | 'cancelled'): Promise<BuildRecord | undefined> {
    const now = this.now();
    return this.amend(id, (current) => (isFinal(current.status) ? current : fail(current, error, now, status)));
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private newId(now: Date): string {
    return newBuildId(now, randomBytes(4).toString('hex'));
  }

  /**
   * Changes a record with `change`: in memory (and then storage) while this instance runs the
   * build, else in storage, one change at a time per build. Resolves with the new record, or
   * `undefined` when there is none with that id.
   */
  async amend(id: string, change: (record: BuildRecord) => BuildRecord): Promise<BuildRecord | undefined> {
    const local = this.byId.get(id);
    if (local) {
      const next = change(local.record);
      await local.save(next);
      return next;
    }
    const { store } = this.deps;
    const task = (this.amending.get(id) ?? Promise.resolve()).then(async () => {
      const record = await store.load(id);
      if (!record) return undefined;
      const next = change(record);
      await store.save(next);
      return next;
    });
    // The next change of this build waits for this one, whatever its outcome; the last one cleans up.
    const done: Promise<void> = task.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      if (this.amending.get(id) === done) this.amending.delete(id);
    });
    this.amending.set(id, done);
    return task;
  }

  /**
   * Cancels every build of this instance (the registry is stopping) and waits until their
   * records are final and written, so nothing is written after.
   */
  async close(why = 'the registry stopped'): Promise<void> {
    const builds = [...this.byId.values()];
    for (const build of builds) this.cancel(build.id, why);
    await Promise.allSettled(builds.map((build) => build.done));
    await Promise.allSettled(this.amending.values());
  }

  /**
   * Gives up a build here without ending it, for another instance to run (its queue message
   * goes back to RabbitMQ unacknowledged). With `handBack` the record is written `queued` first
   * (this instance is stopping); without, nothing more is written (the connection to the queue
   * was lost, and another instance may own the record already). False when no such build runs.
   */
  abandon(id: string, why: string, handBack: boolean): boolean {
    const build = this.byId.get(id);
    if (!build) return false;
    build.abandoned = { handBack };
    build.controller.abort(new RegistryError('UNAVAILABLE', `build ${id} was handed to another instance (${why}); retry`, { detail: { id } }));
    return true;
  }

  /** Cancels a build this instance runs; false when it runs none with that id. */
  cancel(id: string, why: string): boolean {
    const build = this.byId.get(id);
    if (!build) return false;
    build.controller.abort(new RegistryError('BUILD_CANCELLED', `build ${id} was cancelled (${why})`, { detail: { id } }));
    return true;
  }

  private async execute(build: ActiveBuild<T>, work: (progress: BuildProgress) => Promise<BuildOutcome<T>>, options: StartOptions, before?: Promise<void>): Promise<T> {
    const { signal } = build.controller;
    const progress: BuildProgress = {
      id: build.record.id,
      signal,
      phase: (status, detail) => {
        if (build.record.status === status || signal.aborted) return;
        build.note(detail ? `${status}: ${detail}` : status);
        build.enter(enterStatus(build.record, status, build.now()));
      },
      annotate: (annotation) => {
        if (!signal.aborted) build.enter({ ...build.record, ...annotation, updatedAt: build.now().toISOString() });
      },
      output: (text) => build.log.append(text),
      note: (line) => build.note(line),
    };
    const ticker = this.startTicker(build);
    try {
      await build.saved;
      build.announce(build.record);
      if (before) {
        build.note('waiting for the build of the same image running here to end');
        await before;
      }
      const outcome = await this.attempt(build, work, progress);
      build.settleReady.resolve(outcome.value);
      build.note(`succeeded: manifest ${outcome.manifestDigest}, ${outcome.layers.length} layers, ${formatBytes(outcome.layers.reduce((sum, layer) => sum + layer.size, 0))}`);
      await build.finish(succeed(build.record, { layers: outcome.layers, manifestDigest: outcome.manifestDigest, artifacts: outcome.artifacts }, build.now()));
      return outcome.value;
    } catch (error) {
      const cancelled = signal.aborted;
      const failure = cancelled ? toRegistryError(signal.reason) : toRegistryError(error);
      // A pull refused by its client's limits never ran: it leaves no record.
      if (!cancelled && limitRefusal(failure)) {
        await build.discard().catch(() => undefined);
        throw error;
      }
      if (build.abandoned) {
        build.note(`handed back: ${failure.message}`);
        if (build.abandoned.handBack) await build.transition(requeue(build.record, build.now(), ''));
        else build.stopWriting();
        throw failure;
      }
      if (!cancelled) this.deps.log.warn('build failed', { id: build.id, image: build.record.image, arch: build.record.arch, attempt: build.record.attempts, code: failure.code, message: failure.message });
      const verdict = cancelled ? undefined : options.onFailure?.(failure, build.record.attempts);
      if (verdict?.requeue) {
        build.note(`attempt ${build.record.attempts} failed: ${failure.code}: ${failure.message}; ${verdict.note}`);
        // On no instance until a replica takes the job again.
        await build.transition(requeue(build.record, build.now(), ''));
        throw error;
      }
      const message = verdict?.note ? `${failure.message} (${verdict.note})` : failure.message;
      build.note(`${cancelled ? 'cancelled' : 'failed'}: ${failure.code}: ${message}`);
      await build.finish(fail(build.record, { code: failure.code, message }, build.now(), cancelled ? 'cancelled' : 'failed'));
      throw cancelled ? failure : error;
    } finally {
      await ticker.stop();
      await build.flushLog().catch(() => undefined);
      if (build.record.status === 'cancelled') await this.deps.store.clearCancel(build.id).catch(() => undefined);
    }
  }

  /**
   * Runs the work in a slot as the next attempt. A build other than a pull that its client's
   * limits refuse waits `queued` (holding no slot) for the refusal's `Retry-After` and runs
   * again; the refused attempt is given back, so that attempts count real runs only.
   */
  private async attempt(build: ActiveBuild<T>, work: (progress: BuildProgress) => Promise<BuildOutcome<T>>, progress: BuildProgress): Promise<BuildOutcome<T>> {
    const { signal } = build.controller;
    for (;;) {
      const attempts = build.record.attempts;
      let wait: number;
      const release = await this.deps.slots.acquire(signal);
      try {
        build.note(`${build.firstPhase}: attempt ${attempts + 1} on ${this.deps.instance}`);
        build.enter({ ...enterStatus(build.record, build.firstPhase, build.now()), attempts: attempts + 1 });
        const outcome = await work(progress);
        signal.throwIfAborted();
        return outcome;
      } catch (error) {
        const failure = toRegistryError(error);
        const refusal = signal.aborted || build.record.trigger === 'pull' ? undefined : limitRefusal(failure);
        if (!refusal) throw error;
        wait = refusal.retryAfterMs;
        build.note(`queued: ${failure.message}; this build waits and tries again in ${formatDuration(wait)}`);
        await build.transition({ ...requeue(build.record, build.now(), this.deps.instance), attempts });
      } finally {
        release();
      }
      await sleep(wait, undefined, { signal });
    }
  }

  /**
   * Writes the log while it grows, keeps the record fresh, and checks for cancel requests;
   * `stop` ends the ticks and waits for the one in flight.
   */
  private startTicker(build: ActiveBuild<T>): { stop(): Promise<void> } {
    const interval = this.deps.flushIntervalMs ?? 1000;
    const checkEvery = Math.max(1, Math.round(3000 / interval));
    let ticks = 0;
    let tick: Promise<unknown> | undefined;
    const ticker = setInterval(() => {
      if (tick) return;
      ticks += 1;
      const tasks: Promise<unknown>[] = [build.flushLog()];
      if (Date.now() - build.recordWrittenAt > HEARTBEAT_SECONDS * 1000) tasks.push(build.update({ ...build.record, updatedAt: build.now().toISOString() }));
      if (ticks % checkEvery === 0) {
        tasks.push(
          this.deps.store.cancelRequested(build.id).then((asked) => {
            if (asked) this.cancel(build.id, 'asked through another instance');
          }),
        );
      }
      tick = Promise.allSettled(tasks).then(() => (tick = undefined));
    }, interval);
    ticker.unref();
    return {
      stop: async () => {
        clearInterval(ticker);
        await tick;
      },
    };
  }
}

/** The log line of a new build: what it builds, for whom, from which package set (and repository). */
function queuedLine(spec: BuildSpec): string {
  const what = spec.source ? `${spec.source.repo} ${spec.source.ref ?? '(default branch)'}${spec.source.dir ? ` in ${spec.source.dir}` : ''}` : `packages ${spec.packages.join(' ')}`;
  return `queued: ${spec.image}:${spec.tag} for ${spec.arch} (${spec.trigger}), ${what}, package set revision ${spec.revision}`;
}

let runnersInProcess = 0;

/**
 * `host:pid` (a second runner in the same process, as tests make, gets `host:pid/2`): another
 * process on the host tells an earlier life of this instance from a live neighbour by its pid.
 */
function instanceName(): string {
  runnersInProcess += 1;
  return `${hostname()}:${process.pid}${runnersInProcess > 1 ? `/${runnersInProcess}` : ''}`;
}

/** A runner keeping its records in `records`, with the given limits, named after this host and process; `onStatus` hears of every status builds enter. */
export function createBuildRunner<T>(options: { records: BuildRecordStore; maxBuilds: number; logLimit: number; log: Logger; instance?: string; onStatus?: BuildRunnerDeps['onStatus'] }): BuildRunner<T> {
  return new BuildRunner<T>({
    store: options.records,
    slots: new Semaphore(options.maxBuilds),
    instance: options.instance ?? instanceName(),
    logLimit: options.logLimit,
    log: options.log,
    onStatus: options.onStatus,
  });
}
