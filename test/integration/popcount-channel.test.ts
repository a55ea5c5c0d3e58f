/**
 * `nixyard popcount --channel` against a fake channel: a directory made by the test (a release
 * with `store-paths.xz` and `git-revision`, a binary cache of narinfo files) served on 127.0.0.1
 * by a tiny HTTP server that records requests and can fail on purpose.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { popcountChannel, type ChannelPopcountOptions } from '../../src/popularity/channel.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { requireTool } from '../helpers/tools.js';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const COMMIT = 'c0ffee0000000000000000000000000000000001';

// Nix base-32 has no e, o, t, u.
const hash = (c: string) => c.repeat(32);
const PATHS = {
  glibc: `/nix/store/${hash('a')}-glibc-2.39-52`,
  zlib: `/nix/store/${hash('b')}-zlib-1.3.1`,
  openssl: `/nix/store/${hash('c')}-openssl-3.0.13`,
  curl: `/nix/store/${hash('d')}-curl-8.7.1`,
  git: `/nix/store/${hash('f')}-git-2.44.0`,
  hello: `/nix/store/${hash('g')}-hello-2.12.1`,
  data: `/nix/store/${hash('h')}-tzdata-2024a`,
  // Referenced, but not in the channel's list (like a library that is no job of its own).
  libgcc: `/nix/store/${hash('i')}-gcc-13.2.0-lib`,
};
type Name = keyof typeof PATHS;
const REFERENCES: Record<Exclude<Name, 'libgcc'>, Name[]> = {
  glibc: ['glibc'],
  zlib: ['glibc', 'zlib'],
  openssl: ['glibc', 'libgcc', 'openssl', 'zlib'],
  curl: ['curl', 'glibc', 'libgcc', 'openssl', 'zlib'],
  git: ['curl', 'git', 'glibc', 'openssl', 'zlib'],
  hello: ['glibc', 'hello'],
  data: [],
};
/** Counted by hand: every reference once, self-references included; counts of 1 dropped. */
const EXPECTED = {
  'curl-8.7.1': 2, // itself, git
  'gcc-13.2.0-lib': 2, // openssl, curl
  'glibc-2.39-52': 6, // itself, zlib, openssl, curl, git, hello
  'openssl-3.0.13': 3, // itself, curl, git
  'zlib-1.3.1': 4, // itself, openssl, curl, git
};

const basename = (path: string) => path.slice('/nix/store/'.length);
const hashOf = (path: string) => basename(path).slice(0, 32);

function narinfo(name: Exclude<Name, 'libgcc'>): string {
  return [
    `StorePath: ${PATHS[name]}`,
    `URL: nar/${hashOf(PATHS[name])}.nar.xz`,
    'Compression: xz',
    'NarHash: sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s',
    'NarSize: 1024',
    `References: ${REFERENCES[name].map((ref) => basename(PATHS[ref])).join(' ')}`,
    `Deriver: ${hash('z')}-${name}.drv`,
    '',
  ].join('\n');
}

/** Paths under the served root answering with a status instead of their file. */
const failures = new Map<string, { status: number; times: number }>();
const requests: string[] = [];
let root: string;
let server: Server;
let base: string;

async function xz(text: string): Promise<Buffer> {
  const result = await execa('xz', ['--compress', '--stdout'], { input: text, encoding: 'buffer' });
  return Buffer.from(result.stdout);
}

async function write(path: string, content: string | Buffer) {
  await mkdir(join(root, path, '..'), { recursive: true });
  await writeFile(join(root, path), content);
}

beforeAll(async () => {
  await requireTool('xz', 'apt-get install -y xz-utils');
  root = await mkdtemp(join(tmpdir(), 'nixyard-fake-channel-'));
  const listed = Object.keys(REFERENCES) as Exclude<Name, 'libgcc'>[];
  const storePaths = `${listed.map((name) => PATHS[name]).join('\n')}\n`;
  // nixos-test: redirects to its release, like channels.nixos.org.
  await write('releases/nixos-test-1/store-paths.xz', await xz(storePaths));
  await write('releases/nixos-test-1/git-revision', COMMIT);
  // plain-test: a directory, uncompressed store-paths, no git-revision.
  await write('channels/plain-test/store-paths', storePaths);
  // Broken channels.
  await write('channels/garbage-test/store-paths', `${PATHS.glibc}\n<html>oops</html>\n`);
  await write('channels/badxz-test/store-paths.xz', Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from('not really xz')]));
  await write('channels/missing-test/store-paths', `${PATHS.glibc}\n/nix/store/${hash('j')}-not-cached-1.0\n`);
  for (const name of listed) await write(`cache/${hashOf(PATHS[name])}.narinfo`, narinfo(name));

  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.pathname);
    const failure = failures.get(url.pathname);
    if (failure && failure.times > 0) {
      failure.times -= 1;
      res.writeHead(failure.status).end(`failing on purpose with ${failure.status}`);
      return;
    }
    if (url.pathname === '/channels/nixos-test') {
      res.writeHead(302, { location: '/releases/nixos-test-1' }).end();
      return;
    }
    const file = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!file.startsWith(root)) {
      res.writeHead(400).end();
      return;
    }
    readdir(file).then(
      () => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>a channel directory</html>'),
      () =>
        readFile(file).then(
          (body) => res.writeHead(200).end(body),
          () => res.writeHead(404).end('404 Not Found'),
        ),
    );
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((done) => server?.close(() => done()));
  if (root) await rm(root, { recursive: true, force: true });
});

async function freshCacheDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'nixyard-narinfo-cache-'));
}

function options(cacheDir: string, more: Partial<ChannelPopcountOptions> = {}): ChannelPopcountOptions {
  return { channel: 'nixos-test', channelsUrl: `${base}/channels`, cacheUrl: `${base}/cache`, cacheDir, retries: 1, retryDelayMs: 10, ...more };
}

const narinfoRequests = () => requests.filter((path) => path.endsWith('.narinfo'));

describe('popcount --channel (in process)', () => {
  it('counts the references of every listed path exactly, and a second run fetches no narinfo', async () => {
    const cacheDir = await freshCacheDir();
    const progress: string[] = [];
    requests.length = 0;
    const first = await popcountChannel(options(cacheDir, { onProgress: (line) => progress.push(line) }));
    expect(first.popularity).toEqual(EXPECTED);
    expect(first).toMatchObject({ channel: 'nixos-test', releaseUrl: `${base}/releases/nixos-test-1/`, commit: COMMIT, storePaths: 7, fetched: 7, cached: 0, missing: [] });
    expect(requests).toContain('/releases/nixos-test-1/store-paths.xz');
    expect(narinfoRequests()).toHaveLength(7);
    expect(progress.join('\n')).toContain(`channel nixos-test is ${base}/releases/nixos-test-1/ (nixpkgs ${COMMIT})`);
    expect(progress.at(-1)).toBe('7/7 narinfos (0 cached, 7 fetched)');

    requests.length = 0;
    const second = await popcountChannel(options(cacheDir));
    expect(second.popularity).toEqual(EXPECTED);
    expect(second).toMatchObject({ fetched: 0, cached: 7 });
    expect(narinfoRequests()).toEqual([]);
  });

  it('resumes an interrupted run: only the narinfos not fetched before are fetched', async () => {
    const cacheDir = await freshCacheDir();
    const gitNarinfo = `/cache/${hashOf(PATHS.git)}.narinfo`;
    failures.set(gitNarinfo, { status: 500, times: 2 });
    await expect(popcountChannel(options(cacheDir, { concurrency: 1 }))).rejects.toThrow(`could not fetch ${base}${gitNarinfo} (2 attempts): answered 500`);
    const kept = (await readdir(cacheDir)).filter((file) => file.endsWith('.narinfo'));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(7);

    requests.length = 0;
    const resumed = await popcountChannel(options(cacheDir));
    expect(resumed.popularity).toEqual(EXPECTED);
    expect(resumed).toMatchObject({ cached: kept.length, fetched: 7 - kept.length });
    expect(narinfoRequests()).toHaveLength(7 - kept.length);
    expect(narinfoRequests()).toContain(gitNarinfo);
  });

  it('retries a request that failed with 503', async () => {
    const curlNarinfo = `/cache/${hashOf(PATHS.curl)}.narinfo`;
    failures.set(curlNarinfo, { status: 503, times: 1 });
    failures.set('/releases/nixos-test-1/store-paths.xz', { status: 502, times: 1 });
    requests.length = 0;
    const result = await popcountChannel(options(await freshCacheDir(), { retries: 2 }));
    expect(result.popularity).toEqual(EXPECTED);
    expect(requests.filter((path) => path === curlNarinfo)).toHaveLength(2);
  });

  it('reads an uncompressed store-paths from a channel that does not redirect', async () => {
    const result = await popcountChannel(options(await freshCacheDir(), { channel: 'plain-test' }));
    expect(result.popularity).toEqual(EXPECTED);
    expect(result).toMatchObject({ releaseUrl: `${base}/channels/plain-test/`, commit: undefined });
  });

  it('fails clearly on a missing narinfo, or skips it with allowMissing', async () => {
    const notCached = `/nix/store/${hash('j')}-not-cached-1.0`;
    await expect(popcountChannel(options(await freshCacheDir(), { channel: 'missing-test' }))).rejects.toThrow(
      `no narinfo for ${notCached}: ${base}/cache/${hash('j')}.narinfo answered 404 (the binary cache does not have this path; --allow-missing skips such paths)`,
    );
    const skipped = await popcountChannel(options(await freshCacheDir(), { channel: 'missing-test', allowMissing: true }));
    expect(skipped).toMatchObject({ popularity: {}, fetched: 1, missing: [notCached] });
  });

  it('fails clearly on a bad store-paths list', async () => {
    await expect(popcountChannel(options(await freshCacheDir(), { channel: 'garbage-test' }))).rejects.toThrow(
      `${base}/channels/garbage-test/store-paths is not a list of store paths (one /nix/store/<hash>-<name> a line): line 2: "<html>oops</html>"`,
    );
    await expect(popcountChannel(options(await freshCacheDir(), { channel: 'badxz-test' }))).rejects.toThrow(
      `${base}/channels/badxz-test/store-paths.xz is not valid xz data`,
    );
  });

  it('fails clearly on an unknown channel and on an unreachable server', async () => {
    await expect(popcountChannel(options(await freshCacheDir(), { channel: 'no-such-channel' }))).rejects.toThrow(
      `no channel "no-such-channel": ${base}/channels/no-such-channel answered 404 (check the name and --channels-url)`,
    );
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((done) => closed.close(() => done()));
    await expect(popcountChannel(options(await freshCacheDir(), { channelsUrl: deadUrl }))).rejects.toThrow(
      new RegExp(`could not fetch ${deadUrl}/nixos-test \\(2 attempts\\): fetch failed: ECONNREFUSED`),
    );
    await expect(popcountChannel(options(await freshCacheDir(), { cacheUrl: deadUrl }))).rejects.toThrow(
      new RegExp(`could not fetch ${deadUrl}/[0-9a-z]{32}\\.narinfo \\(2 attempts\\): fetch failed: ECONNREFUSED`),
    );
  });
});

describe('nixyard popcount --channel (the built CLI)', () => {
  function nixyard(args: string[]) {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
    return execa('node', [CLI, 'popcount', ...args], { reject: false, timeout: 60_000 });
  }

  it('writes the popularity to --out, and resumes from its cache directory', async () => {
    const cacheDir = await freshCacheDir();
    const out = join(cacheDir, 'popularity.json');
    const args = ['--channel', 'nixos-test', '--channels-url', `${base}/channels`, '--cache-url', `${base}/cache`, '--cache-dir', cacheDir];
    requests.length = 0;
    const first = await nixyard([...args, '--out', out]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toBe('');
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(EXPECTED);
    expect(first.stderr).toContain('popcount: 7/7 narinfos (0 cached, 7 fetched)');
    expect(first.stderr).toContain(`popcount: 5 packages counted, written to ${out}`);
    expect(narinfoRequests()).toHaveLength(7);

    requests.length = 0;
    const second = await nixyard(args);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual(EXPECTED);
    expect(second.stderr).toContain('popcount: 7/7 narinfos (7 cached, 0 fetched)');
    expect(narinfoRequests()).toEqual([]);
  });

  it('exits 1 with the error on stderr, and 1 with usage for bad arguments', async () => {
    const missing = await nixyard(['--channel', 'missing-test', '--channels-url', `${base}/channels`, '--cache-url', `${base}/cache`, '--cache-dir', await freshCacheDir()]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/^nixyard: no narinfo for \/nix\/store\/j+-not-cached-1\.0: .* answered 404/m);
    const usage = await nixyard(['--channel']);
    expect(usage.exitCode).toBe(1);
    expect(usage.stderr).toContain('nixyard: popcount: --channel needs a value');
    expect(usage.stderr).toContain('usage: nixyard popcount');
  });
});
