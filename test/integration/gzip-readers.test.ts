// Layers are gzip members one after another (a member per 256 KiB block): the gzip readers
// that unpack layers in the wild read them whole, not only their first member. Go's reader is
// covered by every docker, skopeo and podman pull of the e2e tests; here GNU gzip and tar,
// busybox, Python and zlib itself.
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFilesystemStorage } from '../../storage/filesystem.js';
import { blobKey } from '../../storage/keys.js';
import { BLOCK } from '../../src/builder/parallel-gzip.js';
import { packLayer } from '../../src/builder/pack-layer.js';
import { storePathEntries } from '../../src/builder/tar-entries.js';

let dir = '';
let layer: Buffer;
let diffId = '';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nixyard-gzip-readers-'));
  const tree = join(dir, 'pkg');
  await mkdir(join(tree, 'share'), { recursive: true });
  // Text that compresses and noise that does not, over several blocks.
  await writeFile(join(tree, 'share', 'text'), 'every reader reads every member\n'.repeat(40_000));
  await writeFile(join(tree, 'share', 'noise'), randomBytes(2 * BLOCK + 77));
  const storage = await createFilesystemStorage(join(dir, 'storage'));
  const packed = await packLayer(storage, storePathEntries([tree]));
  layer = (await storage.get(blobKey(packed.digest))) as Buffer;
  diffId = packed.diff_id;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The tar a command writes to stdout when given the layer on stdin. */
async function unpackedBy(command: string, args: string[]): Promise<Buffer> {
  const { stdout } = await execa(command, args, { input: layer, encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(stdout);
}

describe('a layer of several gzip members', () => {
  it('has more than one member (so the readers below read past the first)', () => {
    const starts = [...layer.entries()].filter(([index, byte]) => byte === 0x1f && layer[index + 1] === 0x8b && layer[index + 2] === 0x08 && layer[index + 3] === 0).length;
    expect(starts).toBeGreaterThan(2);
    expect(sha256(gunzipSync(layer))).toBe(diffId);
  });

  it('is read whole by GNU gzip, GNU tar, busybox and Python', async () => {
    expect(sha256(await unpackedBy('gzip', ['-dc']))).toBe(diffId);
    expect(sha256(await unpackedBy('busybox', ['gunzip', '-c']))).toBe(diffId);
    expect(sha256(await unpackedBy('python3', ['-c', 'import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))']))).toBe(diffId);
    const listed = (await execa('tar', ['-tzvf', '-'], { input: layer })).stdout;
    expect(listed).toMatch(new RegExp(`${String(2 * BLOCK + 77)} .*share/noise`));
    expect(listed).toMatch(/share\/text/);
  });
});
