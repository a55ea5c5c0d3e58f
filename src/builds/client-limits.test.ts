import { describe, expect, it } from 'vitest';
import { RegistryError } from '../errors.js';
import { BuildLimiter } from './build-limits.js';
import { ClientLimits, limitRefusal } from './client-limits.js';
import type { BuildClient } from './types.js';

/** Builds that end when the test says so, each admitted for its client first. */
class GatedBuilds {
  readonly pending: (() => void)[] = [];
  started = 0;

  constructor(private readonly limits: ClientLimits) {}

  async build(client: BuildClient): Promise<void> {
    const release = this.limits.admit(client);
    try {
      this.started += 1;
      await new Promise<void>((resolve) => this.pending.push(resolve));
    } finally {
      release();
    }
  }

  finishAll(): void {
    for (const finish of this.pending.splice(0)) finish();
  }
}

function setup(limits: { maxConcurrent: number; perMinute: number }) {
  return new GatedBuilds(new ClientLimits(new BuildLimiter(limits, () => 0)));
}

async function refusal(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe('ClientLimits', () => {
  it('refuses a second concurrent build of one client with 429 and Retry-After; other clients build', async () => {
    const builds = setup({ maxConcurrent: 1, perMinute: 0 });
    const first = builds.build({ id: '10.0.0.1' });
    const error = await refusal(builds.build({ id: '10.0.0.1' }));
    expect(error.code).toBe('TOOMANYREQUESTS');
    expect(error.status).toBe(429);
    expect(error.headers['Retry-After']).toBe('10');
    expect(error.message).toContain('NIXYARD_MAX_BUILDS_PER_CLIENT=1');
    const other = builds.build({ id: '10.0.0.2' });
    builds.finishAll();
    await Promise.all([first, other]);
    const again = builds.build({ id: '10.0.0.1' });
    builds.finishAll();
    await again;
    expect(builds.started).toBe(3);
  });

  it('one request building several architectures holds one slot and is charged once', async () => {
    const builds = setup({ maxConcurrent: 1, perMinute: 1 });
    const request = { id: 'alice' };
    const both = Promise.all([builds.build(request), builds.build(request)]);
    await Promise.resolve();
    builds.finishAll();
    await both;
    const error = await refusal(builds.build({ id: 'alice' }));
    expect(error.message).toContain('NIXYARD_BUILD_RATE=1 per minute');
    expect(Number(error.headers['Retry-After'])).toBe(60);
  });

  it('the client id is what counts: two requests of one user share its limits', async () => {
    const builds = setup({ maxConcurrent: 1, perMinute: 0 });
    const first = builds.build({ id: 'alice' });
    const error = await refusal(builds.build({ id: 'alice' }));
    expect(error.detail).toMatchObject({ client: 'alice', running: 1 });
    builds.finishAll();
    await first;
  });

  it('every build has a client: a build started for a queued job counts like one started by a request', async () => {
    const builds = setup({ maxConcurrent: 1, perMinute: 1 });
    const fromRequest = builds.build({ id: 'alice' });
    const fromJob = await refusal(builds.build({ id: 'alice' }));
    expect(fromJob.code).toBe('TOOMANYREQUESTS');
    builds.finishAll();
    await fromRequest;
    expect(builds.started).toBe(1);
  });

  it('admits everything when no limit is on', async () => {
    const builds = setup({ maxConcurrent: 0, perMinute: 0 });
    const all = Promise.all([1, 2, 3].map(() => builds.build({ id: 'alice' })));
    await Promise.resolve();
    builds.finishAll();
    await all;
    expect(builds.started).toBe(3);
  });

  it('tells a refusal by limits apart, with when to try again', () => {
    expect(limitRefusal(new RegistryError('TOOMANYREQUESTS', 'wait', { headers: { 'Retry-After': '27' } }))).toEqual({ retryAfterMs: 27_000 });
    expect(limitRefusal(new RegistryError('TOOMANYREQUESTS', 'wait'))).toEqual({ retryAfterMs: 10_000 });
    expect(limitRefusal(new RegistryError('UNAVAILABLE', 'storage'))).toBeUndefined();
  });
});
