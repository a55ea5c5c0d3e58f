import { describe, expect, it } from 'vitest';
import { popcontestLayers } from './popcontest.js';
import type { LayeringInput, StorePathInfo } from './types.js';

const sp = (name: string): string => `/nix/store/${'p'.repeat(32)}-${name}`;
const info = (name: string, refs: string[] = []): StorePathInfo => ({ path: sp(name), narSize: 1000, references: refs.map(sp) });
const sets = (layers: string[][]): string[] => layers.map((layer) => layer.map((path) => path.slice(path.indexOf('-') + 1)).join(','));

describe('popcontestLayers', () => {
  // The Example of popcontest.ts: app → lib → libc, app → libc.
  const example = (budget: number): LayeringInput => ({
    roots: [sp('app')],
    graph: [info('app', ['lib', 'libc']), info('lib', ['libc']), info('libc')],
    popularity: {},
    budget,
  });

  it('ranks paths by how many closures hold them (the documented example)', () => {
    expect(sets(popcontestLayers(example(3)))).toEqual(['libc', 'lib', 'app']);
    expect(sets(popcontestLayers(example(2)))).toEqual(['libc', 'app,lib']);
    expect(sets(popcontestLayers(example(1)))).toEqual(['app,lib,libc']);
  });
});
