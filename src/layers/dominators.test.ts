import { describe, expect, it } from 'vitest';
import { immediateDominators, UNREACHABLE } from './dominators.js';

describe('immediateDominators', () => {
  // The drawing in dominators.ts: s=0, a=1, b=2, c=3, d=4.
  const succ = [[1, 2], [3], [3, 4], [], []];

  it('computes the example of the module documentation', () => {
    expect([...immediateDominators(succ, 0)]).toEqual([0, 0, 0, 0, 2]);
  });

  it('does not depend on the order of successor lists', () => {
    const reversed = succ.map((list) => [...list].reverse());
    expect([...immediateDominators(reversed, 0)]).toEqual([...immediateDominators(succ, 0)]);
  });

  it('handles chains, cycles and unreachable nodes', () => {
    // 0 → 1 → 2 → 3 → 1 (cycle), 4 unreachable
    expect([...immediateDominators([[1], [2], [3], [1], [0]], 0)]).toEqual([0, 0, 1, 2, UNREACHABLE]);
  });
});
