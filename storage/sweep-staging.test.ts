import { mkdtemp, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createFilesystemStorage } from './filesystem.js';
import { STAGING_MAX_AGE_MS, sweepStaging } from './sweep-staging.js';

describe('sweepStaging', () => {
  it('removes abandoned staging uploads older than an hour and keeps young ones and final keys', async () => {
    const root = await mkdtemp(join(tmpdir(), 'nixyard-sweep-'));
    const storage = await createFilesystemStorage(root);
    await storage.stage(Readable.from(['abandoned']), 'text/plain');
    const [abandoned] = await storage.list('staging/');
    const old = new Date(Date.now() - STAGING_MAX_AGE_MS - 60_000);
    await utimes(join(root, abandoned as string), old, old);
    const young = await storage.stage(Readable.from(['in progress']), 'text/plain');
    await storage.put('layers/kept', 'x', 'text/plain');

    expect(await sweepStaging(storage, new Date())).toBe(1);
    expect(await storage.list('staging/')).toHaveLength(1);
    expect(await storage.get('layers/kept')).toBeDefined();
    await young.commit('layers/young');
    expect((await storage.get('layers/young'))?.toString()).toBe('in progress');
  });
});
