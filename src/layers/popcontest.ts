/**
 * The "popularity contest" of nixpkgs' `dockerTools.buildLayeredImage`, kept as a second baseline.
 *
 * # Inputs
 *
 * The image's closure graph and the layer budget (popularity data is not used: the contest is held
 * within the image).
 *
 * # Algorithm
 *
 * A path's score is the number of paths of the image whose closure contains it (itself included).
 * Paths ranked by score (then name, then path) each get a layer of their own, the first
 * `budget - 1` of them; the rest share the last layer.
 *
 * ```
 *   app ──> lib ──> libc      scores: libc 3, lib 2, app 1
 *    └────────────────^       budget 2: {libc} {app, lib}
 * ```
 *
 * # Thresholds
 *
 * None: the budget alone decides where the ranking is cut.
 *
 * # Example
 *
 * The drawing above: budget 3 (or more) gives `{libc} {lib} {app}`, budget 2 `{libc} {app,lib}`.
 */
import { buildClosureGraph, checkedBudget, closureOf, compareStrings, packageName } from './closure-graph.js';
import type { Layer, LayeringInput } from './types.js';

/** Layers by the popularity contest: the most referred-to paths alone, the rest in one layer. */
export function popcontestLayers(input: LayeringInput): Layer[] {
  const budget = checkedBudget(input.budget);
  const graph = buildClosureGraph(input);
  const score = new Array<number>(graph.paths.length).fill(0);
  graph.paths.forEach((_, i) => {
    for (const m of closureOf(graph.refs, i)) score[m] = (score[m] as number) + 1;
  });
  const ranked = graph.paths
    .map((path, i) => ({ path, name: packageName(path), score: score[i] as number }))
    .sort((a, b) => b.score - a.score || compareStrings(a.name, b.name) || compareStrings(a.path, b.path))
    .map((entry) => entry.path);
  if (ranked.length <= budget) return ranked.map((path) => [path]);
  return [...ranked.slice(0, budget - 1).map((path) => [path]), ranked.slice(budget - 1).sort(compareStrings)];
}
