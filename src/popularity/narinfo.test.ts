import { describe, expect, it } from 'vitest';
import { ChannelDataError, parseNarinfo, parseStorePaths } from './narinfo.js';

const hash = (c: string) => c.repeat(32);

const NARINFO = `StorePath: /nix/store/${hash('a')}-hello-2.12.1
URL: nar/0abc.nar.xz
Compression: xz
FileHash: sha256:0abc
FileSize: 50000
NarHash: sha256:0def
NarSize: 226560
References: ${hash('b')}-glibc-2.39-52 ${hash('a')}-hello-2.12.1
Deriver: ${hash('c')}-hello-2.12.1.drv
Sig: cache.nixos.org-1:xyz==
`;

describe('parseNarinfo', () => {
  it('reads the store path and its references as absolute paths', () => {
    expect(parseNarinfo(NARINFO, 'test', `/nix/store/${hash('a')}-hello-2.12.1`)).toEqual({
      storePath: `/nix/store/${hash('a')}-hello-2.12.1`,
      references: [`/nix/store/${hash('b')}-glibc-2.39-52`, `/nix/store/${hash('a')}-hello-2.12.1`],
    });
  });

  it('reads an empty References line as no references', () => {
    const text = `StorePath: /nix/store/${hash('d')}-data\nReferences: \n`;
    expect(parseNarinfo(text, 'test').references).toEqual([]);
  });

  it('names the origin when the narinfo has no References line, or is not a narinfo', () => {
    expect(() => parseNarinfo(`StorePath: /nix/store/${hash('d')}-data\n`, 'http://cache/x.narinfo')).toThrow(/http:\/\/cache\/x.narinfo is not a narinfo: it has no References line/);
    expect(() => parseNarinfo('<html>404 Not Found</html>', 'http://cache/y.narinfo')).toThrow(ChannelDataError);
  });

  it('rejects a narinfo describing another path, and malformed references', () => {
    expect(() => parseNarinfo(NARINFO, 'n', `/nix/store/${hash('f')}-other`)).toThrow(/describes \/nix\/store\/a+-hello-2.12.1, not \/nix\/store\/f+-other/);
    expect(() => parseNarinfo(`StorePath: /nix/store/${hash('d')}-data\nReferences: bogus\n`, 'n')).toThrow(/reference "bogus" is not a store path basename/);
  });
});

describe('parseStorePaths', () => {
  it('reads one store path a line, skipping blank lines and duplicates', () => {
    const a = `/nix/store/${hash('a')}-a-1`;
    const b = `/nix/store/${hash('b')}-b-2`;
    expect(parseStorePaths(`${a}\n\n${b}\n${a}\n`, 'list')).toEqual([a, b]);
  });

  it('names the origin and the bad lines', () => {
    expect(() => parseStorePaths(`/nix/store/${hash('a')}-a-1\nnot a path\n`, 'http://x/store-paths')).toThrow(/http:\/\/x\/store-paths is not a list of store paths .*line 2: "not a path"/);
    expect(() => parseStorePaths('\n\n', 'http://x/store-paths')).toThrow('http://x/store-paths lists no store paths');
  });
});
