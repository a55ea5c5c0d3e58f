/**
 * Where an image goes besides this registry, and who hears of its build: planned when a build is
 * asked for (push targets checked, the server's default targets for images from source, the
 * callback's URL checked and its token kept apart), and carried out once the image is stored:
 * an image from application source gets its tags (the build's own, and those an app build
 * moves unless a newer build moved them already), and any image its pushes. The pushes come
 * first: a build whose push failed moves no tag, here or at the target.
 */
import type { PlannedCallback } from '../builder/types.js';
import type { BuildProgress, BuildSpec } from '../builds/build-runner.js';
import type { BuildOrigin } from '../builds/types.js';
import { RegistryError } from '../errors.js';
import type { ImageManifests } from '../image/manifest.js';
import { callbackUrlProblem } from '../notify/callback-address.js';
import type { CallbackStore } from '../notify/callback-store.js';
import type { Pusher } from '../push/pusher.js';
import { parsePushTarget } from '../push/reference.js';
import { Secret } from '../secret.js';
import type { ManifestCache } from './manifest-cache.js';

/** What delivery needs. */
export interface ImageDeliveryDeps {
  cache: ManifestCache;
  /** Absent: this registry cannot push (skopeo is missing), and builds naming targets are refused. */
  pusher: Pick<Pusher, 'push'> | undefined;
  /** Targets of images from source that name none (`NIXYARD_PUSH_DEFAULT`): repository prefixes. */
  defaultPush: readonly string[];
  /** The prefix of images from source (`apps`), left out of default targets' names. */
  appsPrefix: string;
  /** Where callbacks are kept; absent: builds with a callback are refused. */
  callbacks: CallbackStore | undefined;
  /** Whether callbacks may reach the registry's own networks (`NIXYARD_CALLBACK_ALLOW_PRIVATE`). */
  allowPrivateCallbacks: boolean;
  /** The host[:port] clients pull from (`NIXYARD_PUBLIC_HOST`); else the request's Host. */
  publicHost: string | undefined;
}

/** The delivery fields of a build's spec, and its callback. */
export interface PlannedDelivery {
  fields: Pick<BuildSpec, 'push' | 'moves' | 'callback' | 'app'>;
  callback: PlannedCallback | undefined;
}

/** Plans and carries out where images go. */
export class ImageDelivery {
  constructor(private readonly deps: ImageDeliveryDeps) {}

  /** The delivery of a build of `image` asked for by `origin`; throws `PARAMETER_INVALID`/`UNSUPPORTED` naming what is wrong. */
  async plan(origin: BuildOrigin, image: string, fromSource: boolean): Promise<PlannedDelivery> {
    const asked = origin.delivery ?? {};
    const push = asked.push ?? (fromSource ? this.defaultTargets(image) : []);
    for (const to of push) parsePushTarget(to);
    if (push.length > 0 && !this.deps.pusher) {
      throw new RegistryError('UNSUPPORTED', `this registry cannot push images (skopeo does not run: install it with apt-get install -y skopeo, or set NIXYARD_SKOPEO): asked to push to ${push.join(', ')}`, { detail: { push } });
    }
    const callback = asked.callback && (await this.planCallback(asked.callback, asked.registryHost));
    return {
      fields: { push, callback: callback?.url, ...(fromSource ? { moves: asked.moves, app: asked.app } : {}) },
      callback,
    };
  }

  /** Keeps the callback of build `id` (in memory at once: call it right after the build started). */
  remember(id: string, callback: PlannedCallback): Promise<void> {
    if (!this.deps.callbacks) return Promise.resolve();
    return this.deps.callbacks.save(id, { url: callback.url, token: callback.token.reveal(), registryHost: callback.registryHost });
  }

  /** Tags (images from source) and pushes the image of `spec`; throws when a push fails. */
  async deliver(spec: BuildSpec, manifests: ImageManifests, progress: BuildProgress): Promise<void> {
    const { cache, pusher } = this.deps;
    const digest = manifests.oci.digest;
    const fromSource = spec.source !== undefined;
    const moves = spec.moves;
    const moving = fromSource && moves ? await cache.movableTags(spec.image, moves.tags, moves.order) : [];
    if (moves && moving.length < moves.tags.length) {
      const kept = moves.tags.filter((tag) => !moving.includes(tag));
      progress.note(`not moving ${kept.join(', ')}: a newer push's build moved ${kept.length === 1 ? 'it' : 'them'} already`);
    }
    const tags = [spec.tag, ...moving];
    const targets = spec.push ?? [];
    if (targets.length > 0) {
      if (!pusher) throw new RegistryError('UNSUPPORTED', `this registry cannot push images (skopeo does not run): the push to ${targets.join(', ')} was not made`);
      await pusher.push(manifests.oci, targets, tags, progress);
    }
    if (!fromSource) return;
    await cache.tag(spec.image, spec.tag, digest, moves?.order);
    for (const tag of moving) await cache.tag(spec.image, tag, digest, moves?.order);
    progress.annotate({ tags });
    progress.note(`tagged ${tags.map((tag) => `${spec.image}:${tag}`).join(', ')}`);
  }

  /** The server's default targets for `image`: each prefix with the name after the apps prefix. */
  private defaultTargets(image: string): string[] {
    const name = image.startsWith(`${this.deps.appsPrefix}/`) ? image.slice(this.deps.appsPrefix.length + 1) : image;
    return this.deps.defaultPush.map((prefix) => `${prefix.replace(/\/+$/, '')}/${name}`);
  }

  private async planCallback(asked: { url: string; token?: string; sameTokenAs?: string }, requestHost: string | undefined): Promise<PlannedCallback> {
    if (!this.deps.callbacks) throw new RegistryError('UNSUPPORTED', 'this registry does not send build callbacks');
    const problem = callbackUrlProblem(asked.url, this.deps.allowPrivateCallbacks);
    if (problem) throw new RegistryError('PARAMETER_INVALID', problem, { detail: { callback: { url: asked.url } } });
    const earlier = asked.sameTokenAs === undefined ? undefined : await this.deps.callbacks.load(asked.sameTokenAs);
    const token = asked.token ?? earlier?.token;
    if (token === undefined || token === '') throw new RegistryError('PARAMETER_INVALID', 'the callback has no token: give "callback": {"url": "https://…", "token": "…"} (the POSTs are signed with it)', { detail: { callback: { url: asked.url } } });
    return { url: asked.url, token: new Secret(token, '***'), registryHost: this.deps.publicHost ?? requestHost ?? earlier?.registryHost ?? 'localhost' };
  }
}
