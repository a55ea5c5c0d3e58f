import { createHash } from 'node:crypto';
import { pack as tarPack, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { END_OF_ARCHIVE, headerBlocks, padding, type TarHeader } from './tar-format.js';

type Entry = TarHeader & { contents?: Buffer };

/** The archive tar-stream writes for `entries` (as pack-layer wrote layers before). */
async function viaTarStream(entries: readonly Entry[]): Promise<Buffer> {
  const tar = tarPack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((done) => tar.on('end', () => done()));
  for (const entry of entries) {
    const header: Partial<Header> & { name: string } = { name: entry.name, uid: entry.uid ?? 0, gid: entry.gid ?? 0, uname: '', gname: '', mtime: new Date(entry.mtimeSeconds * 1000), type: entry.type, mode: entry.mode };
    if (entry.type === 'symlink') header.linkname = entry.linkname;
    if (entry.type === 'file') header.size = entry.size;
    await new Promise<void>((done, fail) => {
      const callback = (error?: Error | null) => (error ? fail(error) : done());
      if (entry.type === 'file') tar.entry(header, entry.contents ?? Buffer.alloc(0), callback);
      else tar.entry(header, callback);
    });
  }
  tar.finalize();
  await ended;
  return Buffer.concat(chunks);
}

function viaTarFormat(entries: readonly Entry[]): Buffer {
  const parts = entries.flatMap((entry) => [...headerBlocks(entry), ...(entry.type === 'file' ? [entry.contents ?? Buffer.alloc(0), padding(entry.size)] : [])]);
  return Buffer.concat([...parts, END_OF_ARCHIVE]);
}

const file = (name: string, contents: string | Buffer, mode = 0o444): Entry => {
  const bytes = Buffer.isBuffer(contents) ? contents : Buffer.from(contents);
  return { name, type: 'file', mode, size: bytes.length, contents: bytes, mtimeSeconds: 1 };
};
const dir = (name: string, mode = 0o555): Entry => ({ name, type: 'directory', mode, size: 0, mtimeSeconds: 1 });
const link = (name: string, target: string): Entry => ({ name, type: 'symlink', mode: 0o777, size: 0, linkname: target, mtimeSeconds: 1 });

describe('tar-format', () => {
  it('writes what tar-stream writes, byte for byte, for the entries of store paths', async () => {
    const store = 'nix/store/bsvj0nvbvrrx35c4a79wl7qm8ma65p05-busybox';
    const deep = `${store}/${'share/very-long-directory-name/'.repeat(6)}file.txt`;
    const entries: Entry[] = [
      dir('nix', 0o755),
      dir('nix/store', 0o755),
      dir(store),
      dir(`${store}/bin`),
      file(`${store}/bin/busybox`, Buffer.alloc(70_001, 7), 0o555),
      link(`${store}/bin/sh`, 'busybox'),
      link(`${store}/bin/long-target`, `/nix/store/${'x'.repeat(120)}/bin/sh`),
      file(`${store}/empty`, ''),
      file(`${store}/block`, Buffer.alloc(512, 1)),
      file(deep, 'deep under a prefix'),
      file(`${store}/${'n'.repeat(120)}`, 'one component over 100 bytes: PAX'),
      file(`${store}/${'p/'.repeat(90)}end`, 'a prefix over 155 bytes: PAX'),
      file(`${store}/naïve-ünïcode`, 'not ASCII: PAX'),
      link(`${store}/${'l'.repeat(110)}`, `${'t'.repeat(150)}`),
      file('etc/ssl/certs/ca-bundle.crt', 'x'.repeat(1000), 0o644),
      dir(`${store}/share/${'d'.repeat(99)}`),
      { ...dir('home/nonroot', 0o700), uid: 65532, gid: 65532 },
      { ...file(`home/nonroot/${'o'.repeat(120)}`, 'owned, under PAX'), uid: 65532, gid: 65532 },
    ];
    const expected = await viaTarStream(entries);
    const actual = viaTarFormat(entries);
    expect(actual.length).toBe(expected.length);
    expect(createHash('sha256').update(actual).digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('encodes a size over 11 octal digits in base-256, as tar-stream does', async () => {
    const [block] = headerBlocks({ name: 'big', type: 'file', mode: 0o444, size: 0o100000000000, mtimeSeconds: 1 });
    expect(block?.[124]).toBe(0x80);
    expect(block?.readUIntBE(124 + 6, 6)).toBe(0o100000000000);
  });
});
