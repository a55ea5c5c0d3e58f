/**
 * Layering: which store paths of an image's closure share a layer. Strategies are pure functions
 * of the closure graph, the popularity data and the budget; {@link groupLayers} picks one and
 * orders its layers most-shared first.
 */
import { buildClosureGraph, checkedBudget, compareStrings, popularityOf } from './closure-graph.js';
import { nixeryLayers } from './nixery.js';
import { popcontestLayers } from './popcontest.js';
import { rootTailLayers } from './root-tails.js';
import type { Layer, LayeringInput } from './types.js';

export { LayeringInputError } from './closure-graph.js';
export type { Layer, LayeringInput, Popularity, StorePathInfo } from './types.js';

/**
 * Version of the default layering's output: part of the manifest cache key, so bump it whenever
 * the same input may give other layers (or another layer order).
 */
export const LAYERING_VERSION = 1;

/** The layering strategies by name. */
export const LAYERING_STRATEGIES = {
  /** nixyard's default: per-root tails of small paths that are the same in every image (see `root-tails.ts`). */
  'root-tails': rootTailLayers,
  /** Nixery's dominator-tree layering, the baseline (see `nixery.ts`). */
  nixery: nixeryLayers,
  /** nixpkgs dockerTools' popularity contest (see `popcontest.ts`). */
  popcontest: popcontestLayers,
} as const satisfies Record<string, (input: LayeringInput) => Layer[]>;

/** Name of a layering strategy. */
export type LayeringStrategyName = keyof typeof LAYERING_STRATEGIES;

/** The strategy images are built with. */
export const DEFAULT_LAYERING_STRATEGY: LayeringStrategyName = 'root-tails';

/** Whether `name` names a layering strategy. */
export function isLayeringStrategyName(name: string): name is LayeringStrategyName {
  return Object.hasOwn(LAYERING_STRATEGIES, name);
}

/**
 * Groups an image's closure into at most `input.budget` layers with `strategy`: every path of
 * the graph in exactly one layer, each layer's paths sorted, the layers ordered most-shared first
 * (highest popularity of their least popular path, then largest, then by first path). The result
 * depends only on the content of the input, not on the order of its arrays. Throws a
 * `LayeringInputError` for a graph that is not closed or a budget below 1.
 */
export function groupLayers(input: LayeringInput, strategy: LayeringStrategyName = DEFAULT_LAYERING_STRATEGY): Layer[] {
  checkedBudget(input.budget);
  const graph = buildClosureGraph(input);
  const sizes = new Map(graph.paths.map((path, i) => [path, graph.narSize[i] as number]));
  const rated = LAYERING_STRATEGIES[strategy](input).map((paths) => ({
    paths,
    popularity: Math.min(...paths.map((path) => popularityOf(input.popularity, path))),
    size: paths.reduce((sum, path) => sum + (sizes.get(path) as number), 0),
  }));
  rated.sort((a, b) => b.popularity - a.popularity || b.size - a.size || compareStrings(a.paths[0] as string, b.paths[0] as string));
  return rated.map((layer) => layer.paths);
}
