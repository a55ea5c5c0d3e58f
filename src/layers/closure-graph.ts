/**
 * The closure graph every strategy starts from: store paths numbered in path order (so numbering
 * never depends on the order of the input arrays), references as numbers without self-references,
 * and the roots, checked once here so strategies can trust their input.
 */
import type { LayeringInput, Popularity } from './types.js';

/** The input of a layering strategy is not a closed, well-formed closure graph. */
export class LayeringInputError extends Error {
  override readonly name = 'LayeringInputError';
}

/** An image's closure graph with store paths numbered `0 … n-1` in ascending path order. */
export interface ClosureGraph {
  /** Store paths, sorted; a path's number is its index here. */
  readonly paths: readonly string[];
  /** `narSize` by path number. */
  readonly narSize: readonly number[];
  /** References by path number: ascending, de-duplicated, without the self-reference. */
  readonly refs: readonly (readonly number[])[];
  /**
   * The requested roots (ascending), then every path no root reaches (ascending, each one added
   * only if no earlier root reaches it), so that the roots' closures cover the whole graph.
   */
  readonly roots: readonly number[];
}

/** Numbers and checks `graph` and `roots`; throws a {@link LayeringInputError} on a malformed graph. */
export function buildClosureGraph(input: Pick<LayeringInput, 'roots' | 'graph'>): ClosureGraph {
  const entries = [...input.graph].sort((a, b) => compareStrings(a.path, b.path));
  const index = new Map<string, number>();
  entries.forEach((entry, i) => {
    if (index.has(entry.path)) throw new LayeringInputError(`store path listed twice in the closure graph: ${entry.path}`);
    if (!Number.isFinite(entry.narSize) || entry.narSize < 0) {
      throw new LayeringInputError(`invalid narSize ${String(entry.narSize)} for ${entry.path}`);
    }
    index.set(entry.path, i);
  });
  const numberOf = (path: string, context: string): number => {
    const n = index.get(path);
    if (n === undefined) throw new LayeringInputError(`${context} is not in the closure graph: ${path}`);
    return n;
  };
  const refs = entries.map((entry, i) => {
    const numbers = new Set<number>();
    for (const ref of entry.references) {
      const n = numberOf(ref, `a reference of ${entry.path}`);
      if (n !== i) numbers.add(n);
    }
    return [...numbers].sort((a, b) => a - b);
  });
  const requested = [...new Set(input.roots.map((root) => numberOf(root, 'root')))].sort((a, b) => a - b);
  const reached = new Uint8Array(entries.length);
  const roots: number[] = [];
  const addRoot = (root: number): void => {
    roots.push(root);
    for (const n of closureOf(refs, root)) reached[n] = 1;
  };
  requested.forEach(addRoot);
  for (let n = 0; n < entries.length; n++) if (!reached[n]) addRoot(n);
  return { paths: entries.map((entry) => entry.path), narSize: entries.map((entry) => entry.narSize), refs, roots };
}

/** The path numbers in the closure of `start` (itself included), in visiting order. */
export function closureOf(refs: readonly (readonly number[])[], start: number): number[] {
  const seen = new Set<number>([start]);
  const order: number[] = [];
  const stack = [start];
  while (stack.length > 0) {
    const n = stack.pop() as number;
    order.push(n);
    for (const m of refs[n] ?? []) {
      if (!seen.has(m)) {
        seen.add(m);
        stack.push(m);
      }
    }
  }
  return order;
}

/** `name-version` of a store path: its basename without the `<hash>-` prefix (Nixery's key). */
export function packageName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dash = base.indexOf('-');
  return dash < 0 ? base : base.slice(dash + 1);
}

/** Popularity of a store path's package; packages missing from the data count as 1. */
export function popularityOf(popularity: Popularity, path: string): number {
  const name = packageName(path);
  const value = Object.hasOwn(popularity, name) ? popularity[name] : undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : 1;
}

/** Orders strings by UTF-16 code units, like `Array.prototype.sort` without a comparator. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The layer budget, checked: a whole number of at least 1. */
export function checkedBudget(budget: number): number {
  if (!Number.isInteger(budget) || budget < 1) throw new LayeringInputError(`the layer budget must be a whole number ≥ 1, got ${String(budget)}`);
  return budget;
}
