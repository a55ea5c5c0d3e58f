/**
 * The storage contract, as one suite run unchanged against every backend. After each test
 * every key must be gone again (each test deletes what it wrote): leftovers fail the run.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidKeyError, ObjectNotFoundError } from '../../storage/errors.js';
import type { Storage } from '../../storage/types.js';

/** Registers the contract tests for a backend made by `factory`. */
export function describeStorage(name: string, factory: () => Promise<Storage>): void {
  describe(`storage contract: ${name}`, () => {
    let storage: Storage;
    beforeAll(async () => {
      storage = await factory();
    });
    afterEach(async () => {
      expect(await storage.list('')).toEqual([]);
    });

    it('puts, stats, gets and deletes an object with its content type', async () => {
      const before = Date.now();
      await storage.put('manifests/abc', '{"a":1}', 'application/json');
      const info = await storage.stat('manifests/abc');
      expect(info).toMatchObject({ size: 7, contentType: 'application/json' });
      expect(info?.updated.getTime()).toBeGreaterThanOrEqual(before - 2000);
      expect(info?.updated.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
      expect((await storage.get('manifests/abc'))?.toString()).toBe('{"a":1}');
      await storage.delete('manifests/abc');
      expect(await storage.stat('manifests/abc')).toBeUndefined();
    });

    it('answers undefined for a missing object, throws ObjectNotFoundError when streaming one', async () => {
      expect(await storage.stat('layers/missing')).toBeUndefined();
      expect(await storage.get('layers/missing')).toBeUndefined();
      await expect(storage.read('layers/missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await storage.delete('layers/missing');
    });

    it('overwrites an existing object with put', async () => {
      await storage.put('builds/x', 'one', 'text/plain');
      await storage.put('builds/x', 'second', 'application/json');
      expect((await storage.get('builds/x'))?.toString()).toBe('second');
      expect(await storage.stat('builds/x')).toMatchObject({ size: 6, contentType: 'application/json' });
      await storage.delete('builds/x');
    });

    it('streams whole objects and inclusive byte ranges', async () => {
      await storage.put('layers/r', '0123456789', 'application/octet-stream');
      expect(await text(await storage.read('layers/r'))).toBe('0123456789');
      expect(await text(await storage.read('layers/r', { start: 2, end: 4 }))).toBe('234');
      expect(await text(await storage.read('layers/r', { start: 9, end: 9 }))).toBe('9');
      await storage.delete('layers/r');
    });

    it('copies whole objects and ranges to a writable, large ones too', async () => {
      const big = Buffer.alloc(1024 * 1024 + 12345);
      for (let i = 0; i < big.length; i += 1) big[i] = (i * 7) % 251;
      await storage.put('layers/big', big, 'application/octet-stream');
      // Like a socket, the sink is done with each chunk when it calls back (it keeps a copy).
      const collect = async (range?: { start: number; end: number }) => {
        const chunks: Buffer[] = [];
        const sink = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            chunks.push(Buffer.from(chunk));
            setImmediate(callback);
          },
        });
        await storage.copyTo('layers/big', sink, range);
        return Buffer.concat(chunks);
      };
      expect((await collect()).equals(big)).toBe(true);
      expect((await collect({ start: 300_000, end: 800_000 })).equals(big.subarray(300_000, 800_001))).toBe(true);
      await expect(storage.copyTo('layers/missing', new PassThrough())).rejects.toBeInstanceOf(ObjectNotFoundError);
      await storage.delete('layers/big');
    });

    it('stages a stream and shows nothing under the final key until commit', async () => {
      const staged = await storage.stage(Readable.from([Buffer.from('hello '), Buffer.from('world')]), 'text/plain');
      expect(staged.size).toBe(11);
      expect(await storage.stat('layers/staged')).toBeUndefined();
      await staged.commit('layers/staged');
      expect((await storage.get('layers/staged'))?.toString()).toBe('hello world');
      expect(await storage.list('staging/')).toEqual([]);
      await storage.delete('layers/staged');
    });

    it('commit is create-only: a racing second writer of a key keeps the first object', async () => {
      const first = await storage.stage(Readable.from(['first']), 'text/plain');
      const second = await storage.stage(Readable.from(['second']), 'text/plain');
      await first.commit('layers/raced');
      await second.commit('layers/raced');
      expect((await storage.get('layers/raced'))?.toString()).toBe('first');
      expect(await storage.list('staging/')).toEqual([]);
      await storage.delete('layers/raced');
    });

    it('discards a staged upload without a trace, and refuses to settle it twice', async () => {
      const staged = await storage.stage(Readable.from(['x']), 'text/plain');
      await staged.discard();
      expect(await storage.list('')).toEqual([]);
      await expect(staged.commit('layers/late')).rejects.toThrow(/twice/);
      expect(await storage.list('')).toEqual([]);
    });

    it('leaves nothing behind when the stream fails mid-write', async () => {
      async function* failing() {
        yield Buffer.alloc(64 * 1024, 1);
        throw new Error('disk on fire');
      }
      await expect(storage.stage(Readable.from(failing()), 'text/plain')).rejects.toThrow(/disk on fire/);
      expect(await storage.list('')).toEqual([]);
    });

    it('lists keys by prefix, sorted', async () => {
      await storage.put('layers/b', 'b', 'text/plain');
      await storage.put('layers/a', 'a', 'text/plain');
      await storage.put('manifests/m', 'm', 'text/plain');
      expect(await storage.list('layers/')).toEqual(['layers/a', 'layers/b']);
      expect(await storage.list('manifests/')).toEqual(['manifests/m']);
      expect(await storage.list('nothing-here/')).toEqual([]);
      for (const key of ['layers/a', 'layers/b', 'manifests/m']) await storage.delete(key);
    });

    it('rejects keys outside the key scheme before touching the backend', async () => {
      for (const key of ['../etc/passwd', 'layers/../x', '.meta/x', 'layers/.hidden', '', 'a//b', '/abs']) {
        await expect(storage.put(key, 'x', 'text/plain')).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(storage.stat(key)).rejects.toBeInstanceOf(InvalidKeyError);
      }
    });

    it('deleting a missing key is not an error', async () => {
      await expect(storage.delete('layers/never-was')).resolves.toBeUndefined();
    });
  });
}
