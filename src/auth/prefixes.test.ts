import { describe, expect, it } from 'vitest';
import { parsePrefixes } from '../config.js';
import { isProtected, matchesPrefix } from './prefixes.js';

describe('auth prefixes', () => {
  it('match whole path components', () => {
    expect(matchesPrefix('private', 'private')).toBe(true);
    expect(matchesPrefix('private/x', 'private')).toBe(true);
    expect(matchesPrefix('private/x/manifests/latest', 'private')).toBe(true);
    expect(matchesPrefix('privateer', 'private')).toBe(false);
    expect(matchesPrefix('privateer/x', 'private')).toBe(false);
    expect(matchesPrefix('x/private', 'private')).toBe(false);
    expect(matchesPrefix('corp/tool', 'corp/tool')).toBe(true);
    expect(matchesPrefix('corp/toolbox', 'corp/tool')).toBe(false);
  });

  it('are parsed from a comma-separated list, slashes and blanks trimmed', () => {
    expect(parsePrefixes('private, corp/ ,,/x/y/')).toEqual(['private', 'corp', 'x/y']);
    expect(parsePrefixes('')).toEqual([]);
  });

  it('no prefixes protect every name', () => {
    expect(isProtected('shell/hello', [])).toBe(true);
    expect(isProtected('shell/hello', ['private', 'corp'])).toBe(false);
    expect(isProtected('corp/hello', ['private', 'corp'])).toBe(true);
  });

  it('a package or meta-package protects every name holding it, in any order, with any architecture', () => {
    for (const name of ['shell/hello', 'hello/shell', 'arm64/hello/shell', 'git/shell/htop']) expect(isProtected(name, ['shell']), name).toBe(true);
    for (const name of ['hello', 'hello/git', 'shellcheck/hello']) expect(isProtected(name, ['shell']), name).toBe(false);
    // shell expands to bashInteractive (and more): protecting the package protects the meta-package's images.
    expect(isProtected('hello/shell', ['bashInteractive'])).toBe(true);
    expect(isProtected('hello/bashInteractive', ['bashInteractive'])).toBe(true);
    expect(isProtected('hello/nano', ['bashInteractive'])).toBe(false);
  });

  it('repositories of images from source are protected by prefix, whole components', () => {
    expect(isProtected('apps/acme/web', ['apps/acme'])).toBe(true);
    expect(isProtected('apps/acmeco/web', ['apps/acme'])).toBe(false);
    expect(isProtected('apps/other/web', ['apps/acme'])).toBe(false);
  });
});
