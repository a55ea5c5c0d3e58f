/**
 * The files of access control of a running `nixyard serve` (htpasswd, access file) are read again
 * on SIGHUP and when they change; a file that no longer parses keeps what it said before, and a
 * malformed one stops start-up naming the line.
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CLI, startCliServer } from '../helpers/cli-server.js';
import { htpasswdText, writeHtpasswd } from '../helpers/htpasswd.js';

const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

/** `nixyard serve` with users alice and bob, `hello` and `apps` protected, and an access file of `text`. */
async function serveWithAccessFile(text: string) {
  const htpasswd = await writeHtpasswd({ alice: 'a-pass', bob: 'b-pass' });
  const accessFile = join(dirname(htpasswd), 'access');
  await writeFile(accessFile, text);
  const server = await startCliServer({ NIXYARD_HTPASSWD: htpasswd, NIXYARD_ACCESS_FILE: accessFile, NIXYARD_AUTH_PREFIXES: 'hello,apps', NIXYARD_LOG_FORMAT: 'json' });
  return { server, accessFile };
}

describe('files of access control', () => {
  it('the htpasswd file is taken on SIGHUP and on change; a broken one is refused and the old users stay', async () => {
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
      await vi.waitFor(() => expect(server.output()).toMatch(/"msg":"htpasswd not reloaded: what it said before stays"/), { timeout: 10_000, interval: 200 });
      expect(await token('carol', 'c-pass')).toBe(200);
      expect(server.child.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('the access file grants per user and group, and is read again on SIGHUP and on change', async () => {
    const { server, accessFile } = await serveWithAccessFile('# who may pull what\n@ops = bob\nalice: hello\n');
    const granted = async (user: string, password: string) => {
      const res = await fetch(`${server.url}/token?service=nixyard&scope=repository:shell/hello:pull&scope=repository:apps/acme/web:pull`, { headers: basic(user, password) });
      return ((await res.json()) as { scope: string }).scope;
    };
    const build = (user: string, password: string, image: string) =>
      fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { ...basic(user, password), 'Content-Type': 'application/json' }, body: JSON.stringify({ image }) });
    try {
      expect(server.output()).toMatch(/"grants":"[^"]*access \(1 users, 1 groups\)"/);
      expect(await granted('alice', 'a-pass')).toBe('repository:shell/hello:pull');
      expect(await granted('bob', 'b-pass')).toBe('');
      const refused = await build('bob', 'b-pass', 'shell/hello');
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { errors: { code: string; message: string }[] }).errors[0]).toMatchObject({ code: 'DENIED', message: 'bob may not build shell/hello: shell/hello holds hello, which the access file does not grant bob' });

      await writeFile(accessFile, '@ops = bob\n@ops: hello, apps/acme/*\n');
      server.child.kill('SIGHUP');
      await vi.waitFor(async () => expect(await granted('bob', 'b-pass')).toBe('repository:shell/hello:pull repository:apps/acme/web:pull'), { timeout: 10_000, interval: 200 });
      expect(await granted('alice', 'a-pass')).toBe('');

      // Changed without a signal; then broken: refused, the grants stay.
      await writeFile(accessFile, 'alice: *\n');
      await vi.waitFor(async () => expect(await granted('alice', 'a-pass')).toBe('repository:shell/hello:pull repository:apps/acme/web:pull'), { timeout: 10_000, interval: 200 });
      await writeFile(accessFile, 'alice: Not A Name\n');
      await vi.waitFor(() => expect(server.output()).toMatch(/"problems":"NIXYARD_ACCESS_FILE=[^"]* line 1: \\"Not A Name\\" cannot be granted[^"]*","msg":"access file not reloaded: what it said before stays"/), { timeout: 10_000, interval: 200 });
      expect(await granted('alice', 'a-pass')).toBe('repository:shell/hello:pull repository:apps/acme/web:pull');
    } finally {
      await server.stop();
    }
  });

  it('builds and apps of images a user may not pull are hidden from her: lists, records, logs, pages', async () => {
    const { server } = await serveWithAccessFile('alice: hello, apps/*\n');
    const as = (user: string, password: string) => (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { ...init, headers: { ...basic(user, password), 'Content-Type': 'application/json', ...(init.headers ?? {}) } });
    const alice = as('alice', 'a-pass');
    const bob = as('bob', 'b-pass');
    try {
      const hidden = (await (await alice('/v1/builds', { method: 'POST', body: JSON.stringify({ image: 'hello' }) })).json()) as { id: string };
      const open = (await (await bob('/v1/builds', { method: 'POST', body: JSON.stringify({ image: 'nano' }) })).json()) as { id: string };
      await (await alice(`/v1/builds/${hidden.id}/logs?follow=1`)).text();
      const ids = async (call: typeof alice) => ((await (await call('/v1/builds')).json()) as { builds: { id: string }[] }).builds.map((build) => build.id);
      expect(await ids(alice)).toEqual(expect.arrayContaining([hidden.id, open.id]));
      expect(await ids(bob)).toContain(open.id);
      expect(await ids(bob)).not.toContain(hidden.id);
      for (const [path, method] of [[`/v1/builds/${hidden.id}`, 'GET'], [`/v1/builds/${hidden.id}/logs`, 'GET'], [`/v1/builds/${hidden.id}/retry`, 'POST']] as const) {
        const res = await bob(path, { method });
        expect(res.status, path).toBe(404);
        expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('BUILD_UNKNOWN');
      }
      expect((await alice(`/v1/builds/${hidden.id}`)).status).toBe(200);
      expect((await bob(`/builds/${hidden.id}`, { headers: { Accept: 'text/html' } })).status).toBe(404);
      expect(await (await bob('/builds', { headers: { Accept: 'text/html' } })).text()).not.toContain(hidden.id);

      const app = await alice('/v1/apps', { method: 'POST', body: JSON.stringify({ repo: 'https://git.example.com/acme/shop.git', image: 'apps/acme/shop' }) });
      expect(app.status).toBe(201);
      const { id } = (await app.json()) as { id: string };
      expect(((await (await bob('/v1/apps')).json()) as { apps: unknown[] }).apps).toEqual([]);
      expect((await bob(`/v1/apps/${id}`)).status).toBe(404);
      expect((await bob(`/v1/apps/${id}`, { method: 'DELETE' })).status).toBe(404);
      expect((await alice(`/v1/apps/${id}`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('a malformed or missing access file stops start-up naming the variable and the line', async () => {
    const htpasswd = await writeHtpasswd({ alice: 'a-pass' });
    const accessFile = join(dirname(htpasswd), 'access');
    await writeFile(accessFile, 'alice: hello\n@ops: git\n');
    const start = (file: string) => execa('node', [CLI, 'serve', '--demo'], { reject: false, all: true, timeout: 30_000, env: { PORT: '0', NIXYARD_HTPASSWD: htpasswd, NIXYARD_ACCESS_FILE: file } });
    const malformed = await start(accessFile);
    expect(malformed.exitCode).toBe(2);
    expect(malformed.all).toContain(`NIXYARD_ACCESS_FILE=${accessFile}: @ops is granted names but never defined: add a line "@ops = user, user"`);
    const missing = await start(`${accessFile}.missing`);
    expect(missing.exitCode).toBe(2);
    expect(missing.all).toContain(`NIXYARD_ACCESS_FILE=${accessFile}.missing cannot be read: ENOENT`);
  });
});
