import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipMember, gzipMemberSync, libdeflateVersion, loadGzipAddon } from './gzip-member.js';

describe('the gzip addon', () => {
  it('makes one whole gzip member of a block, in the pool or on this thread, the same bytes either way', async () => {
    const block = Buffer.from('a layer is members one after another\n'.repeat(1000));
    const pooled = await gzipMember(block, 4);
    expect(gunzipSync(pooled).equals(block)).toBe(true);
    expect(gzipMemberSync(block, 4).equals(pooled)).toBe(true);
    expect(gunzipSync(gzipMemberSync(Buffer.alloc(0), 4))).toHaveLength(0);
    expect(libdeflateVersion).toMatch(/^\d+\.\d+/);
  });

  it('refuses what is not a Buffer and a level outside 0–12, saying what it expects', () => {
    const expected = /expected \(block: Buffer, level: 0-12\)/;
    expect(() => gzipMemberSync('text' as unknown as Buffer, 4)).toThrow(TypeError);
    expect(() => gzipMemberSync(Buffer.from('x'), 13)).toThrow(expected);
    expect(() => gzipMember(Buffer.from('x'), -1)).toThrow(expected);
  });

  it('says how to build it when it is not there', () => {
    expect(() => loadGzipAddon('/nonexistent/gzip-member.node')).toThrow(/\/nonexistent\/gzip-member\.node could not be loaded .*npm run build.*libdeflate-dev/s);
  });
});
