import { describe, expect, it } from 'vitest';
import { nixString, prepareImageExpression } from './nix.js';
import { NIX_DIR } from '../paths.js';

describe('nixString', () => {
  it('quotes plain text as it is', () => {
    expect(nixString('hello world')).toBe('"hello world"');
    expect(nixString('')).toBe('""');
  });

  it('escapes quotes, backslashes and interpolation, nothing else', () => {
    expect(nixString('say "hi"')).toBe('"say \\"hi\\""');
    expect(nixString('a\\b')).toBe('"a\\\\b"');
    expect(nixString('${x} and $y and $ {z}')).toBe('"\\${x} and $y and $ {z}"');
    // A backslash before an interpolation stays a backslash, and the interpolation stays text.
    expect(nixString('\\${x}')).toBe('"\\\\\\${x}"');
  });
});

describe('prepareImageExpression', () => {
  it('applies prepare-image.nix to the four strings its command line passes', () => {
    const expression = prepareImageExpression({ source: { srcType: 'path', srcArgs: '{"path":"/srv/pkgs"}' }, system: 'x86_64-linux', packages: ['hello', 'git'] });
    expect(expression).toBe(`import "${NIX_DIR}/prepare-image.nix" { srcType = "path"; srcArgs = "{\\"path\\":\\"/srv/pkgs\\"}"; system = "x86_64-linux"; packages = "[\\"hello\\",\\"git\\"]"; }`);
  });
});
