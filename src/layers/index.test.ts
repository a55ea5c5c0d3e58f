import { describe, expect, it } from 'vitest';
import { DEFAULT_LAYERING_STRATEGY, groupLayers, isLayeringStrategyName, LAYERING_STRATEGIES, LAYERING_VERSION, type LayeringStrategyName } from './index.js';
import type { LayeringInput, Popularity, StorePathInfo } from './types.js';

/** A small deterministic generator (mulberry32), so the generated package set is the same on every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hashOf = (i: number): string => i.toString(36).padStart(32, '0');

/**
 * A package set shaped like nixpkgs: 40 base libraries, 160 mid-level libraries referring to a
 * few lower ones, 100 applications referring to libraries; sizes log-uniform from 1 kB to 100 MB,
 * popularity the number of direct referrers.
 */
function packageSet(seed: number): { byPath: Map<string, StorePathInfo>; apps: string[]; popularity: Popularity } {
  const random = generator(seed);
  const entries: StorePathInfo[] = [];
  const pick = (below: number, count: number): string[] => {
    const refs = new Set<string>();
    for (let k = 0; k < count; k++) refs.add((entries[Math.floor(random() * below)] as StorePathInfo).path);
    return [...refs];
  };
  for (let i = 0; i < 300; i++) {
    const kind = i < 40 ? 'base' : i < 200 ? 'lib' : 'app';
    const path = `/nix/store/${hashOf(i * 7919)}-${kind}${i}-1.0`;
    const count = kind === 'base' ? Math.floor(random() * 2) : kind === 'lib' ? 1 + Math.floor(random() * 4) : 2 + Math.floor(random() * 10);
    const refs = i === 0 ? [] : pick(Math.min(i, kind === 'app' ? 200 : i), count);
    entries.push({ path, narSize: Math.round(10 ** (3 + random() * 5)), references: [path, ...refs] });
  }
  const popularity: Popularity = {};
  for (const entry of entries) {
    for (const ref of entry.references) {
      if (ref === entry.path) continue;
      const name = ref.slice(ref.indexOf('-') + 1);
      popularity[name] = (popularity[name] ?? 0) + 1;
    }
  }
  return { byPath: new Map(entries.map((entry) => [entry.path, entry])), apps: entries.slice(200).map((entry) => entry.path), popularity };
}

const SET = packageSet(42);

function imageOf(roots: string[], budget: number): LayeringInput {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    stack.push(...(SET.byPath.get(path) as StorePathInfo).references);
  }
  return { roots, graph: [...seen].sort().map((path) => SET.byPath.get(path) as StorePathInfo), popularity: SET.popularity, budget };
}

const app = (i: number): string => SET.apps[i] as string;
const STRATEGIES = Object.keys(LAYERING_STRATEGIES) as LayeringStrategyName[];
const IMAGES = [[0], [1, 2], [3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 13, 14], Array.from({ length: 30 }, (_, i) => 40 + i)].map((ids) => ids.map(app));

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe('groupLayers', () => {
  it('has a default strategy, a version and rejects unknown names', () => {
    expect(isLayeringStrategyName(DEFAULT_LAYERING_STRATEGY)).toBe(true);
    expect(isLayeringStrategyName('toString')).toBe(false);
    expect(LAYERING_VERSION).toBeDefined();
  });

  for (const strategy of STRATEGIES) {
    describe(strategy, () => {
      it('puts every closure path in exactly one layer, within the budget, for budgets from 1', () => {
        for (const roots of IMAGES) {
          for (const budget of [1, 2, 3, 5, 10, 30, 94]) {
            const input = imageOf(roots, budget);
            const layers = groupLayers(input, strategy);
            expect(layers.length).toBeLessThanOrEqual(budget);
            const all = layers.flat();
            expect(all.sort()).toEqual(input.graph.map((entry) => entry.path).sort());
            for (const layer of layers) {
              expect(layer.length).toBeGreaterThan(0);
              expect(layer).toEqual([...layer].sort());
            }
          }
        }
      });

      it('gives the same layers whatever the order of roots, graph and references', () => {
        const random = generator(7);
        for (const roots of IMAGES) {
          for (const budget of [2, 10, 30]) {
            const input = imageOf(roots, budget);
            const reordered: LayeringInput = {
              ...input,
              roots: shuffled(input.roots, random),
              graph: shuffled(input.graph, random).map((entry) => ({ ...entry, references: shuffled(entry.references, random) })),
            };
            expect(groupLayers(reordered, strategy)).toEqual(groupLayers(input, strategy));
          }
        }
      });
    });
  }

  it('orders layers most-shared first', () => {
    const input = imageOf(IMAGES[3] as string[], 30);
    const popularityOfLayer = (layer: string[]) => Math.min(...layer.map((path) => SET.popularity[path.slice(path.indexOf('-') + 1)] ?? 1));
    const ratings = groupLayers(input).map(popularityOfLayer);
    expect(ratings).toEqual([...ratings].sort((a, b) => b - a));
  });

  it('keeps the layers of a shared library and of a requested package the same across images (default strategy)', () => {
    // The same big application with two different companions, and alone.
    const big = app(30);
    const images = [[big], [big, app(31)], [big, app(32), app(33)]].map((roots) => groupLayers(imageOf(roots, 10)));
    const keys = images.map((layers) => new Set(layers.map((layer) => layer.join('\n'))));
    const alone = images[0] as string[][];
    // Every layer of the application alone is in the other images but the overflow, if any.
    const shared = alone.filter((layer) => keys.every((set) => set.has(layer.join('\n'))));
    expect(shared.length).toBeGreaterThanOrEqual(alone.length - 2);
    // Its tail (its smallest paths, one layer) and its largest path (a library or itself) are among them.
    const tail = alone.reduce((a, b) => (b.length > a.length ? b : a));
    expect(tail.length).toBeGreaterThan(1);
    expect(shared).toContainEqual(tail);
  });

  it('throws for budgets below 1 and graphs that are not closed', () => {
    const input = imageOf([app(0)], 5);
    expect(() => groupLayers({ ...input, budget: 0 })).toThrow(/budget/);
    expect(() => groupLayers({ ...input, graph: input.graph.slice(1) })).toThrow(/not in the closure graph/);
  });
});
