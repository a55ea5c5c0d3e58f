import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFilesystemStorage } from '../../storage/filesystem.js';
import { blobKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import { packLayer } from './pack-layer.js';
import { entriesUnder, storePathEntries } from './tar-entries.js';

async function tarHeaders(tarBytes: Buffer) {
  const headers: { name: string; type: string; uid: number; gid: number; uname: string; gname: string; mtime: number; mode: number; linkname: string | null }[] = [];
  const reader = extract();
  const done = (async () => {
    for await (const entry of reader) {
      const h = entry.header;
      headers.push({ name: h.name, type: h.type, uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname, mtime: h.mtime.getTime(), mode: h.mode, linkname: h.linkname ?? null });
      entry.resume();
    }
  })();
  Readable.from([tarBytes]).pipe(reader);
  await done;
  return headers;
}

describe('packLayer', () => {
  let storage: Storage;
  let tree: string;

  beforeAll(async () => {
    storage = await createFilesystemStorage(await mkdtemp(join(tmpdir(), 'nixyard-pack-')));
    tree = await mkdtemp(join(tmpdir(), 'nixyard-tree-'));
    await mkdir(join(tree, 'pkg/bin'), { recursive: true });
    await writeFile(join(tree, 'pkg/bin/tool'), '#!/bin/sh\necho tool\n');
    await chmod(join(tree, 'pkg/bin/tool'), 0o555);
    await writeFile(join(tree, 'pkg/b.txt'), 'b');
    await writeFile(join(tree, 'pkg/a.txt'), 'a'.repeat(100_000));
    await symlink('bin/tool', join(tree, 'pkg/link'));
  });

  it('stores a gzip blob whose digest, size and diff_id match its bytes', async () => {
    const layer = await packLayer(storage, entriesUnder(join(tree, 'pkg')));
    const blob = await buffer(await storage.read(blobKey(layer.digest)));
    expect(layer.size).toBe(blob.length);
    expect(layer.digest).toBe(`sha256:${createHash('sha256').update(blob).digest('hex')}`);
    expect(layer.diff_id).toBe(`sha256:${createHash('sha256').update(gunzipSync(blob)).digest('hex')}`);
    expect((await storage.stat(blobKey(layer.digest)))?.contentType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(await storage.list('staging/')).toEqual([]);
  });

  it('runs besideCommit with the layer it stores, and fails with it', async () => {
    const seen: unknown[] = [];
    const layer = await packLayer(storage, entriesUnder(join(tree, 'pkg')), async (packed) => void seen.push(packed));
    expect(seen).toEqual([layer]);
    await expect(packLayer(storage, entriesUnder(join(tree, 'pkg')), async () => Promise.reject(new Error('record not written')))).rejects.toThrow('record not written');
  });

  it('is deterministic: same files, same digest, whatever the clock', async () => {
    const first = await packLayer(storage, entriesUnder(join(tree, 'pkg')));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await packLayer(storage, entriesUnder(join(tree, 'pkg')));
    expect(second).toEqual(first);
  });

  it('writes sorted entries with root ownership, empty owner names and mtime 1', async () => {
    const layer = await packLayer(storage, storePathEntries([join(tree, 'pkg')]));
    const headers = await tarHeaders(gunzipSync(await buffer(await storage.read(blobKey(layer.digest)))));
    const base = join(tree, 'pkg').slice(1);
    expect(headers.map((h) => h.name)).toEqual(['nix', 'nix/store', base, `${base}/a.txt`, `${base}/b.txt`, `${base}/bin`, `${base}/bin/tool`, `${base}/link`]);
    for (const h of headers) expect({ uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname, mtime: h.mtime }).toEqual({ uid: 0, gid: 0, uname: '', gname: '', mtime: 1000 });
    expect(headers.find((h) => h.name.endsWith('bin/tool'))?.mode).toBe(0o555);
    expect(headers.find((h) => h.name.endsWith('link'))).toMatchObject({ type: 'symlink', linkname: 'bin/tool' });
  });

  it('packs files bigger than a gzip block whole, read across blocks', async () => {
    const big = await mkdtemp(join(tmpdir(), 'nixyard-big-'));
    const contents = Buffer.from(Array.from({ length: 700_000 }, (_, i) => (i * 7919) % 251));
    await writeFile(join(big, 'data'), contents);
    await writeFile(join(big, 'small'), 'small');
    const layer = await packLayer(storage, entriesUnder(big));
    const tar = gunzipSync(await buffer(await storage.read(blobKey(layer.digest))));
    const files = new Map<string, Buffer>();
    const reader = extract();
    const done = (async () => {
      for await (const entry of reader) files.set(entry.header.name, await buffer(entry));
    })();
    Readable.from([tar]).pipe(reader);
    await done;
    expect(files.get(`${big.slice(1)}/data`)?.equals(contents)).toBe(true);
    expect(files.get(`${big.slice(1)}/small`)?.toString()).toBe('small');
  });

  it('refuses a file that is shorter than its entry says (changed while packed), storing nothing', async () => {
    const before = await storage.list('layers/');
    const entries = [{ type: 'file' as const, name: 'b.txt', mode: 0o444, size: 10, sourcePath: join(tree, 'pkg/b.txt') }];
    await expect(packLayer(storage, entries)).rejects.toThrow(/changed while it was packed \(10 bytes, ended at 1\)/);
    expect(await storage.list('layers/')).toEqual(before);
    expect(await storage.list('staging/')).toEqual([]);
  });

  it('leaves no blob and no staging file when reading an entry fails', async () => {
    const before = await storage.list('layers/');
    const entries = [{ type: 'file' as const, name: 'gone', mode: 0o444, size: 10, sourcePath: join(tree, 'does-not-exist') }];
    await expect(packLayer(storage, entries)).rejects.toThrow(/ENOENT/);
    expect(await storage.list('layers/')).toEqual(before);
    expect(await storage.list('staging/')).toEqual([]);
  });
});
