import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { newRecord, type BuildRecord } from '../builds/record.js';
import type { BuildPage, BuildQuery, Builds } from '../builds/types.js';
import { RegistryError } from '../errors.js';
import {
  buildsHref,
  buildsPagesRouter,
  parseBuildsFilter,
  renderBuildNotFoundPage,
  renderBuildPage,
  renderBuildsPage,
  renderBuildsTable,
  type BuildsFilter,
} from './builds-pages.js';
import { escapeHtml, formatTime } from './html.js';
import { renderIndexPage } from './index-page.js';

const NOW = new Date('2026-11-22T10:16:00.000Z');
const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const DIGEST_M = `sha256:${'c'.repeat(64)}`;

/** A succeeded build of shell/git: queued 0.5 s, evaluating 1.5 s, building 20 s, packing 3 s, uploading 1 s. */
function succeeded(overrides: Partial<BuildRecord> = {}): BuildRecord {
  return {
    id: '20261122T101500000Z-1a2b3c4d',
    image: 'shell/git',
    tag: 'latest',
    packages: ['bashInteractive', 'cacert', 'coreutils', 'git', 'iana-etc'],
    arch: 'amd64',
    revision: '0123456789abcdef0123456789abcdef01234567',
    trigger: 'api',
    status: 'succeeded',
    createdAt: '2026-11-22T10:15:00.000Z',
    updatedAt: '2026-11-22T10:15:26.000Z',
    finishedAt: '2026-11-22T10:15:26.000Z',
    phases: [
      { status: 'queued', at: '2026-11-22T10:15:00.000Z' },
      { status: 'evaluating', at: '2026-11-22T10:15:00.500Z' },
      { status: 'building', at: '2026-11-22T10:15:02.000Z' },
      { status: 'packing', at: '2026-11-22T10:15:22.000Z' },
      { status: 'uploading', at: '2026-11-22T10:15:25.000Z' },
      { status: 'succeeded', at: '2026-11-22T10:15:26.000Z' },
    ],
    attempts: 1,
    error: null,
    layers: [
      { digest: DIGEST_A, size: 1536 },
      { digest: DIGEST_B, size: 3 * 1024 * 1024 },
    ],
    manifestDigest: DIGEST_M,
    artifacts: [
      { artifactType: 'application/spdx+json', manifest: DIGEST_B, content: DIGEST_A },
      { artifactType: 'application/vnd.cyclonedx+json', manifest: DIGEST_M, content: DIGEST_B },
    ],
    retryOf: null,
    instance: 'host-1',
    notifications: [],
    ...overrides,
  };
}

/** A build of hello in its building phase since 10:15:50 (10 s before NOW). */
function running(overrides: Partial<BuildRecord> = {}): BuildRecord {
  return succeeded({
    id: '20261122T101548000Z-00000002',
    image: 'hello',
    packages: ['cacert', 'hello', 'iana-etc'],
    trigger: 'pull',
    status: 'building',
    createdAt: '2026-11-22T10:15:48.000Z',
    updatedAt: '2026-11-22T10:15:50.000Z',
    finishedAt: null,
    phases: [
      { status: 'queued', at: '2026-11-22T10:15:48.000Z' },
      { status: 'evaluating', at: '2026-11-22T10:15:49.000Z' },
      { status: 'building', at: '2026-11-22T10:15:50.000Z' },
    ],
    layers: [],
    manifestDigest: null,
    ...overrides,
  });
}

function failed(overrides: Partial<BuildRecord> = {}): BuildRecord {
  return succeeded({
    id: '20261122T101530000Z-00000003',
    image: 'failing-demo',
    packages: ['cacert', 'failing-demo', 'iana-etc'],
    status: 'failed',
    createdAt: '2026-11-22T10:15:30.000Z',
    updatedAt: '2026-11-22T10:15:33.000Z',
    finishedAt: '2026-11-22T10:15:33.000Z',
    phases: [
      { status: 'queued', at: '2026-11-22T10:15:30.000Z' },
      { status: 'evaluating', at: '2026-11-22T10:15:31.000Z' },
      { status: 'building', at: '2026-11-22T10:15:32.000Z' },
      { status: 'failed', at: '2026-11-22T10:15:33.000Z' },
    ],
    error: { code: 'NIX_BUILD_FAILED', message: 'builder for failing-demo failed <exit 1>' },
    layers: [],
    manifestDigest: null,
    ...overrides,
  });
}

const filter = (overrides: Partial<BuildsFilter> = {}): BuildsFilter => ({ status: [], image: '', limit: 25, ...overrides });

/** The HTML of the element with `id` in `html` (to its first closing tag), for assertions on one element. */
function elementHtml(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  expect(start, `no element #${id}`).toBeGreaterThanOrEqual(0);
  const open = html.lastIndexOf('<', start);
  const tag = /^<(\w+)/.exec(html.slice(open))?.[1] ?? '';
  if (tag === 'input') return html.slice(open, html.indexOf('>', start) + 1);
  return html.slice(open, html.indexOf(`</${tag}>`, start) + tag.length + 3);
}

describe('html helpers', () => {
  it('escapes text for elements and attributes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('formats times for people', () => {
    expect(formatTime('2026-11-22T10:15:00.123Z')).toBe('<time datetime="2026-11-22T10:15:00.123Z">2026-11-22 10:15:00 UTC</time>');
  });
});

describe('parseBuildsFilter', () => {
  it('reads status, image, limit and cursor; empty values and "any" mean no filter', () => {
    expect(parseBuildsFilter({})).toEqual({ kind: 'ok', filter: filter() });
    expect(parseBuildsFilter({ status: '', image: '' })).toEqual({ kind: 'ok', filter: filter() });
    expect(parseBuildsFilter({ status: 'any' })).toEqual({ kind: 'ok', filter: filter() });
    expect(parseBuildsFilter({ status: 'failed,cancelled,failed', image: ' shell/git ', limit: '5', cursor: '20261122T101500000Z-1a2b3c4d' })).toEqual({
      kind: 'ok',
      filter: filter({ status: ['failed', 'cancelled'], image: 'shell/git', limit: 5, cursor: '20261122T101500000Z-1a2b3c4d' }),
    });
  });

  it('refuses unknown statuses, limits out of 1..100 and cursors that are not build ids, saying why', () => {
    expect(parseBuildsFilter({ status: 'broken' })).toEqual({ kind: 'invalid', message: expect.stringContaining('unknown status "broken"') });
    for (const limit of ['0', '101', '2.5', 'ten']) expect(parseBuildsFilter({ limit })).toMatchObject({ kind: 'invalid', message: expect.stringContaining('limit') });
    expect(parseBuildsFilter({ cursor: '../etc' })).toEqual({ kind: 'invalid', message: expect.stringContaining('not a build id') });
  });

  it('is the inverse of buildsHref', () => {
    const cases = [filter(), filter({ status: ['failed'], image: 'shell/git' }), filter({ status: ['queued', 'building'], limit: 10, cursor: '20261122T101500000Z-1a2b3c4d' })];
    for (const original of cases) {
      const href = buildsHref(original, original.cursor);
      const query = Object.fromEntries(new URL(href, 'http://x').searchParams);
      expect(parseBuildsFilter(query)).toEqual({ kind: 'ok', filter: original });
    }
    expect(buildsHref(filter())).toBe('/builds');
    expect(buildsHref(filter({ status: ['failed'], image: 'shell/git' }), 'next-id')).toBe('/builds?status=failed&image=shell%2Fgit&cursor=next-id');
  });
});

describe('renderBuildsTable', () => {
  it('has a row per record with status, image:tag, arch, trigger, created, duration and a link to the build page', () => {
    const html = renderBuildsTable([running(), succeeded()], NOW, 'none');
    const rows = html.match(/<tr data-id=[^>]*>/g);
    expect(rows).toEqual([
      '<tr data-id="20261122T101548000Z-00000002" data-status="building" data-final="false">',
      '<tr data-id="20261122T101500000Z-1a2b3c4d" data-status="succeeded" data-final="true">',
    ]);
    expect(html).toContain('<span class="status status-succeeded" data-status="succeeded">succeeded</span>');
    expect(html).toContain(
      '<a href="/builds/20261122T101500000Z-1a2b3c4d" title="packages: bashInteractive cacert coreutils git iana-etc"><code>shell/git:latest</code></a>',
    );
    expect(html).toContain('<td>amd64</td><td>api</td><td><time datetime="2026-11-22T10:15:00.000Z">2026-11-22 10:15:00 UTC</time></td><td class="num">26s</td>');
    expect(html).toContain('<td class="num">12s so far</td>');
  });

  it('shows the error code of a failed build beside its status', () => {
    expect(renderBuildsTable([failed()], NOW, '')).toContain(
      '<td><span class="status status-failed" data-status="failed">failed</span> <code class="fail">NIX_BUILD_FAILED</code></td>',
    );
  });

  it('says `empty` when there are no records, and escapes what it shows', () => {
    expect(renderBuildsTable([], NOW, 'No <builds>.')).toBe('<p class="muted" id="builds-empty">No &lt;builds&gt;.</p>');
    expect(renderBuildsTable([succeeded({ tag: '<b>' })], NOW, '')).toContain('shell/git:&lt;b&gt;');
  });
});

describe('renderBuildsPage', () => {
  it('links to the next page with the same filter, and back to the newest', () => {
    const page: BuildPage = { builds: [failed()], next: '20261122T101530000Z-00000003' };
    const html = renderBuildsPage({ page, filter: filter({ status: ['failed'], image: 'failing-demo', cursor: '20261122T101600000Z-00000009' }), now: NOW });
    expect(html).toContain('<a href="/builds?status=failed&amp;image=failing-demo&amp;cursor=20261122T101530000Z-00000003" id="older" rel="next">older</a>');
    expect(html).toContain('<a href="/builds?status=failed&amp;image=failing-demo" id="newest">newest</a>');
    expect(elementHtml(html, 'filter-status')).toContain('<option value="failed" selected>failed</option>');
    expect(elementHtml(html, 'filter-image')).toContain('value="failing-demo"');
  });

  it('has no pager on the only page, "any" preselected, and an empty-filter message', () => {
    const html = renderBuildsPage({ page: { builds: [], next: null }, filter: filter({ image: 'x"><script>' }), now: NOW });
    expect(html).not.toContain('id="older"');
    expect(html).not.toContain('id="newest"');
    expect(elementHtml(html, 'filter-status')).toContain('<option value="" selected>any</option>');
    expect(html).toContain('value="x&quot;&gt;&lt;script&gt;"');
    expect(html).toContain('No builds match this filter.');
  });

  it('shows a combination of statuses from the address as its own selected option', () => {
    const html = renderBuildsPage({ page: { builds: [], next: null }, filter: filter({ status: ['failed', 'cancelled'] }), now: NOW });
    expect(elementHtml(html, 'filter-status')).toContain('<option value="failed,cancelled" selected>failed, cancelled</option>');
  });
});

describe('renderBuildPage', () => {
  it('shows a succeeded build: summary, phases with durations, layers with sizes and total, manifest, pull command, log', () => {
    const html = renderBuildPage({ record: succeeded(), log: { text: '[t] evaluating\n<done>\n', total: 22 }, now: NOW, host: 'registry.example:8080' });
    expect(elementHtml(html, 'status')).toBe('<span id="status" class="status status-succeeded" data-status="succeeded">succeeded</span>');
    const summary = elementHtml(html, 'summary');
    for (const text of ['<code id="image">shell/git:latest</code>', '<code>git</code>', 'amd64', '0123456789abcdef0123456789abcdef01234567', '<dd>api</dd>', '<dd>1</dd>', '2026-11-22 10:15:26 UTC', '26s']) {
      expect(summary).toContain(text);
    }
    const phases = elementHtml(html, 'phases-table');
    expect(phases.match(/data-phase="(\w+)"/g)).toEqual(['queued', 'evaluating', 'building', 'packing', 'uploading', 'succeeded'].map((s) => `data-phase="${s}"`));
    for (const took of ['500ms', '1.5s', '20s', '3.0s', '1.0s']) expect(phases).toContain(`<td class="num">${took}</td>`);
    const layers = elementHtml(html, 'layers-table');
    expect(layers).toContain(`<code>${DIGEST_A}</code></td><td class="num" data-bytes="1536">1.5 KiB</td>`);
    expect(layers).toContain(`<code>${DIGEST_B}</code></td><td class="num" data-bytes="3145728">3.0 MiB</td>`);
    expect(elementHtml(html, 'layers-total')).toContain('data-bytes="3147264">3.0 MiB<');
    expect(html).toContain(`<code id="manifest-digest">${DIGEST_M}</code>`);
    expect(elementHtml(html, 'artifacts-list')).toContain(`<li data-artifact-type="application/spdx+json"><a href="/v2/shell/git/blobs/${DIGEST_A}">SBOM (SPDX 2.3)</a>`);
    expect(html).toContain('<pre id="pull">docker pull registry.example:8080/shell/git:latest</pre>');
    expect(elementHtml(html, 'log')).toBe('<pre class="log" id="log" data-state="complete">[t] evaluating\n&lt;done&gt;\n</pre>');
    expect(html).toContain('data-status="succeeded" data-updated="2026-11-22T10:15:26.000Z"');
  });

  it('shows a running build with durations so far and a log the script will follow', () => {
    const html = renderBuildPage({ record: running(), log: { text: 'so far\n', total: 7 }, now: NOW });
    expect(elementHtml(html, 'status')).toContain('data-status="building"');
    expect(elementHtml(html, 'phases-table')).toContain('<td class="num">10s so far</td>');
    expect(elementHtml(html, 'took')).toBe('<span id="took">12s so far</span>');
    expect(elementHtml(html, 'layers')).toContain('Layers appear once the build has succeeded.');
    expect(elementHtml(html, 'log')).toBe('<pre class="log" id="log" data-state="snapshot">so far\n</pre>');
    expect(html).toContain("fetch(api + '/logs?follow=1')");
    expect(html).not.toContain('id="pull"');
  });

  it('shows the error of a failed build, escaped, and a retry link to the build it retries', () => {
    const html = renderBuildPage({ record: failed({ retryOf: '20261122T101500000Z-1a2b3c4d' }), log: undefined, now: NOW, host: 'h' });
    expect(elementHtml(html, 'error')).toBe('<div class="error" id="error" data-code="NIX_BUILD_FAILED"><code>NIX_BUILD_FAILED</code> builder for failing-demo failed &lt;exit 1&gt;</div>');
    expect(html).toContain('retry of <a href="/builds/20261122T101500000Z-1a2b3c4d">');
    expect(elementHtml(html, 'layers')).toContain('This build made no layers.');
    expect(html).not.toContain('id="pull"');
    expect(elementHtml(html, 'log')).toBe('<pre class="log" id="log" data-state="complete"></pre>');
  });

  it('says when no build has an id', () => {
    const html = renderBuildNotFoundPage('<nope>');
    expect(html).toContain('<h1>Build not found</h1>');
    expect(html).toContain('<code>&lt;nope&gt;</code>');
  });
});

describe('renderIndexPage', () => {
  it('lists the newest records and links to the build pages; only a link when builds are not shown', () => {
    const content = { sourceDescription: 'demo', examples: ['shell/hello'] };
    const html = renderIndexPage({ ...content, recent: [running(), succeeded()] }, 'reg:1', NOW);
    expect(html).toContain('docker pull reg:1/shell/hello');
    expect(elementHtml(html, 'builds').match(/<tr data-id/g)).toHaveLength(2);
    expect(html).toContain('<a href="/builds" id="builds-link">All builds</a>');
    const closed = renderIndexPage({ ...content, recent: undefined }, 'reg:1', NOW);
    expect(closed).not.toContain('id="builds"');
    expect(closed).toContain('id="builds-link"');
  });

  it('shows pulls of the examples it is given, runs the first with a shell, and a reordered name', () => {
    const html = renderIndexPage({ sourceDescription: 'demo', examples: ['shell/hello', 'hello/nano'], recent: undefined }, 'reg:1', NOW);
    expect(html).toContain('docker pull reg:1/shell/hello\ndocker pull reg:1/hello/nano\ndocker run -it --rm reg:1/shell/hello bash');
    expect(html).toContain('<code>hello/nano</code> and <code>nano/hello</code> are the same image');
    expect(html).not.toMatch(/git|htop/);
  });
});

/** Builds over fixed records; `list` remembers its queries. */
function fakeBuilds(records: BuildRecord[]): Builds & { queries: BuildQuery[] } {
  const queries: BuildQuery[] = [];
  const unused = () => Promise.reject(new Error('not used by the pages'));
  return {
    queries,
    list: async (query) => {
      queries.push(query);
      if (query.image === 'Bad Name') throw new RegistryError('NAME_INVALID', 'invalid repository name "Bad Name"');
      const matching = records.filter((r) => (!query.status || query.status.includes(r.status)) && (!query.image || r.image === query.image));
      return { builds: matching.slice(0, query.limit), next: matching.length > query.limit ? (matching[query.limit - 1]?.id ?? null) : null };
    },
    get: async (id) => records.find((r) => r.id === id),
    log: async (id) => (records.some((r) => r.id === id) ? { text: `log of ${id}\n`, total: 0 } : undefined),
    follow: unused,
    submit: unused,
    cancel: unused,
    retry: unused,
    stats: unused,
  };
}

describe('buildsPagesRouter', () => {
  const records = [running(), failed(), succeeded()];

  it('serves the list with the filter of the query string, and a record page', async () => {
    const builds = fakeBuilds(records);
    const app = express().use(buildsPagesRouter({ builds }));
    const list = await request(app).get('/builds?status=failed&image=failing-demo').expect(200).expect('Content-Type', /text\/html/);
    expect(builds.queries).toEqual([{ limit: 25, status: ['failed'], image: 'failing-demo' }]);
    expect(list.text.match(/<tr data-id="([^"]+)"/g)).toEqual([`<tr data-id="${failed().id}"`]);
    const page = await request(app).get(`/builds/${succeeded().id}`).set('Host', 'reg:5000').expect(200);
    expect(page.text).toContain('docker pull reg:5000/shell/git:latest');
    expect(page.text).toContain(`log of ${succeeded().id}`);
  });

  it('answers 404 pages for unknown ids and 400 pages for filters it cannot take', async () => {
    const app = express().use(buildsPagesRouter({ builds: fakeBuilds(records) }));
    const unknown = await request(app).get('/builds/20991231T000000000Z-deadbeef').expect(404).expect('Content-Type', /text\/html/);
    expect(unknown.text).toContain('No build has the id <code>20991231T000000000Z-deadbeef</code>');
    await request(app).get('/builds/not-an-id').expect(404);
    expect((await request(app).get('/builds?status=nope').expect(400)).text).toContain('unknown status &quot;nope&quot;');
    expect((await request(app).get('/builds?image=Bad%20Name').expect(400)).text).toContain('invalid repository name &quot;Bad Name&quot;');
  });

  it('puts both pages behind the guard when there is one', async () => {
    const guard: RequestHandler = (req, res, next) => (req.headers.authorization === 'Basic ok' ? next() : res.status(401).send('login'));
    const app = express().use(buildsPagesRouter({ builds: fakeBuilds(records), guard }));
    await request(app).get('/builds').expect(401);
    await request(app).get(`/builds/${failed().id}`).expect(401);
    await request(app).get('/builds').set('Authorization', 'Basic ok').expect(200);
    await request(app).get(`/builds/${failed().id}`).set('Authorization', 'Basic ok').expect(200);
  });
});

describe('the page of a build from application source', () => {
  it('shows the repository, the commit and the plan, escaped', () => {
    const record = {
      ...newRecord({ id: '20261204T230201533Z-2cc82825', image: 'apps/acme/web', tag: 'v1', packages: ['nodejs_20'], arch: 'amd64', revision: 'r', trigger: 'api', instance: 'a' }, new Date('2026-12-04T23:02:01Z')),
      source: { repo: 'https://***@git.example/acme/shop.git', ref: 'main', commit: 'a'.repeat(40), dir: 'services/web', committedAt: null, overrides: {}, timeoutSeconds: 600 },
      plan: { planner: 'nixpacks 1.41.0', provider: 'node', phases: [{ name: 'install', cmds: ['npm ci'] }, { name: 'build', cmds: ['npm run build && echo "<done>"'] }], start: 'npm run start', variables: {}, raw: {} },
    } satisfies BuildRecord;
    const html = renderBuildPage({ record, log: undefined, now: new Date('2026-12-04T23:02:05Z') });
    expect(html).toContain('From <code>https://***@git.example/acme/shop.git</code> <code>main</code> at <code>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</code>, directory <code>services/web</code>.');
    expect(html).toContain('<caption>nixpacks 1.41.0, provider node</caption>');
    expect(html).toContain('<code>npm run build &amp;&amp; echo &quot;&lt;done&gt;&quot;</code>');
    expect(html).toContain('<th>start</th><td><code>npm run start</code></td>');
  });
});
