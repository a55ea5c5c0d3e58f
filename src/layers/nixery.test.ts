import { describe, expect, it } from 'vitest';
import { NIXERY_BIG_CLOSURE_BYTES, nixeryLayers } from './nixery.js';
import type { LayeringInput, StorePathInfo } from './types.js';

const MB = 1_000_000;
const sp = (name: string): string => `/nix/store/${'n'.repeat(32)}-${name}`;
const info = (name: string, narSize: number, refs: string[] = []): StorePathInfo => ({ path: sp(name), narSize, references: refs.map(sp) });
const sets = (layers: string[][]): string[] => layers.map((layer) => layer.map((path) => path.slice(path.indexOf('-') + 1)).join(','));

describe('nixeryLayers', () => {
  // The Example of nixery.ts: img → A, B, C, D; A, B, C → E (popular); D → F; every path 1 MB.
  const example = (budget: number): LayeringInput => ({
    roots: ['A', 'B', 'C', 'D'].map(sp),
    graph: [info('A', MB, ['E']), info('B', MB, ['E']), info('C', MB, ['E']), info('D', MB, ['F']), info('E', MB), info('F', MB)],
    popularity: { E: 100 },
    budget,
  });

  it('groups dominator subtrees and merges the lowest-rated first (the documented example)', () => {
    expect(sets(nixeryLayers(example(10)))).toEqual(['A', 'B', 'C', 'D,F', 'E']);
    expect(sets(nixeryLayers(example(5)))).toEqual(['A', 'B', 'C', 'D,F', 'E']);
    expect(sets(nixeryLayers(example(3)))).toEqual(['A,B,C', 'D,F', 'E']);
    expect(sets(nixeryLayers(example(2)))).toEqual(['A,B,C,D,F', 'E']);
    expect(sets(nixeryLayers(example(1)))).toEqual(['A,B,C,D,E,F']);
  });

  it('keeps an unpopular shared dependency with its only dominator, the image root', () => {
    const input = { ...example(10), popularity: {} };
    // E is reached from A, B and C, so only the image root dominates it: its own layer anyway.
    expect(sets(nixeryLayers(input))).toContain('E');
  });

  it('gives paths with a big closure their own layer', () => {
    const input: LayeringInput = {
      roots: [sp('app')],
      graph: [info('app', MB, ['data']), info('data', NIXERY_BIG_CLOSURE_BYTES + 1)],
      popularity: {},
      budget: 10,
    };
    expect(sets(nixeryLayers(input)).sort()).toEqual(['app', 'data']);
    expect(sets(nixeryLayers({ ...input, graph: [info('app', MB, ['data']), info('data', MB)] }))).toEqual(['app,data']);
  });

  it('rates the packages added to every image most popular of all', () => {
    const input: LayeringInput = {
      roots: [sp('app'), sp('nss-cacert-3.92')],
      graph: [info('app', MB, ['lib']), info('lib', MB), info('nss-cacert-3.92', 1)],
      popularity: { lib: 1000 },
      budget: 2,
    };
    // lib (1000 × 1 MB) outrates app, but nss-cacert (500000 × 1 byte) is rated lower than lib…
    expect(sets(nixeryLayers(input))).toEqual(['app,nss-cacert-3.92', 'lib']);
    // …unless the always-included packages are named otherwise.
    expect(sets(nixeryLayers({ ...input, alwaysIncluded: ['app'] }))).toEqual(['lib,nss-cacert-3.92', 'app']);
  });

  it('does not depend on the order of the input arrays', () => {
    const input = example(3);
    const shuffled = { ...input, roots: [...input.roots].reverse(), graph: [...input.graph].reverse() };
    expect(nixeryLayers(shuffled)).toEqual(nixeryLayers(input));
  });
});
