import { randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
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
  return buffer(Readable.from(parallelGzip(pieces(input), { level: 4, parallel }, onInput)));
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
    expect((await buffer(Readable.from(parallelGzip([input], { level: 4, parallel: 2 })))).equals(one)).toBe(true);
  });

  it('is a gzip member per block, in order: each piece is one whole member of its block (one write each)', async () => {
    const input = sample(3 * BLOCK + 1);
    const members: Buffer[] = [];
    for await (const piece of parallelGzip(pieces(input), { level: 4, parallel: 3 })) members.push(piece);
    expect(members).toHaveLength(4);
    members.forEach((member, index) => {
      expect(member.subarray(0, 3).equals(Buffer.from([0x1f, 0x8b, 0x08])), `member ${index} starts a gzip header`).toBe(true);
      expect(gunzipSync(member).equals(input.subarray(index * BLOCK, (index + 1) * BLOCK)), `member ${index}`).toBe(true);
    });
    const empty: Buffer[] = [];
    for await (const piece of parallelGzip([], { level: 4, parallel: 3 })) empty.push(piece);
    expect(empty).toHaveLength(1);
    expect(gunzipSync(empty[0] as Buffer)).toHaveLength(0);
  });

  it('makes the same bytes at the same level, and smaller ones at a higher level', async () => {
    const input = sample(2 * BLOCK);
    expect((await gzipped(input)).equals(await gzipped(input))).toBe(true);
    const at = async (level: number) => (await buffer(Readable.from(parallelGzip([input], { level, parallel: 2 })))).length;
    expect(await at(9)).toBeLessThan(await at(1));
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
    await expect(buffer(Readable.from(parallelGzip(failing(), { level: 4, parallel: 2 })))).rejects.toThrow('read failed');
  });
});
