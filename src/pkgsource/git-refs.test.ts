import { describe, expect, it } from 'vitest';
import { imageTags, parseLsRemoteHead, parseLsRemoteRefs, pinDefaultBranch, pinTag } from './git-refs.js';

const c = (digit: string) => digit.repeat(40);

// `git ls-remote --heads --tags` of a repository with branches main and side, an annotated tag
// v1 (tag object t…) on c0, a lightweight tag light on c1, a branch and a tag both named same,
// and names that cannot be image tags.
const REFS = [
  `${c('1')}\trefs/heads/main`,
  `${c('2')}\trefs/heads/side`,
  `${c('2')}\trefs/heads/same`,
  `${c('3')}\trefs/heads/feature/x`,
  `${c('1')}\trefs/tags/light`,
  `${c('0')}\trefs/tags/same`,
  `${c('a')}\trefs/tags/v1`,
  `${c('0')}\trefs/tags/v1^{}`,
  '',
].join('\n');

describe('git refs', () => {
  it('parses branches and tags, peeling annotated tags to their commit', () => {
    const refs = parseLsRemoteRefs(REFS);
    expect(Object.fromEntries(refs.branches)).toEqual({ main: c('1'), side: c('2'), same: c('2'), 'feature/x': c('3') });
    expect(Object.fromEntries(refs.tags)).toEqual({ light: c('1'), same: c('0'), v1: c('0') });
  });

  it('peels an annotated tag whatever the order of the lines', () => {
    const refs = parseLsRemoteRefs(`${c('0')}\trefs/tags/v1^{}\n${c('a')}\trefs/tags/v1\n`);
    expect(refs.tags.get('v1')).toBe(c('0'));
  });

  it('ignores other refs and malformed lines', () => {
    const refs = parseLsRemoteRefs(`${c('1')}\tHEAD\n${c('4')}\trefs/pull/1/head\nnot a line\nshort\trefs/heads/x\n${c('5')}\trefs/notes/commits\n`);
    expect(refs.branches.size + refs.tags.size).toBe(0);
  });

  it('parses HEAD: a symbolic ref, a detached commit, an unborn branch', () => {
    expect(parseLsRemoteHead(`ref: refs/heads/main\tHEAD\n${c('1')}\tHEAD\n`)).toEqual({ ref: 'refs/heads/main', commit: c('1') });
    expect(parseLsRemoteHead(`${c('1')}\tHEAD\n`)).toEqual({ ref: undefined, commit: c('1') });
    expect(parseLsRemoteHead('ref: refs/heads/main\tHEAD\n')).toEqual({ ref: 'refs/heads/main', commit: undefined });
    expect(parseLsRemoteHead(`${c('9')}\trefs/heads/HEAD\n`)).toEqual({ ref: undefined, commit: undefined });
  });

  it('pins tags before branches, branches, full commits (with their tip ref when they have one)', () => {
    const refs = parseLsRemoteRefs(REFS);
    expect(pinTag(refs, 'v1')).toEqual({ commit: c('0'), ref: 'refs/tags/v1' });
    expect(pinTag(refs, 'light')).toEqual({ commit: c('1'), ref: 'refs/tags/light' });
    expect(pinTag(refs, 'side')).toEqual({ commit: c('2'), ref: 'refs/heads/side' });
    expect(pinTag(refs, 'same')).toEqual({ commit: c('0'), ref: 'refs/tags/same' });
    expect(pinTag(refs, c('2'))).toEqual({ commit: c('2'), ref: 'refs/heads/same' });
    expect(pinTag(refs, c('0'))).toEqual({ commit: c('0'), ref: 'refs/tags/same' });
    expect(pinTag(refs, c('1'))).toEqual({ commit: c('1'), ref: 'refs/heads/main' });
    expect(pinTag(refs, c('B'))).toEqual({ commit: c('b'), ref: undefined });
    expect(pinTag(refs, 'nope')).toBeUndefined();
    expect(pinTag(refs, c('1').slice(0, 12))).toBeUndefined();
  });

  it('pins latest to the default branch from the fresher listing', () => {
    const refs = parseLsRemoteRefs(REFS);
    expect(pinDefaultBranch(refs, { ref: 'refs/heads/side', commit: c('9') })).toEqual({ commit: c('2'), ref: 'refs/heads/side' });
    expect(pinDefaultBranch(refs, { ref: undefined, commit: c('9') })).toEqual({ commit: c('9'), ref: undefined });
    expect(pinDefaultBranch(refs, { ref: 'refs/heads/gone', commit: undefined })).toBeUndefined();
    expect(pinDefaultBranch(refs, { ref: undefined, commit: undefined })).toBeUndefined();
  });

  it('lists latest, branches and tags that are valid image tags', () => {
    expect(imageTags(parseLsRemoteRefs(REFS)).sort()).toEqual(['latest', 'light', 'main', 'same', 'side', 'v1']);
  });
});
