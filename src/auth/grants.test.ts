import { describe, expect, it } from 'vitest';
import { AccessFileError, parseAccessFile, uncoveredProtection } from './grants.js';

const FILE = `
# who may pull what
@ops = bob, carol
alice: apps/acme/*, corp-tools
@ops: openssl   # the ops group
*: hello
dave: *
`;

describe('the access file', () => {
  const grants = parseAccessFile(FILE, 'access');
  const refusal = (user: string, name: string, prefixes: string[]) => uncoveredProtection(name, prefixes, grants.grantOf(user));

  it('grants users, groups and everyone', () => {
    expect(grants.users).toBe(2);
    expect(grants.groups).toBe(1);
    const prefixes = ['openssl', 'corp-tools', 'apps', 'hello'];
    expect(refusal('alice', 'corp-tools/git', prefixes)).toBeUndefined();
    expect(refusal('alice', 'git/corp-tools', prefixes)).toBeUndefined();
    expect(refusal('alice', 'apps/acme/web', prefixes)).toBeUndefined();
    expect(refusal('alice', 'apps/other/web', prefixes)).toBe('apps');
    expect(refusal('alice', 'openssl/corp-tools', prefixes)).toBe('openssl');
    expect(refusal('bob', 'openssl/hello', prefixes)).toBeUndefined();
    expect(refusal('bob', 'arm64/hello/openssl', prefixes)).toBeUndefined();
    expect(refusal('bob', 'corp-tools', prefixes)).toBe('corp-tools');
    expect(refusal('erin', 'hello/git', prefixes)).toBeUndefined();
    expect(refusal('erin', 'shell/git', prefixes)).toBeUndefined();
    expect(refusal('dave', 'apps/other/web/openssl', prefixes)).toBeUndefined();
  });

  it('protects meta-packages by what they expand to', () => {
    // shell expands to nano (and more): a grant of shell does not cover a protected nano.
    const only = parseAccessFile('alice: shell\nbob: nano', 'access');
    expect(uncoveredProtection('hello/shell', ['nano'], only.grantOf('alice'))).toBe('nano');
    expect(uncoveredProtection('hello/shell', ['nano'], only.grantOf('bob'))).toBeUndefined();
    expect(uncoveredProtection('hello/shell', ['shell'], only.grantOf('alice'))).toBeUndefined();
  });

  it('covers a name of a registry that protects every name when each component is granted', () => {
    const whole = parseAccessFile('alice: shell, git\nbob: apps/acme/*', 'access');
    expect(uncoveredProtection('git/shell', [], whole.grantOf('alice'))).toBeUndefined();
    expect(uncoveredProtection('arm64/git/shell', [], whole.grantOf('alice'))).toBeUndefined();
    expect(uncoveredProtection('git/shell/htop', [], whole.grantOf('alice'))).toBe('*');
    expect(uncoveredProtection('apps/acme/web', [], whole.grantOf('bob'))).toBeUndefined();
    expect(uncoveredProtection('apps/acmeco/web', [], whole.grantOf('bob'))).toBe('*');
  });

  it('refuses a malformed file with every problem and its line', () => {
    const bad = 'alice apps\n@Ops = x\nbob: Bad Name, ok\n@missing: git\ncarol: a//b\n';
    let error: unknown;
    try {
      parseAccessFile(bad, 'access');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AccessFileError);
    const problems = (error as AccessFileError).problems;
    expect(problems).toEqual([
      'access line 1: expected "user: entries", "@group: entries" or "@group = users"',
      'access line 2: "@Ops" is not a group name: expected @ and lowercase letters, digits, ".", "_" or "-"',
      'access line 3: "Bad Name" cannot be granted: expected package names (openssl), repository prefixes (apps/acme/*) or *',
      'access line 5: "a//b" cannot be granted: expected package names (openssl), repository prefixes (apps/acme/*) or *',
      'access: @missing is granted names but never defined: add a line "@missing = user, user"',
    ]);
  });
});
