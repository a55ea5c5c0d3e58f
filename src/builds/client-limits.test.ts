import { describe, expect, it } from 'vitest';
import type { ImageBuildRequest, ImageBuilder } from '../builder/types.js';
import { RegistryError } from '../errors.js';
import type { LayerInfo } from '../image/manifest.js';
import { BuildLimiter } from './build-limits.js';
import { ClientContext } from '../auth/client-context.js';
import { LimitedBuilder } from './client-limits.js';

/** A builder whose builds end when the test says so. */
class GatedBuilder implements ImageBuilder {
  readonly version = 'gated-1';
  readonly pending: (() => void)[] = [];
  started = 0;

  async buildLayers(_request: ImageBuildRequest): Promise<LayerInfo[]> {
    this.started += 1;
    await new Promise<void>((resolve) => this.pending.push(resolve));
    return [];
  }

  finishAll(): void {
    for (const finish of this.pending.splice(0)) finish();
  }
}

const request = { packages: ['hello'], arch: 'amd64', hasShell: false, source: { revision: 'r' } } as unknown as ImageBuildRequest;

function setup(limits: { maxConcurrent: number; perMinute: number }) {
  const inner = new GatedBuilder();
  const context = new ClientContext();
  const builder = new LimitedBuilder(inner, new BuildLimiter(limits, () => 0), context);
  return { inner, context, builder };
}

async function refusal(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe('LimitedBuilder', () => {
  it('keeps the inner builder version (part of the cache key)', () => {
    expect(setup({ maxConcurrent: 1, perMinute: 0 }).builder.version).toBe('gated-1');
  });

  it('refuses a second concurrent build of one client with 429 and Retry-After; other clients build', async () => {
    const { inner, context, builder } = setup({ maxConcurrent: 1, perMinute: 0 });
    const first = context.run('10.0.0.1', () => builder.buildLayers(request));
    const error = await refusal(context.run('10.0.0.1', () => builder.buildLayers(request)));
    expect(error.code).toBe('TOOMANYREQUESTS');
    expect(error.status).toBe(429);
    expect(error.headers['Retry-After']).toBe('10');
    expect(error.message).toContain('NIXYARD_MAX_BUILDS_PER_CLIENT=1');
    const other = context.run('10.0.0.2', () => builder.buildLayers(request));
    inner.finishAll();
    await Promise.all([first, other]);
    const again = context.run('10.0.0.1', () => builder.buildLayers(request));
    inner.finishAll();
    await again;
    expect(inner.started).toBe(3);
  });

  it('one request building several architectures holds one slot and is charged once', async () => {
    const { inner, context, builder } = setup({ maxConcurrent: 1, perMinute: 1 });
    const both = context.run('alice', () => Promise.all([builder.buildLayers(request), builder.buildLayers(request)]));
    await Promise.resolve();
    inner.finishAll();
    await both;
    const error = await refusal(context.run('alice', () => builder.buildLayers(request)));
    expect(error.message).toContain('NIXYARD_BUILD_RATE=1 per minute');
    expect(Number(error.headers['Retry-After'])).toBe(60);
  });

  it('a client id changed by authentication is what counts', async () => {
    const { inner, context, builder } = setup({ maxConcurrent: 1, perMinute: 0 });
    const first = context.run('10.0.0.1', () => {
      const client = context.current();
      if (client) client.id = 'alice';
      return builder.buildLayers(request);
    });
    const error = await refusal(context.run('10.0.0.9', () => {
      const client = context.current();
      if (client) client.id = 'alice';
      return builder.buildLayers(request);
    }));
    expect(error.detail).toMatchObject({ client: 'alice', running: 1 });
    inner.finishAll();
    await first;
  });

  it('builds outside a request are not limited', async () => {
    const { inner, builder } = setup({ maxConcurrent: 1, perMinute: 1 });
    const builds = Promise.all([builder.buildLayers(request), builder.buildLayers(request)]);
    await Promise.resolve();
    inner.finishAll();
    await builds;
    expect(inner.started).toBe(2);
  });
});
