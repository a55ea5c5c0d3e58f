/**
 * Root-tails layering, nixyard's default: every requested package's closure is layered the same way
 * in every image that asks for it, whatever else the image holds, so its layers are downloaded once.
 *
 * # Inputs
 *
 * The image's closure graph (paths, `narSize`, references), the requested roots, the layer budget.
 * Popularity is not used: on package graphs it predicts badly which paths images will share,
 * while size decides what a re-download costs.
 *
 * # Algorithm
 *
 * 1. Tail budget `T = budget - round(budget × TAIL_SLACK)`: room is left for the paths that
 *    other roots of the same image add.
 * 2. Roots in order: most paths in their closure first, then by store path.
 * 3. Each root whose closure has more than `T` paths gets its *tail*: its closure sorted by size
 *    (largest first, then by path), less its `T - 1` largest paths. The tail depends only on the
 *    root, never on the image, so the same layer comes back in every image requesting that root.
 *    Paths already in an earlier root's tail stay there.
 * 4. Every other path gets a layer of its own, largest first. If they do not all fit in what is
 *    left of the budget, the smallest share one overflow layer (the only layer that depends on
 *    the combination of roots, and the cheapest to download again).
 * 5. With a budget too small even for the tails (1 or 2), the first `budget - 1` tails are kept
 *    and everything else shares the last layer.
 *
 * ```
 *   app  (30 MB) ──> libfoo (8 MB) ──> glibc (20 MB) <── tool (5 MB)
 *    └─────────────> libbar (1 MB) ──> zlib (0.2 MB)
 *
 *   closure(app) by size: app glibc libfoo │ libbar zlib      budget 5 → T = 4:
 *                         └── T - 1 = 3 ──┘ └── tail ───┘     keep 3, the rest is app's tail
 * ```
 *
 * # Thresholds
 *
 * {@link TAIL_SLACK}: the share of the budget a root's tail leaves to the other roots. Smaller,
 * more images need an overflow layer; bigger, tails hold larger paths. Around 0.2 is best on the
 * layering benchmark at budgets 30 to 94, and the results change little between 0.1 and 0.3.
 *
 * # Example
 *
 * The drawing above with roots app and tool, budget 5: tail of app `{libbar, zlib}`; tool's
 * closure (2 paths) has no tail; `{app} {glibc} {libfoo} {tool}` alone. The image of app alone
 * gets the same `{libbar, zlib}` layer, and `{app} {glibc} {libfoo}`. At budget 4 (T = 3) the
 * tail of app is `{libbar, libfoo, zlib}` and `{app} {glibc} {tool}` are alone.
 */
import { buildClosureGraph, checkedBudget, closureOf, compareStrings } from './closure-graph.js';
import type { Layer, LayeringInput } from './types.js';

/** Share of the budget a root's tail leaves free for the paths the image's other roots add. */
export const TAIL_SLACK = 0.2;

/** The tail budget `T` for a layer budget: a root's tail starts after the `T - 1` largest paths of its closure. */
export function tailBudget(budget: number): number {
  return Math.max(1, budget - Math.round(budget * TAIL_SLACK));
}

/** Layers by root tails: per-root tails of small paths, the larger paths alone, an overflow layer if needed. */
export function rootTailLayers(input: LayeringInput): Layer[] {
  const budget = checkedBudget(input.budget);
  const { paths, narSize, refs, roots } = buildClosureGraph(input);
  const bySize = (a: number, b: number): number => (narSize[b] as number) - (narSize[a] as number) || compareStrings(paths[a] as string, paths[b] as string);
  const tailStart = tailBudget(budget) - 1;

  const closures = roots.map((root) => ({ root, members: closureOf(refs, root) }));
  closures.sort((a, b) => b.members.length - a.members.length || compareStrings(paths[a.root] as string, paths[b.root] as string));
  const claimed = new Uint8Array(paths.length);
  const tails: number[][] = [];
  for (const { members } of closures) {
    if (members.length <= tailStart + 1) continue;
    const tail = members.sort(bySize).slice(tailStart).filter((n) => !claimed[n]);
    for (const n of tail) claimed[n] = 1;
    if (tail.length > 0) tails.push(tail);
  }
  const rest = paths.map((_, n) => n).filter((n) => !claimed[n]).sort(bySize);

  let groups: number[][];
  if (tails.length + (rest.length > 0 ? 1 : 0) > budget) {
    groups = [...tails.slice(0, budget - 1), [...tails.slice(budget - 1).flat(), ...rest]];
  } else {
    const free = budget - tails.length;
    groups = rest.length <= free ? [...tails, ...rest.map((n) => [n])] : [...tails, ...rest.slice(0, free - 1).map((n) => [n]), rest.slice(free - 1)];
  }
  return groups.map((group) => group.map((n) => paths[n] as string).sort(compareStrings));
}
