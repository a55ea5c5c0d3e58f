/**
 * The bytes of a layer's tar stream (pure): 512-byte ustar headers, a PAX extended header for
 * names and link targets ustar cannot hold, contents padded to 512 bytes, two zero blocks at the
 * end. Byte for byte what tar-stream 3 writes for the same entries (a test checks it), so layers
 * keep their digests; written here because tar-stream sets up streams for every entry, which
 * costs more than encoding it when a store path has hundreds of small files and symlinks.
 *
 * Encoding (tar-stream's): a name longer than 100 bytes moves leading path components into the
 * 155-byte prefix field; a name that still does not fit, a name that is not ASCII, or a link
 * target over 100 bytes gets a PAX header (`path=`, `linkpath=` records) in an entry named
 * `PaxHeader`, and the entry itself is then named `PaxHeader` too. Numbers are octal, 6 digits
 * for modes and ids, 11 for size and mtime; a size over 11 octal digits is base-256. Directory
 * names get no trailing slash.
 */

/** What the header of one entry says. */
export interface TarHeader {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  /** Content bytes (0 for directories and symlinks). */
  size: number;
  linkname?: string;
  /** Seconds since the epoch. */
  mtimeSeconds: number;
  /** Owner and group ids; 0 (root) when absent. */
  uid?: number;
  gid?: number;
}

const BLOCK = 512;
/** The end of an archive: two zero blocks. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const TYPEFLAG = { file: 0, directory: 5, symlink: 2, 'pax-header': 72 } as const;

function octal(value: number, digits: number): string {
  const text = value.toString(8);
  return text.length > digits ? `${'7'.repeat(digits)} ` : `${text.padStart(digits, '0')} `;
}

function writeSize(buffer: Buffer, size: number): void {
  if (size.toString(8).length <= 11) {
    buffer.write(octal(size, 11), 124, 'utf8');
    return;
  }
  buffer[124] = 0x80;
  let rest = size;
  for (let i = 11; i > 0; i--) {
    buffer[124 + i] = rest & 0xff;
    rest = Math.floor(rest / 0x100);
  }
}

/** One ustar header block, or `undefined` when the name or link target does not fit. */
function ustar(header: { name: string; type: keyof typeof TYPEFLAG; mode: number; size: number; linkname?: string; mtimeSeconds: number; uid?: number; gid?: number }): Buffer | undefined {
  let { name } = header;
  let prefix = '';
  if (Buffer.byteLength(name) !== name.length) return undefined;
  while (name.length > 100) {
    const slash = name.indexOf('/');
    if (slash === -1) return undefined;
    prefix += prefix ? `/${name.slice(0, slash)}` : name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  if (prefix.length > 155) return undefined;
  if (header.linkname && Buffer.byteLength(header.linkname) > 100) return undefined;
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 'utf8');
  block.write(octal(header.mode & 0o7777, 6), 100, 'utf8');
  block.write(octal(header.uid ?? 0, 6), 108, 'utf8');
  block.write(octal(header.gid ?? 0, 6), 116, 'utf8');
  writeSize(block, header.size);
  block.write(octal(header.mtimeSeconds, 11), 136, 'utf8');
  block[156] = 0x30 + TYPEFLAG[header.type];
  if (header.linkname) block.write(header.linkname, 157, 'utf8');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.write(octal(0, 6), 329, 'utf8');
  block.write(octal(0, 6), 337, 'utf8');
  if (prefix) block.write(prefix, 345, 'utf8');
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i] as number;
  for (let i = 156; i < BLOCK; i++) sum += block[i] as number;
  block.write(octal(sum, 6), 148, 'utf8');
  return block;
}

/** A PAX record: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: string): string {
  const text = ` ${key}=${value}\n`;
  const length = Buffer.byteLength(text);
  let digits = Math.floor(Math.log10(length)) + 1;
  if (length + digits >= 10 ** digits) digits++;
  return `${length + digits}${text}`;
}

/** Zero bytes that pad `size` bytes of contents to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : ZERO_BLOCK.subarray(0, BLOCK - rest);
}

/** The header blocks of one entry (before its contents): one ustar block, or a PAX header, its records and a ustar block. */
export function headerBlocks(header: TarHeader): Buffer[] {
  const size = header.type === 'file' ? header.size : 0;
  const plain = ustar({ ...header, size });
  if (plain) return [plain];
  const records = Buffer.from(paxRecord('path', header.name) + (header.linkname ? paxRecord('linkpath', header.linkname) : ''), 'utf8');
  const linkname = header.linkname ? 'PaxHeader' : undefined;
  const pax = ustar({ name: 'PaxHeader', type: 'pax-header', mode: header.mode, size: records.length, linkname, mtimeSeconds: header.mtimeSeconds, uid: header.uid, gid: header.gid });
  const entry = ustar({ name: 'PaxHeader', type: header.type, mode: header.mode, size, linkname, mtimeSeconds: header.mtimeSeconds, uid: header.uid, gid: header.gid });
  if (!pax || !entry) throw new Error(`cannot encode the tar header of ${JSON.stringify(header.name)}`);
  return [pax, records, padding(records.length), entry];
}
