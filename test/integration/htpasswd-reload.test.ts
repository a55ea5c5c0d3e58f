/**
 * The htpasswd file of a running `nixyard serve` is read again on SIGHUP and when it changes; a
 * file that no longer parses keeps the users there were.
 */
import { writeFile } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { startCliServer } from '../helpers/cli-server.js';
import { htpasswdText, writeHtpasswd } from '../helpers/htpasswd.js';

const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('a changed htpasswd file', () => {
  it('is taken on SIGHUP and on change; a broken one is refused and the old users stay', async () => {
    const file = await writeHtpasswd({ alice: 'a-pass' });
    const server = await startCliServer({ NIXYARD_HTPASSWD: file, NIXYARD_LOG_FORMAT: 'json' });
    const token = async (user: string, password: string) => (await fetch(`${server.url}/token?service=nixyard`, { headers: basic(user, password) })).status;
    try {
      expect(await token('alice', 'a-pass')).toBe(200);
      expect(await token('bob', 'b-pass')).toBe(401);

      // Written in place (same inode, same second: the poll may not see it) and announced with SIGHUP.
      await writeFile(file, htpasswdText({ alice: 'a-pass', bob: 'b-pass' }));
      server.child.kill('SIGHUP');
      await vi.waitFor(async () => expect(await token('bob', 'b-pass')).toBe(200), { timeout: 10_000, interval: 200 });
      expect(server.output()).toMatch(/"why":"SIGHUP","users":2,"msg":"htpasswd reloaded"/);

      // Changed without a signal: the watch reads it.
      await writeFile(file, htpasswdText({ carol: 'c-pass' }));
      await vi.waitFor(async () => expect(await token('carol', 'c-pass')).toBe(200), { timeout: 10_000, interval: 200 });
      expect(await token('alice', 'a-pass')).toBe(401);

      // A broken file: refused, carol can still log in, the log says why.
      await writeFile(file, 'carol\nnot a line of htpasswd\n');
      await vi.waitFor(() => expect(server.output()).toMatch(/"msg":"htpasswd not reloaded: the users it had stay"/), { timeout: 10_000, interval: 200 });
      expect(await token('carol', 'c-pass')).toBe(200);
      expect(server.child.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  });
});
