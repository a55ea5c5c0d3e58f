/**
 * Nixery's layering (`layers/layers.go` in Nixery), kept as the baseline the benchmark compares
 * against.
 *
 * # Inputs
 *
 * The image's closure graph, the roots, popularity by `name-version`, the layer budget.
 *
 * # Algorithm
 *
 * Give every path whose closure is big or whose package is popular (see Thresholds) an edge from a
 * synthetic image root, as the requested roots have, and take the dominator tree from there. Each
 * subtree under the image root is one layer, rated popularity of its top path × the sum of its
 * paths' closure sizes. While there are more layers than the budget, merge the two lowest-rated
 * layers (ascending order, the merged layer taking the first place and not re-sorted).
 *
 * ```
 *   closure graph (E popular)       dominator tree from img
 *   img ──> A ──> E <── B <── img    img ─┬─ A   ├─ C   ├─ E  (popular: an edge from img)
 *    ├────> C ──> E                       ├─ B   └─ D ── F
 *    └────> D ──> F
 * ```
 *
 * # Thresholds
 *
 * {@link NIXERY_POPULAR} (direct references), {@link NIXERY_BIG_CLOSURE_BYTES} (closure size) and
 * {@link NIXERY_ALWAYS_INCLUDED_POPULARITY} for the packages added to every image.
 *
 * # Example
 *
 * The drawing above, every path 1 MB, E of popularity 100, the others 1. Ratings: A, B, C 2 (their
 * closures are 2 MB), {D,F} 3 (2 + 1), E 100. Budget 5: `{A} {B} {C} {D,F} {E}`; budget 3:
 * `{A,B,C} {D,F} {E}`; budget 2: `{A,B,C,D,F} {E}`.
 */
import { buildClosureGraph, checkedBudget, closureOf, compareStrings, packageName, popularityOf } from './closure-graph.js';
import { immediateDominators } from './dominators.js';
import { DEFAULT_ALWAYS_INCLUDED, type Layer, type LayeringInput } from './types.js';

/** A package with at least this many direct references gets a layer of its own. */
export const NIXERY_POPULAR = 100;
/** A path whose closure is bigger than this many bytes gets a layer of its own. */
export const NIXERY_BIG_CLOSURE_BYTES = 100_000_000;
/** Popularity given to the packages added to every image ("glibc has ~300k references"). */
export const NIXERY_ALWAYS_INCLUDED_POPULARITY = 500_000;

/** Groups the closure like Nixery: dominator subtrees under the image root, lowest-rated merged first. */
export function nixeryLayers(input: LayeringInput): Layer[] {
  const graph = buildClosureGraph(input);
  const n = graph.paths.length;
  if (n === 0) return [];
  const alwaysIncluded = input.alwaysIncluded ?? DEFAULT_ALWAYS_INCLUDED;
  const popularity = graph.paths.map((path) => {
    const name = packageName(path);
    return alwaysIncluded.some((prefix) => name.startsWith(prefix))
      ? NIXERY_ALWAYS_INCLUDED_POPULARITY
      : popularityOf(input.popularity, path);
  });
  const closureSize = graph.paths.map((_, i) => closureOf(graph.refs, i).reduce((sum, m) => sum + (graph.narSize[m] as number), 0));

  // Node 0 is the image root, node i + 1 the path numbered i.
  const top = new Set(graph.roots);
  graph.paths.forEach((_, i) => {
    if ((closureSize[i] as number) > NIXERY_BIG_CLOSURE_BYTES || (popularity[i] as number) >= NIXERY_POPULAR) top.add(i);
  });
  const succ = [[...top].sort((a, b) => a - b).map((i) => i + 1), ...graph.refs.map((refs) => refs.map((i) => i + 1))];
  const idom = immediateDominators(succ, 0);
  const children: number[][] = Array.from({ length: n + 1 }, () => []);
  for (let node = 1; node <= n; node++) children[idom[node] as number]?.push(node);

  let layers = (children[0] ?? []).map((head) => {
    const members: string[] = [];
    let size = 0;
    const stack = [head];
    while (stack.length > 0) {
      const node = stack.pop() as number;
      members.push(graph.paths[node - 1] as string);
      size += closureSize[node - 1] as number;
      stack.push(...(children[node] ?? []));
    }
    members.sort(compareStrings);
    return { rating: BigInt(popularity[head - 1] as number) * BigInt(size), paths: members };
  });
  layers.sort((a, b) => (a.rating < b.rating ? -1 : a.rating > b.rating ? 1 : compareStrings(a.paths[0] as string, b.paths[0] as string)));
  const budget = checkedBudget(input.budget);
  while (layers.length > budget) {
    const [a, b, ...rest] = layers as [(typeof layers)[0], (typeof layers)[0], ...typeof layers];
    layers = [{ rating: a.rating + b.rating, paths: [...a.paths, ...b.paths] }, ...rest];
  }
  return layers.map((layer) => [...layer.paths].sort(compareStrings));
}
