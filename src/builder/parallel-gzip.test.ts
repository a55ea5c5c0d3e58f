import { randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BLOCK, parallelGzip } from './parallel-gzip.js';

/** Half text that compresses, half noise that does not: both paths of deflate. */
function sample(bytes: number): Buffer {
  const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(Math.ceil(bytes / 88)));
  return Buffer.concat([text.subarray(0, bytes / 2), randomBytes(bytes - Math.floor(bytes / 2))]);
}

/** The input in uneven pieces, as a tar stream comes. */
function* pieces(input: Buffer): Generator<Buffer> {
  for (let offset = 0, size = 1; offset < input.length; offset += size, size = (size * 7 + 3) % 300_000 || 1) yield input.subarray(offset, offset + size);
}

async function gzipped(input: Buffer, parallel = 3, onInput?: (block: Buffer) => void): Promise<Buffer> {
  return buffer(Readable.from(parallelGzip(pieces(input), { level: 6, memLevel: 9, parallel }, onInput)));
}

describe('parallelGzip', () => {
  it('gives a gzip stream of the input, across many blocks', async () => {
    const input = sample(5 * BLOCK + 12_345);
    expect(gunzipSync(await gzipped(input)).equals(input)).toBe(true);
  });

  it('depends only on the input: not on the pieces it came in nor on how many blocks compress at once', async () => {
    const input = sample(3 * BLOCK + 1);
    const one = await gzipped(input, 1);
    expect((await gzipped(input, 4)).equals(one)).toBe(true);
    expect((await buffer(Readable.from(parallelGzip([input], { level: 6, memLevel: 9, parallel: 2 })))).equals(one)).toBe(true);
  });

  it('gives the bytes of plain gzip for an input of at most one block (small layers keep their digests)', async () => {
    for (const size of [0, 1, 1000, 20_000, BLOCK]) {
      const input = sample(size);
      expect((await gzipped(input)).equals(gzipSync(input, { level: 6, memLevel: 9 })), `${size} bytes`).toBe(true);
    }
  });

  it('gives an input of one block as one piece and a longer one as a piece per block (one write each)', async () => {
    const pieceSizes = async (input: Buffer) => {
      const sizes: number[] = [];
      for await (const piece of parallelGzip(pieces(input), { level: 6, memLevel: 9, parallel: 3 })) sizes.push(piece.length);
      return sizes;
    };
    expect(await pieceSizes(sample(1000))).toHaveLength(1);
    expect(await pieceSizes(Buffer.alloc(0))).toHaveLength(1);
    expect(await pieceSizes(sample(3 * BLOCK + 1))).toHaveLength(4);
  });

  it('shows every input block in order, each a whole block but the last', async () => {
    const input = sample(2 * BLOCK + 10);
    const seen: Buffer[] = [];
    await gzipped(input, 2, (block) => seen.push(Buffer.from(block)));
    expect(seen.map((block) => block.length)).toEqual([BLOCK, BLOCK, 10]);
    expect(Buffer.concat(seen).equals(input)).toBe(true);
  });

  it('passes on a failure of its input', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield sample(BLOCK * 2);
      throw new Error('read failed');
    }
    await expect(buffer(Readable.from(parallelGzip(failing(), { level: 6, memLevel: 9, parallel: 2 })))).rejects.toThrow('read failed');
  });
});
