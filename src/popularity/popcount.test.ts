import { describe, expect, it } from 'vitest';
import { countPopularity, formatPopularity, MIN_REPORTED_COUNT, parseStorePath, PopularityCounter, StorePathError, storePathName } from './popcount.js';

const hash = (c: string) => c.repeat(32);
const p = (c: string, name: string) => `/nix/store/${hash(c)}-${name}`;

describe('countPopularity', () => {
  it('gives the module comment example', () => {
    const hello = p('1', 'hello-2.12');
    const bash = p('2', 'bash-5.2');
    const glibc = p('3', 'glibc-2.39');
    expect(
      countPopularity([
        { path: hello, references: [glibc, hello] },
        { path: bash, references: [glibc, bash] },
        { path: glibc, references: [glibc] },
        { path: p('4', 'zlib-1.3'), references: [] },
      ]),
    ).toEqual({ 'glibc-2.39': 3 });
  });

  it('counts self-references, adds up paths of the same name, and drops names counted once', () => {
    const libA = p('a', 'lib-1.0');
    const libA2 = p('b', 'lib-1.0'); // another build of the same name-version
    const app = p('c', 'app-2');
    const tool = p('d', 'tool-3');
    const popularity = countPopularity([
      { path: app, references: [libA, app] },
      { path: tool, references: [libA2, tool] },
      { path: libA, references: [libA] },
    ]);
    expect(popularity).toEqual({ 'lib-1.0': 3 });
    expect(MIN_REPORTED_COUNT).toBe(2);
  });

  it('takes narinfo basenames as references and ignores empty ones', () => {
    const counter = new PopularityCounter();
    counter.add([`${hash('a')}-openssl-3.0.13`, '']);
    counter.add([`${hash('a')}-openssl-3.0.13`, `${hash('b')}-zlib-1.3`]);
    expect(counter.paths).toBe(2);
    expect(counter.popularity()).toEqual({ 'openssl-3.0.13': 2 });
  });

  it('sorts the keys so the output is stable', () => {
    const refs = [p('a', 'zz-1'), p('b', 'aa-1'), p('c', 'mm-1')];
    const popularity = countPopularity([{ path: p('d', 'x'), references: refs }, { path: p('f', 'y'), references: [...refs].reverse() }]);
    expect(Object.keys(popularity)).toEqual(['aa-1', 'mm-1', 'zz-1']);
  });

  it('rejects a reference that is not a store path', () => {
    expect(() => countPopularity([{ path: p('a', 'x'), references: ['/nix/store/short-hash-x'] }])).toThrow(StorePathError);
    expect(() => countPopularity([{ path: p('a', 'x'), references: ['/nix/store/short-hash-x'] }])).toThrow(/not a store path: "\/nix\/store\/short-hash-x"/);
  });
});

describe('store path names', () => {
  it('are the basename without the 32-character hash', () => {
    expect(storePathName(p('a', 'python3.12-requests-2.31.0-dist'))).toBe('python3.12-requests-2.31.0-dist');
    expect(parseStorePath(`${hash('0')}-glibc-2.39-52`)).toEqual({ hash: hash('0'), name: 'glibc-2.39-52' });
  });

  it('need a hash in Nix base-32 (no e, o, u, t)', () => {
    expect(() => storePathName(`/nix/store/${'e'.repeat(32)}-x`)).toThrow(StorePathError);
    expect(() => storePathName(`/nix/store/${hash('a')}`)).toThrow(StorePathError);
  });
});

describe('formatPopularity', () => {
  it('writes one sorted entry a line, valid JSON', () => {
    const text = formatPopularity({ b: 2, a: 10 });
    expect(text).toBe('{\n  "a": 10,\n  "b": 2\n}\n');
    expect(JSON.parse(text)).toEqual({ a: 10, b: 2 });
    expect(formatPopularity({})).toBe('{}\n');
  });
});
