/**
 * Connected repositories: connect, list, show, change and disconnect apps, and the pushes their
 * forges send (`POST /v1/apps/<id>/webhook`, signed with the app's own webhook secret). A push
 * of a watched branch or tag submits a build from source of the pushed commit, as the webhook's
 * client, with the app's overrides, push targets and callback; it goes wherever API builds go
 * (this instance, or the RabbitMQ queue of the replicas). The build of an older push to the same
 * branch is cancelled, and tags only move forward: a build moves them only when no later push's
 * build did (see `ImageDelivery`).
 */
import { randomBytes } from 'node:crypto';
import { checkAppDir, parseRepositoryUrl } from '../builder/source/repository.js';
import { isFinal, type BuildRecord, type SourceOverrides } from '../builds/record.js';
import type { Builds } from '../builds/types.js';
import { RegistryError, toRegistryError } from '../errors.js';
import { isValidName } from '../image/grammar.js';
import type { Logger } from '../log.js';
import { callbackUrlProblem } from '../notify/callback-address.js';
import { parsePushTarget } from '../push/reference.js';
import { readDelivery, forgeOf, EVENT_HEADER, type Push } from '../webhooks/push-events.js';
import { verifyDelivery, type SignedDelivery } from '../webhooks/signatures.js';
import { appView, isSameRepository, planPush, refKey, settingsOf, type AppView, type StoredApp } from './app.js';
import type { AppStore } from './app-store.js';

/** What connecting an app takes (the API's body). */
export interface AppInput {
  repo: string;
  image: string;
  dir?: string;
  branches?: string[];
  tags?: boolean;
  defaultBranch?: string | null;
  overrides?: SourceOverrides;
  buildTimeout?: number | null;
  push?: string[] | null;
  callback?: { url: string; token: string } | null;
  webhookSecret?: string;
}

/** What changing an app takes: any field of {@link AppInput}; `null` clears the optional ones. */
export type AppPatch = Partial<AppInput>;

/** An app just connected (or given a new webhook secret): the secret is shown this once. */
export interface ConnectedApp extends AppView {
  webhookSecret?: string;
}

/** The answer to a webhook delivery (as `/v1/webhooks/<forge>` answers). */
export interface AppDeliveryResult {
  queued: BuildRecord[];
  ignored: string | null;
}

/** What the apps need. */
export interface ConnectedAppsDeps {
  store: AppStore;
  builds: Pick<Builds, 'submit' | 'cancel' | 'get'>;
  /** Names under it are images from source (`apps`). */
  appsPrefix: string;
  /** Whether `file://` and local repositories may be connected (`NIXYARD_SOURCE_ALLOW_LOCAL`). */
  allowLocal: boolean;
  /** Whether callbacks may reach the registry's own networks (`NIXYARD_CALLBACK_ALLOW_PRIVATE`). */
  allowPrivateCallbacks: boolean;
  log: Logger;
  now?: () => Date;
}

const invalid = (message: string, detail?: unknown) => new RegistryError('PARAMETER_INVALID', message, { detail });

/** Connected apps and their pushes. */
export class ConnectedApps {
  constructor(private readonly deps: ConnectedAppsDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async list(): Promise<AppView[]> {
    const apps = await this.deps.store.list();
    return Promise.all(apps.map(async (app) => appView(app, await this.deps.store.refs(app.id))));
  }

  async get(id: string): Promise<AppView> {
    const app = await this.require(id);
    return appView(app, await this.deps.store.refs(id));
  }

  /** Connects a repository; the answer shows the webhook secret, once. */
  async connect(input: AppInput): Promise<ConnectedApp> {
    const at = this.now().toISOString();
    const app = await this.checked({ id: `app-${randomBytes(5).toString('hex')}`, createdAt: at, updatedAt: at }, input);
    await this.requireImageFree(app.image, app.id);
    await this.deps.store.save(app);
    this.deps.log.info('app connected', { app: app.id, image: app.image, repo: app.repoShown });
    return { ...appView(app, []), webhookSecret: app.webhookSecret };
  }

  /** Changes an app; a new webhook secret is shown in the answer, once. */
  async update(id: string, patch: AppPatch): Promise<ConnectedApp> {
    const current = await this.require(id);
    const input: AppInput = { ...inputOf(current), ...patch };
    const app = await this.checked({ id, createdAt: current.createdAt, updatedAt: this.now().toISOString() }, input, current);
    if (app.image !== current.image) await this.requireImageFree(app.image, id);
    await this.deps.store.save(app);
    return { ...appView(app, await this.deps.store.refs(id)), ...(patch.webhookSecret !== undefined ? { webhookSecret: app.webhookSecret } : {}) };
  }

  async disconnect(id: string): Promise<void> {
    await this.require(id);
    await this.deps.store.remove(id);
    this.deps.log.info('app disconnected', { app: id });
  }

  /**
   * A delivery from the app's forge: checked (the forge from its event header, the signature with
   * the app's secret, the repository it names), then built when it pushes a watched ref.
   */
  async receive(id: string, delivery: SignedDelivery, registryHost: string | undefined): Promise<{ status: number; result: AppDeliveryResult }> {
    const app = await this.require(id);
    const forge = forgeOf(delivery.header);
    if (!forge) throw invalid(`not a webhook delivery of GitHub, GitLab or Gitee: it has none of the headers ${Object.values(EVENT_HEADER).join(', ')}`);
    const verification = verifyDelivery(forge, app.webhookSecret, delivery);
    if (!verification.ok) {
      this.deps.log.warn('app webhook delivery rejected', { app: id, forge, reason: verification.reason });
      throw new RegistryError('UNAUTHORIZED', `${forge} webhook delivery to app ${id} refused: ${verification.reason.replace(/NIXYARD_WEBHOOK_SECRET/g, 'the app\'s webhook secret')}`, { detail: { app: id, forge } });
    }
    const read = readDelivery(forge, delivery.header(EVENT_HEADER[forge]), delivery.body.toString('utf8'));
    switch (read.kind) {
      case 'ping':
        return { status: 200, result: { queued: [], ignored: `ping: the webhook reaches app ${id} and its secret matches` } };
      case 'invalid':
        throw invalid(`${forge} webhook delivery to app ${id} refused: ${read.reason}`, { app: id, forge });
      case 'ignored':
        return { status: 202, result: { queued: [], ignored: read.reason } };
      case 'push':
        return { status: 202, result: await this.onPush(app, forge, read.push, registryHost) };
    }
  }

  private async onPush(app: StoredApp, forge: string, push: Push, registryHost: string | undefined): Promise<AppDeliveryResult> {
    if (push.repository.length > 0 && !isSameRepository(app.repo, push.repository)) {
      throw invalid(`this push is for ${push.repository[0]}, not for ${app.repoShown}, the repository of app ${app.id}: give that repository's webhook its own app (POST /v1/apps)`, { app: app.id, repository: push.repository[0] });
    }
    const plan = planPush(app, push);
    if (!plan.build) {
      this.deps.log.info('app push ignored', { app: app.id, ref: push.ref, reason: plan.reason });
      return { queued: [], ignored: plan.reason };
    }
    const order = this.now().getTime();
    const record = await this.deps.builds.submit({
      image: app.image,
      tag: plan.tag,
      trigger: 'webhook',
      client: { id: `webhook:${forge}` },
      app: { repo: app.repo, ref: push.commit, dir: app.dir, ...app.overrides, ...(app.buildTimeout !== null ? { buildTimeout: app.buildTimeout } : {}) },
      delivery: { ...(app.push !== null ? { push: app.push } : {}), callback: app.callback ?? undefined, moves: { tags: plan.moves, order }, app: app.id, registryHost },
    });
    const key = refKey(push);
    const previous = await this.deps.store.ref(app.id, key);
    if (!previous || previous.order <= order) {
      await this.deps.store.saveRef(app.id, key, { ref: push.ref, commit: push.commit, build: record.id, tag: plan.tag, order, at: new Date(order).toISOString() });
    }
    if (previous && previous.order < order) await this.cancelOlder(app.id, previous.build, record.id);
    this.deps.log.info('app push queued', { app: app.id, ref: push.ref, commit: push.commit, build: record.id, tag: plan.tag });
    return { queued: [record], ignored: null };
  }

  /** Cancels the build of an older push to the same ref, if it is still going. */
  private async cancelOlder(app: string, older: string, newer: string): Promise<void> {
    const record = await this.deps.builds.get(older);
    if (!record || isFinal(record.status)) return;
    try {
      await this.deps.builds.cancel(older);
      this.deps.log.info('app build superseded', { app, cancelled: older, by: newer });
    } catch (error) {
      const code = toRegistryError(error).code;
      if (code !== 'BUILD_FINISHED' && code !== 'BUILD_UNKNOWN') this.deps.log.warn('could not cancel a superseded app build', { app, build: older, error: String(error) });
    }
  }

  private async require(id: string): Promise<StoredApp> {
    const app = /^app-[0-9a-f]{10}$/.test(id) ? await this.deps.store.get(id) : undefined;
    if (!app) throw new RegistryError('APP_UNKNOWN', `no app has the id ${JSON.stringify(id)}: list apps with GET /v1/apps`, { detail: { id } });
    return app;
  }

  private async requireImageFree(image: string, id: string): Promise<void> {
    const other = (await this.deps.store.list()).find((app) => app.image === image && app.id !== id);
    if (other) throw new RegistryError('APP_EXISTS', `app ${other.id} already builds ${image} (from ${other.repoShown}): give this app another image, or change that app`, { detail: { image, app: other.id } });
  }

  /** The stored app from `input`, every field checked; `current` keeps what the input leaves out. */
  private async checked(base: Pick<StoredApp, 'id' | 'createdAt' | 'updatedAt'>, input: AppInput, current?: StoredApp): Promise<StoredApp> {
    const { appsPrefix } = this.deps;
    if (!isValidName(input.image) || !input.image.startsWith(`${appsPrefix}/`)) {
      throw new RegistryError('NAME_INVALID', `image ${JSON.stringify(input.image)} is not a name for an image built from source: expected a name under ${appsPrefix}/ (e.g. ${appsPrefix}/acme/web)`, { detail: { image: input.image } });
    }
    const repo = input.repo === current?.repoShown ? { reveal: () => current.repo, redacted: current.repoShown } : parseRepositoryUrl(input.repo, this.deps.allowLocal);
    for (const to of input.push ?? []) parsePushTarget(to);
    if (input.callback) {
      const problem = callbackUrlProblem(input.callback.url, this.deps.allowPrivateCallbacks);
      if (problem) throw invalid(problem, { callback: { url: input.callback.url } });
    }
    const branches = input.branches ?? [];
    const bad = branches.filter((pattern) => !/^[A-Za-z0-9._/*+@-]+$/.test(pattern) || pattern.includes('..'));
    if (bad.length > 0) throw invalid(`branches ${JSON.stringify(bad)} are not branch names or globs (main, release/*)`, { branches: bad });
    return {
      ...base,
      repo: repo.reveal(),
      repoShown: repo.redacted,
      image: input.image,
      dir: checkAppDir(input.dir),
      branches,
      tags: input.tags ?? false,
      defaultBranch: input.defaultBranch ?? null,
      overrides: input.overrides ?? {},
      buildTimeout: input.buildTimeout ?? null,
      push: input.push ?? null,
      callback: input.callback ?? null,
      webhookSecret: input.webhookSecret ?? current?.webhookSecret ?? randomBytes(24).toString('hex'),
    };
  }
}

/** The input that gives `app` again (its secrets included), for a patch to change. */
function inputOf(app: StoredApp): AppInput {
  return { repo: app.repoShown, ...settingsOf(app), callback: app.callback };
}
