import bcrypt from 'bcryptjs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config.js';
import { loadHtpasswd, parseHtpasswd, PasswordChecker } from './htpasswd.js';

const hash = (password: string, version = '2y') => bcrypt.hashSync(password, 4).replace(/^\$2b\$/, `$${version}$`);

describe('htpasswd', () => {
  it('reads bcrypt users in every version htpasswd and libraries write, skipping comments and blank lines', () => {
    const text = `# users\nalice:${hash('a')}\n\nbob:${hash('b', '2b')}\r\ncarol:${hash('c', '2a')}\n`;
    const { users, problems } = parseHtpasswd(text, 'f');
    expect(problems).toEqual([]);
    expect([...users.keys()]).toEqual(['alice', 'bob', 'carol']);
  });

  it('refuses other hash kinds, naming the line and the user, never the hash', () => {
    const text = [
      `alice:${hash('a')}`,
      'md5:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/',
      'sha:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=',
      'crypt:rOVGqXvZ5OcUI',
      'broken:$2y$10$tooshort',
      'nocolon',
      `alice:${hash('again')}`,
    ].join('\n');
    const { users, problems } = parseHtpasswd(text, 'NIXYARD_HTPASSWD=/etc/htpasswd');
    expect([...users.keys()]).toEqual(['alice']);
    expect(problems).toEqual([
      'NIXYARD_HTPASSWD=/etc/htpasswd line 2 (user "md5") has an MD5 ($apr1$) hash: only bcrypt hashes are accepted, make them with htpasswd -B',
      'NIXYARD_HTPASSWD=/etc/htpasswd line 3 (user "sha") has a SHA-1 ({SHA}) hash: only bcrypt hashes are accepted, make them with htpasswd -B',
      'NIXYARD_HTPASSWD=/etc/htpasswd line 4 (user "crypt") has a crypt or plain-text password: only bcrypt hashes are accepted, make them with htpasswd -B',
      'NIXYARD_HTPASSWD=/etc/htpasswd line 5 (user "broken") has a malformed bcrypt hash: only bcrypt hashes are accepted, make them with htpasswd -B',
      'NIXYARD_HTPASSWD=/etc/htpasswd line 6: expected user:hash',
      'NIXYARD_HTPASSWD=/etc/htpasswd line 7: user "alice" appears twice',
    ]);
    expect(problems.join('\n')).not.toContain('HqJZ');
  });

  it('refuses a file without users', () => {
    expect(parseHtpasswd('# nobody\n', 'f').problems).toEqual(['f has no users: add lines user:hash (htpasswd -B f USER)']);
  });

  it('loadHtpasswd throws a ConfigError naming the variable, for a missing file too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nixyard-htpasswd-test-'));
    await expect(loadHtpasswd(join(dir, 'missing'))).rejects.toThrow(/NIXYARD_HTPASSWD=.*missing cannot be read: ENOENT/);
    await writeFile(join(dir, 'md5'), 'x:$apr1$abc$def\n');
    const error = await loadHtpasswd(join(dir, 'md5')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toContain('line 1 (user "x") has an MD5');
  });

  it('checks passwords; unknown users and wrong passwords fail alike', async () => {
    const checker = await PasswordChecker.create(new Map([['alice', hash('secret')]]));
    expect(await checker.check('alice', 'secret')).toBe(true);
    expect(await checker.check('alice', 'secret')).toBe(true); // remembered
    expect(await checker.check('alice', 'wrong')).toBe(false);
    expect(await checker.check('bob', 'secret')).toBe(false);
    expect(await checker.check('', '')).toBe(false);
  });
});
