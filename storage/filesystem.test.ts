import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeStorage } from '../test/helpers/storage-contract.js';
import { createFilesystemStorage } from './filesystem.js';

describeStorage('filesystem', async () => createFilesystemStorage(await mkdtemp(join(tmpdir(), 'nixyard-fs-'))));

/** A storage on a directory of its own, and that directory. */
async function freshStorage() {
  const root = await mkdtemp(join(tmpdir(), 'nixyard-fs-'));
  return { root, storage: await createFilesystemStorage(root) };
}

describe('filesystem storage directories', () => {
  it('makes a directory again when it was removed after an earlier write made it', async () => {
    const { root, storage } = await freshStorage();
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

describe('filesystem storage content types', () => {
  const inode = async (path: string) => (await stat(path)).ino;

  it('keeps the content types of objects of one type in one file that their sidecars link to', async () => {
    const { root, storage } = await freshStorage();
    await storage.put('manifests/a', '{}', 'application/json');
    const staged = await storage.stage(Readable.from([Buffer.from('{}')]), 'application/json');
    await staged.commit('layers/b');
    await storage.put('manifests/c', 'text', 'text/plain');
    const types = await readdir(join(root, '.meta', '.types'));
    expect(types).toHaveLength(2);
    expect(await inode(join(root, '.meta', 'manifests', 'a'))).toBe(await inode(join(root, '.meta', 'layers', 'b')));
    expect(await inode(join(root, '.meta', 'manifests', 'a'))).not.toBe(await inode(join(root, '.meta', 'manifests', 'c')));
    // A second instance on the same directory (a restart) links to the same files.
    const restarted = await createFilesystemStorage(root);
    await restarted.put('manifests/d', '{}', 'application/json');
    expect(await inode(join(root, '.meta', 'manifests', 'd'))).toBe(await inode(join(root, '.meta', 'manifests', 'a')));
    expect(await readdir(join(root, '.meta', '.types'))).toEqual(types);
    expect(await storage.stat('layers/b')).toMatchObject({ contentType: 'application/json' });
  });

  it('overwrites an object with the same or another content type and leaves no staged file', async () => {
    const { root, storage } = await freshStorage();
    await storage.put('manifests/a', 'one', 'text/plain');
    await storage.put('manifests/a', 'two', 'text/plain');
    expect(await storage.stat('manifests/a')).toMatchObject({ size: 3, contentType: 'text/plain' });
    await storage.put('manifests/a', '{}', 'application/json');
    expect(await storage.stat('manifests/a')).toMatchObject({ size: 2, contentType: 'application/json' });
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  });

  it('writes a type file again when it was removed by hand, and reads sidecars of earlier versions', async () => {
    const { root, storage } = await freshStorage();
    await storage.put('manifests/a', 'one', 'text/plain');
    await rm(join(root, '.meta', '.types'), { recursive: true });
    await storage.put('manifests/b', 'two', 'text/plain');
    expect(await storage.stat('manifests/a')).toMatchObject({ contentType: 'text/plain' });
    expect(await storage.stat('manifests/b')).toMatchObject({ contentType: 'text/plain' });
    // Earlier versions wrote each sidecar as a file of its own.
    await mkdir(join(root, 'layers'), { recursive: true });
    await writeFile(join(root, 'layers', 'old'), 'old');
    await mkdir(join(root, '.meta', 'layers'), { recursive: true });
    await writeFile(join(root, '.meta', 'layers', 'old'), JSON.stringify({ contentType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
    expect(await storage.stat('layers/old')).toMatchObject({ size: 3, contentType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  });
});
