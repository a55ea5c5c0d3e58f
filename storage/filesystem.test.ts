import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeStorage } from '../test/helpers/storage-contract.js';
import { createFilesystemStorage } from './filesystem.js';

describeStorage('filesystem', async () => createFilesystemStorage(await mkdtemp(join(tmpdir(), 'nixyard-fs-'))));

describe('filesystem storage directories', () => {
  it('makes a directory again when it was removed after an earlier write made it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'nixyard-fs-'));
    const storage = await createFilesystemStorage(root);
    await storage.put('manifests/a', 'one', 'text/plain');
    const staged = await storage.stage(Readable.from([Buffer.from('layer')]), 'application/octet-stream');
    await staged.commit('layers/a');
    // Another process (an operator, a cleanup) empties the storage while this instance runs.
    await rm(join(root, 'manifests'), { recursive: true });
    await rm(join(root, 'layers'), { recursive: true });
    await rm(join(root, '.meta'), { recursive: true });
    await storage.put('manifests/b', 'two', 'text/plain');
    const again = await storage.stage(Readable.from([Buffer.from('layer 2')]), 'application/octet-stream');
    await again.commit('layers/b');
    expect((await storage.get('manifests/b'))?.toString()).toBe('two');
    expect(await storage.stat('layers/b')).toMatchObject({ size: 7, contentType: 'application/octet-stream' });
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  });
});
