import { describe, expect, it } from 'vitest';
import { rootTailLayers, TAIL_SLACK, tailBudget } from './root-tails.js';
import type { LayeringInput, StorePathInfo } from './types.js';

const MB = 1_000_000;
const sp = (name: string): string => `/nix/store/${'r'.repeat(32)}-${name}`;
const info = (name: string, narSize: number, refs: string[] = []): StorePathInfo => ({ path: sp(name), narSize, references: refs.map(sp) });
const names = (layers: string[][]): string[] => layers.map((layer) => layer.map((path) => path.slice(path.indexOf('-') + 1)).join(',')).sort();

// The Example of root-tails.ts.
const exampleGraph = [
  info('app', 30 * MB, ['libfoo', 'libbar']),
  info('libfoo', 8 * MB, ['glibc']),
  info('glibc', 20 * MB),
  info('libbar', 1 * MB, ['zlib']),
  info('zlib', 0.2 * MB),
  info('tool', 5 * MB, ['glibc']),
];
const image = (roots: string[], budget: number, graph = exampleGraph): LayeringInput => ({ roots: roots.map(sp), graph, popularity: {}, budget });
const closureOfApp = exampleGraph.filter((entry) => entry.path !== sp('tool'));

describe('tailBudget', () => {
  it('leaves TAIL_SLACK of the budget to the other roots', () => {
    expect(TAIL_SLACK).toBe(0.2);
    expect([1, 2, 3, 4, 5, 30, 60, 94].map(tailBudget)).toEqual([1, 2, 2, 3, 4, 24, 48, 75]);
  });
});

describe('rootTailLayers', () => {
  it('computes the documented example', () => {
    expect(names(rootTailLayers(image(['app', 'tool'], 5)))).toEqual(['app', 'glibc', 'libbar,zlib', 'libfoo', 'tool']);
    expect(names(rootTailLayers(image(['app'], 5, closureOfApp)))).toEqual(['app', 'glibc', 'libbar,zlib', 'libfoo']);
    expect(names(rootTailLayers(image(['app', 'tool'], 4)))).toEqual(['app', 'glibc', 'libbar,libfoo,zlib', 'tool']);
  });

  it("keeps a root's tail identical whatever the other roots of the image", () => {
    // app has 12 paths: itself (50 MB), glibc (20 MB), lib0 … lib9 (10 MB … 1 MB). Budget 6 → T = 5:
    // app, glibc, lib0 and lib1 alone, lib2 … lib9 app's tail.
    const libs = Array.from({ length: 10 }, (_, i) => info(`lib${i}`, (10 - i) * MB, ['glibc']));
    const base = [info('app', 50 * MB, libs.map((_, i) => `lib${i}`)), ...libs, info('glibc', 20 * MB)];
    const withA = [...base, info('toolA', 3 * MB, ['lib9', 'glibc'])];
    const withB = [...base, info('toolB', 4 * MB, ['lib2', 'extra']), info('extra', 2 * MB)];
    const tail = 'lib2,lib3,lib4,lib5,lib6,lib7,lib8,lib9';
    const alone = names(rootTailLayers(image(['app'], 6, base)));
    const a = names(rootTailLayers(image(['app', 'toolA'], 6, withA)));
    const b = names(rootTailLayers(image(['app', 'toolB'], 6, withB)));
    for (const layers of [alone, a, b]) expect(layers).toContain(tail);
    expect(alone).toEqual(['app', 'glibc', 'lib0', 'lib1', tail]);
    expect(a).toEqual(['app', 'glibc', 'lib0', 'lib1', tail, 'toolA']);
    // toolB and extra do not both fit beside app's layers: the two smallest of the paths left
    // share the overflow layer.
    expect(b).toEqual(['app', 'extra,toolB', 'glibc', 'lib0', 'lib1', tail]);
  });

  it('respects tiny budgets: the first tails, then everything else in one layer', () => {
    expect(names(rootTailLayers(image(['app', 'tool'], 1)))).toEqual(['app,glibc,libbar,libfoo,tool,zlib']);
    // Budget 2 and 3: T = 2, app's tail is all but app itself; tool (2 paths) has none.
    expect(names(rootTailLayers(image(['app', 'tool'], 2)))).toEqual(['app,tool', 'glibc,libbar,libfoo,zlib']);
    expect(names(rootTailLayers(image(['app', 'tool'], 3)))).toEqual(['app', 'glibc,libbar,libfoo,zlib', 'tool']);
  });

  it('gives every path its own layer when the closure is small', () => {
    expect(names(rootTailLayers(image(['tool'], 94, [info('tool', 1, ['glibc']), info('glibc', 2)])))).toEqual(['glibc', 'tool']);
    expect(rootTailLayers(image([], 5, []))).toEqual([]);
  });
});
