import { describe, expect, it } from 'vitest';
import { encode, readPathInfos, WireReader } from './nix-serve.js';

/** A reader holding `bytes`, with no more to come. */
function readerOf(...chunks: Buffer[]): WireReader {
  const reader = new WireReader();
  for (const chunk of chunks) reader.push(chunk);
  reader.fail(new Error('no more bytes'));
  return reader;
}

describe('the serve protocol encoding', () => {
  it('writes numbers as 64-bit little endian and strings padded to 8 bytes', () => {
    expect(encode(7).toString('hex')).toBe('0700000000000000');
    expect(encode('abc').toString('hex')).toBe('0300000000000000' + '6162630000000000');
    expect(encode('12345678').length).toBe(16);
    expect(encode(['a', '']).toString('hex')).toBe('0200000000000000' + '0100000000000000' + '6100000000000000' + '0000000000000000');
  });

  it('reads back what it writes, across chunks cut anywhere', async () => {
    const bytes = encode(42, 'a store path', ['x', 'yz']);
    const reader = new WireReader();
    const read = (async () => [await reader.number(), await reader.string(), await reader.strings()])();
    for (let offset = 0; offset < bytes.length; offset += 5) reader.push(bytes.subarray(offset, offset + 5));
    expect(await read).toEqual([42, 'a store path', ['x', 'yz']]);
  });

  it('reads path infos until the empty path, keeping size, references and NAR hash', async () => {
    const info = (path: string, references: string[], narSize: number, narHash: string) => encode(path, '/nix/store/d.drv', references, narSize, narSize, narHash, '', []);
    const reader = readerOf(
      info('/nix/store/a-hello', ['/nix/store/b-busybox'], 616, 'sha256:1a6sbv7lzvxhjdl87p6d2brf985lkz8gmniyrcl1nn5kac5hw9jd'),
      info('/nix/store/b-busybox', [], 1_846_504, 'sha256:0000000000000000000000000000000000000000000000000000'),
      encode(''),
    );
    expect(await readPathInfos(reader)).toEqual([
      { path: '/nix/store/a-hello', narSize: 616, references: ['/nix/store/b-busybox'], narHash: 'sha256:1a6sbv7lzvxhjdl87p6d2brf985lkz8gmniyrcl1nn5kac5hw9jd' },
      { path: '/nix/store/b-busybox', narSize: 1_846_504, references: [], narHash: 'sha256:0000000000000000000000000000000000000000000000000000' },
    ]);
  });

  it('fails a read the other side never completes, with the reason it gave', async () => {
    await expect(readerOf(encode(3).subarray(0, 5)).number()).rejects.toThrow('no more bytes');
    const reader = new WireReader();
    const pending = reader.string();
    reader.push(encode(100).subarray(0, 8));
    reader.fail(new Error('nix-store --serve ended (exit 1)'));
    await expect(pending).rejects.toThrow('nix-store --serve ended (exit 1)');
  });
});
