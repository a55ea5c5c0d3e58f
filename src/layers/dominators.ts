/**
 * Immediate dominators of a directed graph, by the iterative algorithm of Cooper, Harvey and
 * Kennedy ("A Simple, Fast Dominance Algorithm", 2001).
 *
 * Inputs: successor lists of nodes `0 … n-1` and a start node.
 *
 * Algorithm: number the nodes reachable from the start in reverse postorder, then repeat until
 * nothing changes: the dominator of a node is the nearest common dominator of its processed
 * predecessors, found by walking both up the tree built so far.
 *
 * ```
 *   s ──> a ──> c        idom(a) = s, idom(b) = s
 *   │           ^        idom(c) = s (c is reached through a and through b)
 *   └───> b ────┘        idom(d) = b
 *         └──> d
 * ```
 *
 * The result is unique, so it does not depend on the order of the successor lists.
 */

/** Marks nodes the start does not reach in the result of {@link immediateDominators}. */
export const UNREACHABLE = -1;

/**
 * The immediate dominator of every node (the start's is itself), {@link UNREACHABLE} for nodes
 * not reachable from `start`.
 */
export function immediateDominators(succ: readonly (readonly number[])[], start: number): Int32Array {
  const n = succ.length;
  // Reverse postorder by an iterative depth-first search.
  const postorder: number[] = [];
  const visited = new Uint8Array(n);
  const nodeStack: number[] = [start];
  const edgeStack: number[] = [0];
  visited[start] = 1;
  while (nodeStack.length > 0) {
    const top = nodeStack.length - 1;
    const node = nodeStack[top] as number;
    const next = succ[node] ?? [];
    const e = edgeStack[top] as number;
    if (e < next.length) {
      edgeStack[top] = e + 1;
      const m = next[e] as number;
      if (!visited[m]) {
        visited[m] = 1;
        nodeStack.push(m);
        edgeStack.push(0);
      }
    } else {
      postorder.push(node);
      nodeStack.pop();
      edgeStack.pop();
    }
  }
  const rpo = postorder.reverse();
  const order = new Int32Array(n).fill(-1);
  rpo.forEach((node, i) => (order[node] = i));
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const node of rpo) for (const m of succ[node] ?? []) preds[m]?.push(node);

  const idom = new Int32Array(n).fill(UNREACHABLE);
  idom[start] = start;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while ((order[a] as number) > (order[b] as number)) a = idom[a] as number;
      while ((order[b] as number) > (order[a] as number)) b = idom[b] as number;
    }
    return a;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = 1; i < rpo.length; i++) {
      const node = rpo[i] as number;
      let candidate = UNREACHABLE;
      for (const p of preds[node] ?? []) {
        if (idom[p] === UNREACHABLE) continue;
        candidate = candidate === UNREACHABLE ? p : intersect(p, candidate);
      }
      if (idom[node] !== candidate) {
        idom[node] = candidate;
        changed = true;
      }
    }
  }
  return idom;
}
