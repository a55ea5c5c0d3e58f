import { describe, expect, it } from 'vitest';
import { exampleNames } from './examples.js';

describe('exampleNames', () => {
  it('makes a shell image of the first package the set has and a two-package image', () => {
    expect(exampleNames(['git', 'htop', 'hello'])).toEqual(['shell/git', 'git/htop']);
    expect(exampleNames(['hello', 'nano'])).toEqual(['shell/hello', 'hello/nano']);
    expect(exampleNames(['hello'])).toEqual(['shell/hello', 'hello']);
    expect(exampleNames([])).toEqual(['shell']);
  });
});
