/**
 * An `ImageBuilder` that applies per-client build limits ({@link BuildLimiter}) to another
 * builder. It sits exactly where a build happens: the image service calls `buildLayers` only
 * on a cache miss, inside the single-flight of the request that started the build, so cached
 * images, manifests by digest and requests joining a running build never count. The client
 * comes from the request's {@link ClientContext}. One request counts once against the rate and
 * holds one slot however many architectures it builds.
 */
import type { BuildProgress } from './build-runner.js';
import type { ImageBuildRequest, ImageBuilder } from '../builder/types.js';
import { RegistryError } from '../errors.js';
import type { LayerInfo } from '../image/manifest.js';
import type { BuildLimiter } from './build-limits.js';
import type { ClientContext } from '../auth/client-context.js';

/** Wraps `inner` so that its builds are counted per client. */
export class LimitedBuilder implements ImageBuilder {
  private readonly releases = new WeakMap<object, () => void>();

  constructor(
    private readonly inner: ImageBuilder,
    private readonly limiter: BuildLimiter,
    private readonly context: ClientContext,
  ) {}

  get version(): string {
    return this.inner.version;
  }

  async buildLayers(request: ImageBuildRequest, progress?: BuildProgress): Promise<LayerInfo[]> {
    const client = this.context.current();
    // Builds started outside a request (none today: API builds run inside theirs) are not limited.
    if (!client) return this.inner.buildLayers(request, progress);
    if (client.building === 0) {
      const outcome = this.limiter.start(client.id, { chargeRate: !client.charged });
      if (outcome.kind !== 'started') throw refusal(client.id, outcome, this.limiter);
      client.charged = true;
      this.releases.set(client, outcome.release);
    }
    client.building += 1;
    try {
      return await this.inner.buildLayers(request, progress);
    } finally {
      client.building -= 1;
      if (client.building === 0) this.releases.get(client)?.();
    }
  }
}

function refusal(client: string, outcome: { kind: 'busy'; running: number; retryAfterSeconds: number } | { kind: 'rate-limited'; retryAfterSeconds: number }, limiter: BuildLimiter): RegistryError {
  const headers = { 'Retry-After': String(outcome.retryAfterSeconds) };
  if (outcome.kind === 'busy') {
    return new RegistryError('TOOMANYREQUESTS', `${client} already has ${outcome.running} image builds running (NIXYARD_MAX_BUILDS_PER_CLIENT=${limiter.limits.maxConcurrent}): retry when one has finished`, {
      detail: { client, running: outcome.running, limit: limiter.limits.maxConcurrent },
      headers,
    });
  }
  return new RegistryError('TOOMANYREQUESTS', `${client} started too many image builds (NIXYARD_BUILD_RATE=${limiter.limits.perMinute} per minute): retry in ${outcome.retryAfterSeconds} s`, {
    detail: { client, perMinute: limiter.limits.perMinute, retryAfterSeconds: outcome.retryAfterSeconds },
    headers,
  });
}
