import { describe, expect, it } from 'vitest';
import { isValidDigest, isValidName, isValidTag, looksLikeDigest } from './grammar.js';

describe('repository names', () => {
  it.each(['hello', 'shell/git/htop', 'xorg.xev', 'python3-packages', 'a__b', 'a-----b', '1password', 'shell/arm64/hello'])('accepts %s', (name) => {
    expect(isValidName(name)).toBe(true);
  });
  it.each(['', 'Hello', 'shell//git', '/hello', 'hello/', 'a..b', 'a_.b', '-a', 'a-', 'has space', `${'a'.repeat(256)}`, 'x/../y', 'a;rm -rf'])('rejects %j', (name) => {
    expect(isValidName(name)).toBe(false);
  });
});

describe('tags', () => {
  it.each(['latest', 'v1.2.3', 'nixos-24.05', 'A_b', '_x', 'a'.repeat(128)])('accepts %s', (tag) => expect(isValidTag(tag)).toBe(true));
  it.each(['', '.hidden', '-x', 'a'.repeat(129), 'a/b', 'a:b', 'ü'])('rejects %j', (tag) => expect(isValidTag(tag)).toBe(false));
});

describe('digests', () => {
  const hex = 'a'.repeat(64);
  it('accepts sha256 with 64 lowercase hex digits', () => expect(isValidDigest(`sha256:${hex}`)).toBe(true));
  it.each([`sha256:${'A'.repeat(64)}`, `sha256:${hex}0`, `sha256:${hex.slice(1)}`, `sha512:${hex}`, hex, 'sha256:', `sha256:${'g'.repeat(64)}`])('rejects %j', (digest) =>
    expect(isValidDigest(digest)).toBe(false),
  );
  it('tells digests from tags by the colon', () => {
    expect(looksLikeDigest('sha256:abc')).toBe(true);
    expect(looksLikeDigest('latest')).toBe(false);
  });
});
