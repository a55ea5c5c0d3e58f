/**
 * Builds of one architecture's image, whoever asked (a pull, the API, a webhook, a queued job):
 * pins what to build into an {@link ImageBuildPlan} (the cache key from the image's identity,
 * the record's fields, the builder's request, the client), and runs a plan through the
 * {@link BuildRunner}, which records it, bounds how many run at once and joins builds of the
 * same image. This is the one place that tells the kinds of image apart:
 *
 * - package names: the image already stored (built by another instance or an earlier request)
 *   → done; else the client's build limits admit it, the package builder makes the layers, and
 *   the config and manifests are stored under the cache key and remembered;
 * - application source (names under the apps prefix): always built (the ref may have moved, the
 *   install commands fetch), by the source builder after the client's limits admit it; the
 *   manifests are stored and the tag points to them.
 */
import { hostname } from 'node:os';
import { manifestCacheKey, manifestKey, sourceBuildKey } from '../../storage/keys.js';
import { checkAppDir, parseRepositoryUrl } from '../builder/source/repository.js';
import { SOURCE_BUILD_VERSION, type SourceBuilder } from '../builder/source/source-builder.js';
import type { BuiltImage, ImageBuildPlan, ImageBuildRequest, ImageBuilder } from '../builder/types.js';
import type { BuildOutcome, BuildProgress, BuildRunner, RunningBuild, StartOptions } from '../builds/build-runner.js';
import type { ClientLimits } from '../builds/client-limits.js';
import type { BuildArtifact, BuildRecord } from '../builds/record.js';
import type { AppSubmission, BuildOrigin } from '../builds/types.js';
import { describeError, RegistryError } from '../errors.js';
import { matchesPrefix } from '../image/grammar.js';
import type { Architecture, ImageRequest } from '../image/image-name.js';
import { imageDocuments, type ImageConfigInput, type ImageDocuments, type ImageManifests } from '../image/manifest.js';
import type { Logger } from '../log.js';
import type { PackageSource, ResolvedSource } from '../pkgsource/types.js';
import type { ImageDelivery } from './image-delivery.js';
import type { ImageLinks } from './image-links.js';
import type { PreparedArtifacts } from './attachments.js';
import type { ImageReferrers } from './image-referrers.js';
import type { ManifestCache } from './manifest-cache.js';

/**
 * Who builds images from source, as their provenance names the builder: nixyard's source builder
 * at its version, on this host (the trust boundary is the registry that ran the build).
 */
const BUILDER_ID = `urn:nixyard:source-builder:v${SOURCE_BUILD_VERSION}:${hostname()}`;

/** The architectures this registry builds. */
export interface Platforms {
  /** Architecture of names that pick none, and of the single-platform fallback. */
  defaultArch: Architecture;
  /** Architectures an image without `arm64`/`amd64` in its name is built for; more than one gives an index. */
  architectures: readonly Architecture[];
}

/** How images from application source are built (absent: they are not). */
export interface SourceImages {
  builder: Pick<SourceBuilder, 'build'>;
  /** Names under this prefix are images from source (`apps`). */
  prefix: string;
  /** Longest a build may take, in seconds (`NIXYARD_SOURCE_TIMEOUT`). */
  maxTimeoutSeconds: number;
  /** Whether `file://` and local repositories may be built (`NIXYARD_SOURCE_ALLOW_LOCAL`). */
  allowLocal: boolean;
}

/** What image builds need. */
export interface ImageBuildsDeps {
  builder: ImageBuilder;
  /** Builds from application source; off when absent. */
  source?: SourceImages;
  runner: BuildRunner<ImageManifests>;
  cache: ManifestCache;
  /** Links of built images to their names (so that they can be pulled by digest). */
  links: ImageLinks;
  /** Where images' SBOMs are attached; absent: images get none (`NIXYARD_SBOMS=0`). */
  referrers?: ImageReferrers;
  /** Tags and pushes of stored images, callbacks of builds. */
  delivery: ImageDelivery;
  packageSource: PackageSource;
  platforms: Platforms;
  /** Per-client build limits; none when absent. */
  limits?: ClientLimits;
  /** Why this instance takes no new builds now (it serves only, or it is stopping); `undefined` when it does. */
  refusal?: () => string | undefined;
  log: Logger;
}

/** Plans and runs builds of images. */
export class ImageBuilds {
  constructor(private readonly deps: ImageBuildsDeps) {}

  /** The cache key of `request`'s image for `arch` at the pinned `source`. */
  cacheKey(request: ImageRequest, source: ResolvedSource, arch: Architecture): string {
    return manifestCacheKey({ revision: source.revision, packages: request.packages, arch, user: request.user, ...this.deps.builder.layout });
  }

  /** The plan of the build of `request`'s image for `arch` at the pinned `source`. */
  planFor(request: ImageRequest, source: ResolvedSource, arch: Architecture, origin: BuildOrigin): ImageBuildPlan {
    const key = this.cacheKey(request, source, arch);
    return {
      spec: { key, image: request.name, tag: request.tag, packages: request.packages, arch, revision: source.revision, trigger: origin.trigger, retryOf: origin.retryOf, requestId: origin.client.requestId },
      request: { packages: request.packages, arch, hasShell: request.hasShell, ...(request.user === 'nonroot' ? { user: request.user } : {}), source },
      client: origin.client,
    };
  }

  /**
   * The plan of a build asked for through the API or a webhook: one architecture (the name's,
   * else the origin's, else the default), the tag pinned to a revision now.
   */
  async plan(request: ImageRequest, origin: BuildOrigin): Promise<ImageBuildPlan> {
    const { architectures, defaultArch } = this.deps.platforms;
    const arch = request.arch ?? (origin.arch as Architecture | undefined) ?? defaultArch;
    if (!architectures.includes(arch)) {
      throw new RegistryError('PARAMETER_INVALID', `this registry builds for ${architectures.join(', ')} (NIXYARD_ARCHITECTURES), not ${arch}`, { detail: { arch } });
    }
    const delivery = await this.deps.delivery.plan(origin, request.name, false);
    const plan = this.planFor(request, await this.deps.packageSource.resolve(request.tag), arch, origin);
    return { ...plan, spec: { ...plan.spec, ...delivery.fields }, callback: delivery.callback };
  }

  /**
   * The plan of a build from application source of `image:tag`: checked (the name under the apps
   * prefix, the repository URL, the directory), for the default architecture, from the package
   * set's current revision. The ref is pinned when the build runs.
   */
  async planSource(image: string, tag: string, app: AppSubmission, origin: BuildOrigin): Promise<ImageBuildPlan> {
    const source = this.deps.source;
    if (!source) throw new RegistryError('UNSUPPORTED', 'this registry does not build images from application source: nixpacks or the sandbox is not set up (see the README)');
    if (!matchesPrefix(image, source.prefix)) {
      throw new RegistryError('NAME_INVALID', `${JSON.stringify(image)} is not a name for an image built from source: such images are named under ${source.prefix}/ (e.g. ${source.prefix}/acme/web)`, { detail: { image, prefix: source.prefix } });
    }
    const { defaultArch } = this.deps.platforms;
    if (origin.arch !== undefined && origin.arch !== defaultArch) {
      throw new RegistryError('PARAMETER_INVALID', `images from source are built for ${defaultArch} only, not ${origin.arch}`, { detail: { arch: origin.arch } });
    }
    const repo = parseRepositoryUrl(app.repo, source.allowLocal);
    const dir = checkAppDir(app.dir);
    const timeoutSeconds = Math.min(app.buildTimeout ?? source.maxTimeoutSeconds, source.maxTimeoutSeconds);
    const overrides = { installCmd: app.installCmd, buildCmd: app.buildCmd, startCmd: app.startCmd, pkgs: app.pkgs, env: app.env, user: app.user };
    const delivery = await this.deps.delivery.plan(origin, image, true);
    const packageSet = await this.deps.packageSource.resolve('latest');
    const key = sourceBuildKey({ kind: 'source', repo: repo.redacted, ref: app.ref ?? null, dir, overrides, revision: packageSet.revision, builder: SOURCE_BUILD_VERSION, arch: defaultArch, ...this.deps.builder.layout });
    return {
      spec: {
        key,
        image,
        tag,
        packages: [],
        arch: defaultArch,
        revision: packageSet.revision,
        trigger: origin.trigger,
        retryOf: origin.retryOf,
        requestId: origin.client.requestId,
        source: { repo: repo.redacted, ref: app.ref ?? null, commit: null, dir, committedAt: null, overrides, timeoutSeconds },
        firstPhase: 'fetching',
        ...delivery.fields,
      },
      request: { kind: 'source', repo, ref: app.ref, dir, overrides, arch: defaultArch, source: packageSet, timeoutSeconds },
      client: origin.client,
      callback: delivery.callback,
    };
  }

  /** Whether `name` is an image built from application source. */
  isSourceImage(name: string): boolean {
    return this.deps.source !== undefined && matchesPrefix(name, this.deps.source.prefix);
  }

  /** Starts the build of a plan here, or joins the running build of the same image (see {@link BuildRunner.startOrJoin}). */
  start(plan: ImageBuildPlan, options?: StartOptions): RunningBuild<ImageManifests> {
    const refusal = this.deps.refusal?.();
    if (refusal !== undefined) throw new RegistryError('UNAVAILABLE', refusal, { detail: { image: plan.spec.image } });
    return this.deps.runner.startOrJoin(plan.spec, (progress) => this.work(plan, progress), options);
  }

  /** Starts the build of a plan here and resolves with its record once it is stored (and its callback kept). */
  async submit(plan: ImageBuildPlan): Promise<BuildRecord> {
    const build = this.start(plan);
    // Kept in memory before the build's first status can be sent.
    const kept = plan.callback ? this.deps.delivery.remember(build.id, plan.callback) : undefined;
    // The caller gets the record; how the build ends is in it (and in the log).
    build.done.catch(() => undefined);
    await build.saved;
    await kept;
    return build.record;
  }

  private async work(plan: ImageBuildPlan, progress: BuildProgress): Promise<BuildOutcome<ImageManifests>> {
    const { spec, request } = plan;
    const { cache } = this.deps;
    if (request.kind === 'source') {
      const release = this.deps.limits?.admit(plan.client);
      try {
        const source = this.deps.source;
        if (!source) throw new RegistryError('UNSUPPORTED', 'this registry does not build images from application source');
        const built = await this.timed(spec.key, `${spec.image}:${spec.tag}`, request.arch, () => source.builder.build(request, progress), progress);
        const attached = await this.attachmentsOf(spec.image, spec.image, request.arch, built, progress);
        await Promise.all([cache.storeDocuments(built.documents), attached && this.deps.referrers?.store(attached)]);
        await this.deps.links.linkImage(spec.image, built.documents.manifests, attached?.digests);
        await this.deps.delivery.deliver(spec, built.documents.manifests, progress);
        return outcomeOf(built.documents.manifests, attached?.artifacts);
      } finally {
        release?.();
      }
    }
    const stored = await cache.storedImage(spec.key);
    if (stored) {
      progress.note(`already built: ${manifestKey(spec.key)} is in storage${(spec.push ?? []).length > 0 ? '' : ', nothing to do'}`);
      await this.deps.links.linkImage(spec.image, stored);
      await this.deps.delivery.deliver(spec, stored, progress);
      return this.remembered(spec.key, stored, await this.deps.referrers?.artifactsOf(stored.oci.digest));
    }
    const release = this.deps.limits?.admit(plan.client);
    let manifests: ImageManifests;
    let artifacts: BuildArtifact[] | undefined;
    try {
      const built = await this.timed(spec.key, request.packages.join(','), request.arch, () => this.packageImage(request, progress), progress);
      // The SBOMs: written beside the config and manifests, except for a pull, which is answered
      // without waiting for them (written after the image; this instance's referrers of it wait).
      const attached = await this.attachmentsOf(spec.image, request.packages.join(' '), request.arch, built, progress);
      const answerFirst = spec.trigger === 'pull';
      await Promise.all([cache.storeDocuments(built.documents), attached && !answerFirst ? this.deps.referrers?.store(attached) : undefined]);
      progress.signal.throwIfAborted();
      manifests = built.documents.manifests;
      artifacts = attached?.artifacts;
      await Promise.all([cache.storeEntry(spec.key, built.documents), this.deps.links.linkImage(spec.image, manifests, attached?.digests)]);
      if (attached && answerFirst) this.deps.referrers?.store(attached).catch((error: unknown) => this.deps.log.warn('could not store the SBOMs of an image', { image: spec.image, key: spec.key, ...describeError(error) }));
    } finally {
      release?.();
    }
    await this.deps.delivery.deliver(spec, manifests, progress);
    return this.remembered(spec.key, manifests, artifacts);
  }

  /**
   * What is attached to a built image (when on), ready to store: its SBOMs (`sbomName` names what
   * it was asked for as), and for images from source their provenance; `undefined`: nothing.
   */
  private async attachmentsOf(image: string, sbomName: string, arch: Architecture, built: BuiltImage & { documents: ImageDocuments }, progress: BuildProgress): Promise<PreparedArtifacts | undefined> {
    if (!this.deps.referrers || (!built.contents && !built.provenance)) return undefined;
    const { prepareArtifacts, provenanceArtifact, sbomArtifacts } = await import('./attachments.js');
    const { manifests, config } = built.documents;
    const documents = [
      ...(built.contents ? sbomArtifacts(built.contents, { name: sbomName, arch, configDigest: config.digest }) : []),
      ...(built.provenance ? [provenanceArtifact(built.provenance, { image, manifestDigests: [manifests.oci.digest, manifests.docker.digest], builderId: BUILDER_ID, buildId: progress.id, finishedOn: new Date().toISOString() })] : []),
    ];
    progress.note(`attached to ${manifests.oci.digest}: ${documents.map(({ title }) => title).join(', ')}${built.contents ? ` (${built.contents.graph.length} store paths)` : ''}`);
    return prepareArtifacts(manifests, documents);
  }

  private async packageImage(request: ImageBuildRequest, progress: BuildProgress): Promise<BuiltImage> {
    const { layers, contents } = await this.deps.builder.buildLayers(request, progress);
    return { layers, config: { arch: request.arch, layers, hasShell: request.hasShell, user: request.user ?? 'root' }, contents };
  }

  /** Builds an image's layers with `build`, then its config and manifests; logs both ends. */
  private async timed(key: string, what: string, arch: string, build: () => Promise<BuiltImage>, progress: BuildProgress) {
    const started = Date.now();
    this.deps.log.info('building image', { key, image: what, arch });
    const built = await build();
    progress.phase('uploading', 'image config and manifests');
    const documents = imageDocuments(built.config satisfies ImageConfigInput);
    this.deps.log.info('built image', { key, arch, layers: built.layers.length, digest: documents.manifests.oci.digest, ms: Date.now() - started });
    return { ...built, documents };
  }

  /** The outcome of a package image, which is remembered for the next pull. */
  private remembered(key: string, manifests: ImageManifests, artifacts: BuildArtifact[] | undefined): BuildOutcome<ImageManifests> {
    this.deps.cache.remember(key, [manifests.oci, manifests.docker]);
    return outcomeOf(manifests, artifacts);
  }
}

/** What a build record keeps of a built image: its layers, manifest digest and artifacts (SBOMs). */
function outcomeOf(manifests: ImageManifests, artifacts: BuildArtifact[] | undefined): BuildOutcome<ImageManifests> {
  const { layers } = JSON.parse(manifests.oci.body.toString('utf8')) as { layers: { digest: string; size: number }[] };
  return { value: manifests, layers: layers.map(({ digest, size }) => ({ digest, size })), manifestDigest: manifests.oci.digest, ...(artifacts && artifacts.length > 0 ? { artifacts } : {}) };
}
