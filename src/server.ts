/**
 * Start-up: from a validated config to a listening server. Creates storage, the package
 * source, Nix and the builder, the build runner, the images side, the queue when there is one,
 * and wires them into the app: the one place that knows every part (ARCHITECTURE.md draws how
 * they meet). Separate from `createApp` so that tests can build apps from their own parts.
 */
import express, { type RequestHandler } from 'express';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { loadServerPopularity } from './popularity/load.js';
import { createFilesystemStorage } from '../storage/filesystem.js';
import { READINESS_PROBE_KEY } from '../storage/keys.js';
import { sweepStaging } from '../storage/sweep-staging.js';
import type { Storage } from '../storage/types.js';
import { backoffSchedule } from './backoff.js';
import { processAlive } from './processes.js';
import { createNix, type Nix } from './builder/nix.js';
import { timedNix } from './builder/timed-nix.js';
import { observeFinishedBuild } from './builds/build-metrics.js';
import { buildsActive, queueJobs } from './metrics/metrics.js';
import { metricsHandler, opsRouter } from './http/ops-routes.js';
import { cachedCheck, Readiness } from './ops/readiness.js';
import { PackageBuilder } from './builder/package-builder.js';
import { Nixpacks, NIXPACKS_PROVIDERS } from './builder/source/nixpacks.js';
import { Sandbox } from './builder/source/sandbox.js';
import { SourceBuilder } from './builder/source/source-builder.js';
import type { ImageBuildPlan } from './builder/types.js';
import { BuildLimiter } from './builds/build-limits.js';
import { createBuildRunner } from './builds/build-runner.js';
import { BuildService } from './builds/build-service.js';
import { ClientLimits } from './builds/client-limits.js';
import type { BuilderType, BuildOrigin } from './builds/types.js';
import type { BuildRecord } from './builds/record.js';
import { BuildRecordStore } from './builds/record-store.js';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { AppStore } from './apps/app-store.js';
import { ConnectedApps } from './apps/connected-apps.js';
import { appsApiRouter } from './http/apps-api.js';
import { appsPagesRouter } from './http/apps-pages.js';
import { buildsApiRouter } from './http/builds-api.js';
import { buildsPagesRouter } from './http/builds-pages.js';
import { indexPageRouter } from './http/index-page.js';
import { webhooksRouter } from './http/webhooks.js';
import { ARCHITECTURES, type ImageRequest } from './image/image-name.js';
import type { ImageManifests } from './image/manifest.js';
import { createImages, type SourceImages } from './images/index.js';
import type { Popularity } from './layers/types.js';
import type { Logger } from './log.js';
import { CallbackStore } from './notify/callback-store.js';
import { Callbacks } from './notify/callbacks.js';
import { Notifier } from './notify/notifier.js';
import { Pusher } from './push/pusher.js';
import { parsePushTarget } from './push/reference.js';
import { packageExamples } from './pkgsource/examples.js';
import { createPackageSource } from './pkgsource/index.js';
import type { PackageSource } from './pkgsource/types.js';
import { JobConsumer } from './queue/job-consumer.js';
import { QueuedBuilds } from './queue/queued-builds.js';

/** A running registry. */
export interface RunningServer {
  server: Server | HttpsServer;
  port: number;
  /** The port of `/metrics` when it has one of its own (NIXYARD_METRICS_PORT). */
  metricsPort?: number;
  /** Reads the files that may change while it runs again (the htpasswd file): SIGHUP. */
  reload(): Promise<void>;
  /**
   * Stops taking new work: `/readyz` answers 503 draining, builds that would start here are
   * refused (503), and running ones get up to NIXYARD_DRAIN_SECONDS to finish. Requests are still served.
   */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Optional replacements for tests (a failing Nix, a given storage). */
export interface ServerOverrides {
  nix?: Nix;
  storage?: Storage;
  popularity?: Popularity;
}

/**
 * Builds of images from application source: nixpacks plans, run in bubblewrap sandboxes, work
 * and caches under the data directory. When nixpacks or bubblewrap do not run here, builds from
 * source fail with an error saying how to install them (logged at start too).
 */
async function sourceImages(config: Config, deps: { packages: PackageBuilder; storage: Storage; packageSource: PackageSource; log: Logger }): Promise<{ source: SourceImages; builderTypes: () => Promise<BuilderType[]> }> {
  const settings = config.sourceBuilds;
  const nixpacks = new Nixpacks(settings.nixpacks);
  const sandbox = new Sandbox();
  const check = async () => {
    const [planner, bwrap] = await Promise.allSettled([nixpacks.version(), sandbox.check()]);
    const problems = [planner, bwrap].flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as Error).message] : []));
    return { version: planner.status === 'fulfilled' ? planner.value : null, sandbox: bwrap.status === 'fulfilled' ? bwrap.value : null, problems };
  };
  const found = await check();
  if (found.problems.length > 0) deps.log.warn('builds from application source will fail', { why: found.problems.join('; ') });
  else deps.log.info('builds from application source', { nixpacks: found.version, sandbox: found.sandbox, prefix: settings.prefix, network: settings.network });
  const builderTypes = async (): Promise<BuilderType[]> => {
    const now = await check();
    return [
      { kind: 'packages', description: 'images from package names of the package set (any name outside the apps prefix)', version: null, providers: [], available: true, names: '<package>/<package>/…' },
      { kind: 'nixpacks', description: 'images from application source: a nixpacks plan, built in a bubblewrap sandbox', version: now.version, providers: [...NIXPACKS_PROVIDERS], available: now.problems.length === 0, names: `${settings.prefix}/…` },
    ];
  };
  const dataDir = resolve(config.dataDir);
  const builder = new SourceBuilder({
    packages: deps.packages,
    storage: deps.storage,
    nixpacks,
    sandbox,
    workDir: join(dataDir, 'source'),
    cacheDir: join(dataDir, 'source-cache'),
    cacheLimitBytes: settings.cacheLimitBytes,
    network: settings.network,
    nixpkgsAt: settings.nixpkgsArchive ? deps.packageSource.atCommit?.bind(deps.packageSource) : undefined,
  });
  return { source: { builder, prefix: settings.prefix, maxTimeoutSeconds: settings.timeoutSeconds, allowLocal: settings.allowLocal }, builderTypes };
}

/**
 * Pushes to external registries with skopeo, when it runs here (else builds naming push targets
 * are refused, saying how to install it); the default targets are checked at start-up.
 */
async function createPusher(config: Config, storage: Storage, log: Logger): Promise<Pusher | undefined> {
  const settings = config.push;
  for (const to of settings.defaults) {
    try {
      if (parsePushTarget(to).tag !== undefined) throw new Error('names a tag: default targets are repositories, the build gives the tags');
    } catch (error) {
      throw new Error(`NIXYARD_PUSH_DEFAULT: ${(error as Error).message}`);
    }
  }
  const pusher = await Pusher.create(storage, settings, join(resolve(config.dataDir), 'push'));
  try {
    log.info('pushes to external registries', { skopeo: await pusher.version(), authFile: settings.authFile ?? 'none', defaults: settings.defaults.join(',') || 'none' });
    return pusher;
  } catch (error) {
    log.warn('builds with push targets will be refused', { why: (error as Error).message });
    if (settings.defaults.length > 0) throw new Error(`NIXYARD_PUSH_DEFAULT is set but ${(error as Error).message}`);
    return undefined;
  }
}

/** `/metrics` alone on a port of its own (NIXYARD_METRICS_PORT), e.g. one the load balancer does not expose. */
async function listenForMetrics(port: number, host: string, handler: RequestHandler, log: Logger): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', handler);
  const server = createServer(app);
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ready());
  });
  log.info('metrics listening', { port: (server.address() as AddressInfo).port, host, path: '/metrics' });
  return server;
}

async function createStorage(config: Config): Promise<Storage> {
  if (config.storage.backend === 'filesystem') return createFilesystemStorage(resolve(config.storage.path));
  // Loaded only when used: the GCS client is the largest dependency (~28 MB of memory).
  const { createGcsStorage } = await import('../storage/gcs.js');
  return createGcsStorage(config.storage);
}

/** Starts the registry described by `config`. */
export async function startServer(config: Config, log: Logger, overrides: ServerOverrides = {}): Promise<RunningServer> {
  // Access control's modules (jose, bcryptjs: ~MBs) are loaded only when it is on.
  const access = config.auth.mode === 'off' ? undefined : await (await import('./auth/index.js')).loadAccess(config, log);
  const storage = overrides.storage ?? (await createStorage(config));
  const { serveOnly } = config.operations;
  if (serveOnly) log.info('serving only: this instance builds nothing (NIXYARD_SERVE_ONLY), it serves what storage holds');
  const nix = timedNix(overrides.nix ?? createNix({ timeoutSeconds: config.nixTimeoutSeconds, rootsDir: join(resolve(config.dataDir), 'gcroots'), spare: config.nixSpare, log }));
  if (!serveOnly && !overrides.nix) log.info('nix found', { version: await nix.version() });
  const packageSource = createPackageSource(config.packageSource);
  const popularity = overrides.popularity ?? (await loadServerPopularity(config, log)).popularity;
  const builder = new PackageBuilder({
    storage,
    nix,
    popularity: () => popularity,
    layerBudget: config.layerBudget,
    log,
  });
  // Notifications of status changes, written into the records through the runner (NIXYARD_NOTIFY_URL).
  const notifier: Notifier | undefined = config.notify && new Notifier(config.notify, { log, amend: (id, change) => runner.amend(id, change) });
  // Callbacks of single builds (the `callback` of a build or its app), their tokens in storage.
  const callbackStore = new CallbackStore(storage);
  const callbacks = new Callbacks({ store: callbackStore, amend: (id, change) => runner.amend(id, change), attempts: config.callbacks.attempts, allowPrivate: config.callbacks.allowPrivate, log });
  const records = new BuildRecordStore(storage);
  const onStatus = (record: BuildRecord) => {
    observeFinishedBuild(record);
    notifier?.notify(record);
    callbacks.notify(record);
  };
  const runner = createBuildRunner<ImageManifests>({ records, maxBuilds: config.maxBuilds, logLimit: config.buildLogLimit, log, onStatus });
  const limits = config.buildLimits.maxConcurrent > 0 || config.buildLimits.perMinute > 0 ? new ClientLimits(new BuildLimiter(config.buildLimits)) : undefined;
  if (limits) log.info('build limits per client', { maxConcurrent: config.buildLimits.maxConcurrent || 'unlimited', perMinute: config.buildLimits.perMinute || 'unlimited' });
  const platforms = { defaultArch: config.defaultArch, architectures: config.architectures };
  const { source, builderTypes } = await sourceImages(config, { packages: builder, storage, packageSource, log });
  const pusher = await createPusher(config, storage, log);
  const delivery = { pusher, defaultPush: config.push.defaults, appsPrefix: config.sourceBuilds.prefix, callbacks: callbackStore, allowPrivateCallbacks: config.callbacks.allowPrivate, publicHost: config.publicHost };
  let draining = false;
  const refusal = () =>
    serveOnly
      ? 'this instance does not build (NIXYARD_SERVE_ONLY=1): it serves the images its storage holds; pull from an instance that builds, or build the image there first'
      : draining
        ? 'this instance is stopping and starts no new builds: try again, another instance (or this one once restarted) will build it'
        : undefined;
  const { images, builds: imageBuilds, delivery: imageDelivery } = createImages({ storage, builder, packageSource, platforms, runner, cacheSize: config.manifestCacheSize, sboms: config.sboms, limits, refusal, source, delivery, log });
  // With NIXYARD_AMQP_URL, API and webhook builds go through RabbitMQ to whichever replica is free.
  let consumer: JobConsumer | undefined;
  const queue =
    config.queue &&
    (await (await import('./queue/rabbitmq.js')).RabbitJobQueue.open({
      url: config.queue.url,
      queue: config.queue.queue,
      prefetch: config.maxBuilds,
      retryDelaysMs: backoffSchedule(config.queue.maxAttempts, config.queue.retryDelaySeconds * 1000),
      log,
      onLost: () => consumer?.abandonAll('the connection to RabbitMQ was lost', false),
    }));
  // A serve-only instance publishes API builds for the instances that build, and runs none.
  if (queue && config.queue && !serveOnly) {
    const jobs = new JobConsumer({
      runner,
      records,
      start: (plan, options) => imageBuilds.start(plan, options),
      retryLater: (job, afterMs) => queue.retryLater(job, afterMs),
      maxAttempts: config.queue.maxAttempts,
      retryBaseMs: config.queue.retryDelaySeconds * 1000,
      log,
    });
    consumer = jobs;
    await queue.consume((delivery) => jobs.receive(delivery));
  }
  // API and webhook builds: pinned here, run here or by any replica through the queue.
  const queued = queue && new QueuedBuilds({ runner, queue, remember: (id, callback) => imageDelivery.remember(id, callback) });
  const submitPlan = (plan: ImageBuildPlan) => (queued ? queued.submit(plan) : imageBuilds.submit(plan));
  const builds = new BuildService({
    runner,
    records,
    images: {
      submit: async (request: ImageRequest, origin: BuildOrigin) => submitPlan(await imageBuilds.plan(request, origin)),
      submitSource: async (image, tag, app, origin) => submitPlan(await imageBuilds.planSource(image, tag, app, origin)),
    },
    queue,
  });
  // Connected repositories: every push of a watched branch builds the app (through `builds`).
  const apps = new ConnectedApps({ store: new AppStore(storage), builds, appsPrefix: config.sourceBuilds.prefix, allowLocal: config.sourceBuilds.allowLocal, allowPrivateCallbacks: config.callbacks.allowPrivate, log });
  // Serve-only instances have no Nix to ask which packages the set has.
  const examples = serveOnly
    ? async () => ['shell']
    : packageExamples({ source: packageSource, system: ARCHITECTURES[config.defaultArch].nixSystem, waitMs: 3000, timeoutMs: config.nixTimeoutSeconds * 1000, log });
  const pages = [
    indexPageRouter({ sourceDescription: packageSource.description, builds, examples, showBuilds: config.auth.mode === 'off' }),
    // Before the builds API, whose /v1 user guard and catch-all would take the forges' deliveries.
    webhooksRouter({ settings: config.webhooks, builds, log }),
    appsApiRouter(apps, access?.userGuard),
    buildsApiRouter(builds, access?.userGuard, builderTypes),
    buildsPagesRouter({ builds, guard: access?.userGuard }),
    appsPagesRouter({ apps, builds, guard: access?.userGuard }),
  ];
  const readiness = new Readiness([
    { name: 'storage', check: async () => void (await storage.stat(READINESS_PROBE_KEY)) },
    ...(serveOnly ? [] : [cachedCheck({ name: 'nix', check: async () => void (await nix.version()) }, 30_000)]),
    ...(queue
      ? [
          {
            name: 'rabbitmq',
            check: async () => {
              if (!(await queue.counts()).connected) throw new Error('not connected to RabbitMQ');
            },
          },
        ]
      : []),
  ]);
  const refreshMetrics = async () => {
    const load = runner.load();
    buildsActive.set({ state: 'running' }, load.running);
    buildsActive.set({ state: 'waiting' }, load.queued);
    if (!queue) return;
    const counts = await queue.counts();
    for (const state of ['waiting', 'retrying', 'dead'] as const) if (counts[state] !== null) queueJobs.set({ state }, counts[state]);
  };
  const { metricsToken, metricsPort } = config.operations;
  const ops = opsRouter({ readiness, metricsToken, refreshMetrics, serveMetrics: metricsPort === undefined });
  const app = createApp({ images, storage, packageSource, log, pages, auth: access, ops, trustProxy: config.operations.trustProxy });

  // node-forge (self-signed certificates) only when HTTPS is on.
  const tls = config.tls.mode === 'off' ? undefined : await (await import('./http/tls.js')).loadTls(config.tls, resolve(config.dataDir), log);
  const server = tls ? createHttpsServer(tls, app) : createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(config.port, config.host, () => ready());
  });
  const { port } = server.address() as AddressInfo;
  log.info('nixyard listening', { port, host: config.host, scheme: tls ? 'https' : 'http', source: packageSource.description, storage: storage.name });
  const metricsServer = metricsPort === undefined ? undefined : await listenForMetrics(metricsPort, config.host, metricsHandler({ metricsToken, refreshMetrics }), log);
  // Uploads abandoned by a crashed instance, and builds an earlier life of this instance left
  // running; swept while serving, awaited on close.
  const sweeping = Promise.all([
    sweepStaging(storage, new Date()).then(
      (removed) => removed > 0 && log.info('removed abandoned staging uploads', { removed }),
      (error: unknown) => log.warn('could not sweep staging/', { error: String(error) }),
    ),
    builds.endLeftRunning({ host: hostname(), isAlive: processAlive }).then(
      (ended) => ended > 0 && log.warn('ended builds an earlier run of this instance left running', { ended, code: 'BUILD_INTERRUPTED' }),
      (error: unknown) => log.warn('could not end the builds an earlier run left running', { error: String(error) }),
    ),
  ]);
  return {
    server,
    port,
    metricsPort: metricsServer && (metricsServer.address() as AddressInfo).port,
    reload: async () => {
      await access?.reload();
    },
    drain: async () => {
      draining = true;
      readiness.drain();
      const deadline = Date.now() + config.operations.drainSeconds * 1000;
      while (runner.load().running + runner.load().queued > 0 && Date.now() < deadline) await sleep(100);
    },
    close: async () => {
      // Queued builds go back to the queue for the other replicas (records `queued`, jobs not acknowledged).
      await queue?.stopConsuming();
      consumer?.abandonAll('the registry stopped', true);
      await consumer?.buildsStopped();
      await queue?.close();
      // Builds first: their log followers end with them, so the server can then close.
      await runner.close();
      await consumer?.settled();
      await new Promise<void>((done) => {
        server.close(() => done());
        // Keep-alive connections end as soon as their response does, not keepAliveTimeout (65 s) later.
        const idle = setInterval(() => server.closeIdleConnections(), 250);
        server.once('close', () => clearInterval(idle));
      });
      if (metricsServer) await new Promise<void>((done) => metricsServer.close(() => done()));
      await sweeping;
      await notifier?.close();
      await callbacks.close();
      access?.close();
      nix.close?.();
    },
  };
}
