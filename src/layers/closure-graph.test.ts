import { describe, expect, it } from 'vitest';
import { buildClosureGraph, checkedBudget, closureOf, LayeringInputError, packageName, popularityOf } from './closure-graph.js';
import type { StorePathInfo } from './types.js';

const sp = (name: string): string => `/nix/store/${'a'.repeat(32)}-${name}`;
const info = (name: string, narSize: number, refs: string[] = []): StorePathInfo => ({ path: sp(name), narSize, references: refs.map(sp) });

describe('buildClosureGraph', () => {
  const graph = [info('app-1', 10, ['app-1', 'lib-1', 'lib-1']), info('lib-1', 5, ['libc-1']), info('libc-1', 7, ['libc-1'])];

  it('numbers paths in path order, drops self-references and duplicate references', () => {
    const g = buildClosureGraph({ roots: [sp('app-1')], graph });
    expect(g.paths).toEqual([sp('app-1'), sp('lib-1'), sp('libc-1')]);
    expect(g.narSize).toEqual([10, 5, 7]);
    expect(g.refs).toEqual([[1], [2], []]);
    expect(g.roots).toEqual([0]);
  });

  it('does not depend on the order of the graph array', () => {
    expect(buildClosureGraph({ roots: [sp('app-1')], graph: [...graph].reverse() })).toEqual(buildClosureGraph({ roots: [sp('app-1')], graph }));
  });

  it('adds the paths no root reaches as roots, so every path is covered', () => {
    const g = buildClosureGraph({ roots: [sp('lib-1')], graph });
    expect(g.roots).toEqual([1, 0]);
  });

  it('rejects a graph that is not closed, duplicate paths, unknown roots and bad sizes', () => {
    expect(() => buildClosureGraph({ roots: [], graph: [info('a-1', 1, ['missing-1'])] })).toThrow(LayeringInputError);
    expect(() => buildClosureGraph({ roots: [], graph: [info('a-1', 1), info('a-1', 2)] })).toThrow(/twice/);
    expect(() => buildClosureGraph({ roots: [sp('b-1')], graph: [info('a-1', 1)] })).toThrow(/root is not in the closure graph/);
    expect(() => buildClosureGraph({ roots: [], graph: [info('a-1', -1)] })).toThrow(/narSize/);
  });
});

describe('closureOf', () => {
  it('includes the start and everything it reaches, once, through cycles', () => {
    expect(closureOf([[1], [2], [0, 1], []], 0).sort()).toEqual([0, 1, 2]);
    expect(closureOf([[1], [2], [0, 1], []], 3)).toEqual([3]);
  });
});

describe('packageName and popularityOf', () => {
  it('strip the store directory and the hash', () => {
    expect(packageName(sp('openssl-3.0.9'))).toBe('openssl-3.0.9');
    expect(packageName('/nix/store/abc-glibc-2.37-8-bin')).toBe('glibc-2.37-8-bin');
  });

  it('count unknown packages as 1, including names of Object.prototype members', () => {
    expect(popularityOf({ 'openssl-3.0.9': 250 }, sp('openssl-3.0.9'))).toBe(250);
    expect(popularityOf({}, sp('zlib-1.3'))).toBe(1);
    expect(popularityOf({}, sp('constructor'))).toBe(1);
  });
});

describe('checkedBudget', () => {
  it('accepts whole numbers from 1 and rejects the rest', () => {
    expect(checkedBudget(1)).toBe(1);
    for (const bad of [0, -3, 2.5, Number.NaN]) expect(() => checkedBudget(bad)).toThrow(LayeringInputError);
  });
});
