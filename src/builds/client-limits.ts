/**
 * Per-client build limits ({@link BuildLimiter}) applied where a build really runs: the image
 * work asks {@link ClientLimits.admit} on a cache miss, right before the builder, so cached
 * images, manifests by digest and requests joining a running build never count, and queued
 * builds count against the client that asked for them (their jobs carry it). One request counts
 * once against the rate and holds one running build however many architectures it builds: the
 * client object is the request's ({@link BuildClient}).
 *
 * A refusal is a `TOOMANYREQUESTS` error with `Retry-After`; {@link limitRefusal} is how the
 * runner tells one apart, in the one place that decides what it means for a build.
 */
import { RegistryError } from '../errors.js';
import { BUSY_RETRY_AFTER_SECONDS, type BuildLimiter } from './build-limits.js';
import type { BuildClient } from './types.js';

/** A request's builds running now, and the release of the one running build they count as (a request is charged to its client's rate once: when it is first admitted). */
interface RequestBuilds {
  building: number;
  release: (() => void) | undefined;
}

/** Admits builds per client against the limiter's limits. */
export class ClientLimits {
  private readonly requests = new WeakMap<BuildClient, RequestBuilds>();

  constructor(private readonly limiter: BuildLimiter) {}

  /**
   * Admits one build of `client` and returns its release (call it once, when the build ends);
   * throws the `TOOMANYREQUESTS` refusal when a limit says no.
   */
  admit(client: BuildClient): () => void {
    if (!this.limiter.enabled) return () => undefined;
    const request = this.requests.get(client) ?? { building: 0, release: undefined };
    if (request.building === 0) {
      const outcome = this.limiter.start(client.id, { chargeRate: !this.requests.has(client) });
      if (outcome.kind !== 'started') throw refusal(client.id, outcome, this.limiter);
      request.release = outcome.release;
    }
    request.building += 1;
    this.requests.set(client, request);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      request.building -= 1;
      if (request.building === 0) request.release?.();
    };
  }
}

/** When `error` is a refusal by a client's build limits: how long to wait before trying again. */
export function limitRefusal(error: RegistryError): { retryAfterMs: number } | undefined {
  if (error.code !== 'TOOMANYREQUESTS') return undefined;
  const seconds = Number(error.headers['Retry-After']);
  return { retryAfterMs: (Number.isFinite(seconds) && seconds > 0 ? seconds : BUSY_RETRY_AFTER_SECONDS) * 1000 };
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
