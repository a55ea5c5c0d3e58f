/** Loading popularity data: from a file, a file:// URL, an http URL on 127.0.0.1; the demo set's; the server at start. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_POPULARITY_PATH, loadPopularity, loadServerPopularity, PopularityError } from '../../src/popularity/load.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import { DEMO_PKGS_PATH } from '../../src/paths.js';
import { startDemoServer } from '../helpers/demo-server.js';

function recordingLogger() {
  const lines: string[] = [];
  const log: Logger = {
    debug: () => 0,
    info: (message, fields) => lines.push(`info ${message} ${JSON.stringify(fields ?? {})}`),
    warn: (message, fields) => lines.push(`warn ${message} ${JSON.stringify(fields ?? {})}`),
    error: (message, fields) => lines.push(`error ${message} ${JSON.stringify(fields ?? {})}`),
  };
  return { log, lines };
}

const DATA = { 'glibc-2.39-52': 12000, 'zlib-1.3.1': 900 };
let dir: string;
let server: Server;
let base: string;
let closedUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nixyard-popularity-'));
  const files: Record<string, string> = {
    'good.json': JSON.stringify(DATA),
    'not-json.json': '{"glibc": 3,',
    'array.json': '[1, 2]',
    'negative.json': '{"a": 1, "b": -2, "c": 1.5, "d": "7"}',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    if (files[name] === undefined) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(files[name]);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closed = createServer();
  await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
  closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/popularity.json`;
  await new Promise<void>((done) => closed.close(() => done()));
});

afterAll(async () => {
  await new Promise<void>((done) => server?.close(() => done()));
});

describe('loadPopularity', () => {
  it('reads a file path, a file:// URL and an http URL', async () => {
    const { log, lines } = recordingLogger();
    for (const source of [join(dir, 'good.json'), pathToFileURL(join(dir, 'good.json')).href, `${base}/good.json`]) {
      const loaded = await loadPopularity(source, log);
      expect(loaded.popularity).toEqual(DATA);
      expect(loaded.description).toBe(`${source} (2 packages)`);
    }
    expect(lines[0]).toBe(`info popularity data loaded ${JSON.stringify({ source: join(dir, 'good.json'), packages: 2 })}`);
  });

  it('logs clearly when there is none', async () => {
    const { log, lines } = recordingLogger();
    expect(await loadPopularity(undefined, log)).toEqual({ popularity: {}, description: 'none' });
    expect(lines).toEqual(['warn no popularity data: layering uses sizes and the closure graph only (set NIX_POPULARITY_URL to a popcount file) {}']);
  });

  it.each([
    ['not-json.json', /popularity data from .*not-json.json is not JSON: /],
    ['array.json', /popularity data from .*array.json is not a JSON object of \{"name-version": count\}: it is an array/],
    ['negative.json', /popularity data from .*negative.json has counts that are not non-negative integers: "b": -2, "c": 1.5, "d": "7"/],
  ])('rejects %s, from a file and over http, naming the source', async (name, message) => {
    const { log } = recordingLogger();
    await expect(loadPopularity(join(dir, name), log)).rejects.toThrow(PopularityError);
    await expect(loadPopularity(join(dir, name), log)).rejects.toThrow(message);
    await expect(loadPopularity(`${base}/${name}`, log)).rejects.toThrow(message);
  });

  it('names a missing file, a 404, an unreachable server and an unsupported scheme', async () => {
    const { log } = recordingLogger();
    await expect(loadPopularity(join(dir, 'absent.json'), log)).rejects.toThrow(`cannot read popularity data from ${join(dir, 'absent.json')}: no such file`);
    await expect(loadPopularity(`${base}/absent.json`, log)).rejects.toThrow(`cannot fetch popularity data from ${base}/absent.json: it answered 404 Not Found`);
    await expect(loadPopularity(closedUrl, log)).rejects.toThrow(`cannot fetch popularity data from ${closedUrl}: fetch failed: ECONNREFUSED`);
    await expect(loadPopularity('gs://bucket/popularity.json', log)).rejects.toThrow(
      'popularity source gs://bucket/popularity.json is not supported: expected an http(s):// or file:// URL or a file path',
    );
  });
});

describe('loadServerPopularity', () => {
  it('uses the demo data for the demo set, NIX_POPULARITY_URL when set, and none for another source', async () => {
    const { log, lines } = recordingLogger();
    const demo = await loadServerPopularity(loadConfig({ NIXERY_PKGS_PATH: DEMO_PKGS_PATH }), log);
    expect(demo.popularity['busybox']).toBeGreaterThan(1);
    expect(demo.description).toMatch(new RegExp(`^the demo package set's ${DEMO_POPULARITY_PATH} \\(\\d+ packages?\\)$`));

    const fromUrl = await loadServerPopularity(loadConfig({ NIXERY_PKGS_PATH: DEMO_PKGS_PATH, NIX_POPULARITY_URL: `${base}/good.json` }), log);
    expect(fromUrl.popularity).toEqual(DATA);

    lines.length = 0;
    const none = await loadServerPopularity(loadConfig({ NIXERY_CHANNEL: 'nixos-unstable' }), log);
    expect(none.popularity).toEqual({});
    expect(lines.join('\n')).toContain('warn no popularity data');
  });

  it('says that the demo data leaves synthetic packages out', async () => {
    const { log, lines } = recordingLogger();
    await loadServerPopularity(loadConfig({ NIXERY_PKGS_PATH: DEMO_PKGS_PATH, NIXYARD_DEMO_SYNTHETIC: '10' }), log);
    expect(lines.join('\n')).toContain('synthetic packages count as 1');
  });
});

describe('the server at start', () => {
  it('loads the demo popularity data and says so', async () => {
    const { log, lines } = recordingLogger();
    const running = await startDemoServer({}, { log });
    try {
      expect(lines.join('\n')).toContain(`info popularity data loaded {"source":${JSON.stringify(DEMO_POPULARITY_PATH)}`);
    } finally {
      await running.close();
    }
  });

  it('does not start with NIX_POPULARITY_URL pointing at bad data', async () => {
    await expect(startDemoServer({ NIX_POPULARITY_URL: `${base}/array.json` })).rejects.toThrow(/popularity data from .*array.json is not a JSON object/);
    await expect(startDemoServer({ NIX_POPULARITY_URL: `${base}/absent.json` })).rejects.toThrow('answered 404');
  });
});
