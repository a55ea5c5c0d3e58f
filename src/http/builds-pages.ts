/**
 * The build pages: `GET /builds` (the records, newest first, filtered by status and image
 * through the query string, a page at a time) and `GET /builds/:id` (one record: summary,
 * phases with their durations, layers, and the log following the build live). Rendered on the
 * server by the pure `render…` functions below (records in, HTML out); a little inline script
 * keeps a page current while builds run, through the `/v1` API and by swapping in the sections
 * of the same page fetched again, so the HTML of a row or a table is made in one place only.
 */
import { Router, type RequestHandler, type Response } from 'express';
import { maySee } from './client.js';
import { RegistryError } from '../errors.js';
import { BUILD_ID, BUILD_STATUSES, isFinal, phaseDurations, totalDuration, type BuildRecord, type BuildStatus } from '../builds/record.js';
import type { BuildPage, Builds, LogSnapshot } from '../builds/types.js';
import { formatBytes, formatDuration, formatInstance } from '../units.js';
import { escapeHtml, formatTime, renderPage } from './html.js';

/** What the build pages are served from. */
export interface BuildsPagesDeps {
  builds: Builds;
  /** Authentication (access control on): applied to both pages. */
  guard?: RequestHandler;
}

/** Records on one page of `/builds` unless `?limit=` says otherwise. */
export const BUILDS_PAGE_SIZE = 25;
/** The most `?limit=` may ask for (as in the API). */
export const MAX_BUILDS_PAGE_SIZE = 100;

/** The list's filter as the query string gives it. */
export interface BuildsFilter {
  /** Only these statuses; all when empty. */
  status: BuildStatus[];
  /** Only this image name (`shell/git`); all when empty. */
  image: string;
  limit: number;
  /** Continue after this build id. */
  cursor?: string;
}

const STATUS_SET: ReadonlySet<string> = new Set(BUILD_STATUSES);

const queryValue = (value: unknown): string => (typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : '').trim();

/**
 * The filter of `?status=failed,cancelled&image=shell/git&limit=25&cursor=<id>`; empty values
 * (as a submitted form sends them) mean "any", `any` as a status too.
 */
export function parseBuildsFilter(query: Record<string, unknown>): { kind: 'ok'; filter: BuildsFilter } | { kind: 'invalid'; message: string } {
  const statusText = queryValue(query['status']);
  const status: BuildStatus[] = [];
  for (const part of statusText.split(',').map((value) => value.trim())) {
    if (part === '' || part === 'any') continue;
    if (!STATUS_SET.has(part)) return { kind: 'invalid', message: `unknown status ${JSON.stringify(part)}: use one of ${BUILD_STATUSES.join(', ')} (or several, comma-separated)` };
    if (!status.includes(part as BuildStatus)) status.push(part as BuildStatus);
  }
  const limitText = queryValue(query['limit']);
  const limit = limitText === '' ? BUILDS_PAGE_SIZE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BUILDS_PAGE_SIZE) return { kind: 'invalid', message: `limit ${JSON.stringify(limitText)} is not a whole number from 1 to ${MAX_BUILDS_PAGE_SIZE}` };
  const cursor = queryValue(query['cursor']);
  if (cursor !== '' && !BUILD_ID.test(cursor)) return { kind: 'invalid', message: `cursor ${JSON.stringify(cursor)} is not a build id` };
  const filter: BuildsFilter = { status, image: queryValue(query['image']), limit };
  if (cursor !== '') filter.cursor = cursor;
  return { kind: 'ok', filter };
}

/** The `/builds` address of `filter`, on the page after `cursor` when given. */
export function buildsHref(filter: BuildsFilter, cursor?: string): string {
  const params = new URLSearchParams();
  if (filter.status.length > 0) params.set('status', filter.status.join(','));
  if (filter.image !== '') params.set('image', filter.image);
  if (filter.limit !== BUILDS_PAGE_SIZE) params.set('limit', String(filter.limit));
  if (cursor !== undefined) params.set('cursor', cursor);
  const query = params.toString();
  return query === '' ? '/builds' : `/builds?${query}`;
}

const buildHref = (id: string) => `/builds/${encodeURIComponent(id)}`;

/** A status in its colour; `id` names the element (the build page's live status). */
function statusBadge(status: BuildStatus, id?: string): string {
  const idAttribute = id ? ` id="${id}"` : '';
  return `<span${idAttribute} class="status status-${status}" data-status="${status}">${status}</span>`;
}

function buildRow(record: BuildRecord, now: Date): string {
  const duration = formatDuration(totalDuration(record, now)) + (isFinal(record.status) ? '' : ' so far');
  return (
    `<tr data-id="${escapeHtml(record.id)}" data-status="${record.status}" data-final="${isFinal(record.status)}">` +
    `<td>${statusBadge(record.status)}${record.error ? ` <code class="fail">${escapeHtml(record.error.code)}</code>` : ''}</td>` +
    `<td><a href="${buildHref(record.id)}" title="${escapeHtml(`packages: ${record.packages.join(' ')}`)}"><code>${escapeHtml(`${record.image}:${record.tag}`)}</code></a></td>` +
    `<td>${escapeHtml(record.arch)}</td><td>${escapeHtml(record.trigger)}</td><td>${formatTime(record.createdAt)}</td>` +
    `<td class="num">${duration}</td><td><a href="${buildHref(record.id)}">details</a></td></tr>`
  );
}

/**
 * The table of `records` (`#builds`, a row per record with `data-id` and `data-status`; the
 * error code of a failed build beside its status, the packages in the image link's title), or
 * `empty` when there are none.
 */
export function renderBuildsTable(records: readonly BuildRecord[], now: Date, empty: string): string {
  if (records.length === 0) return `<p class="muted" id="builds-empty">${escapeHtml(empty)}</p>`;
  return (
    '<table id="builds"><thead><tr><th>status</th><th>image</th><th>arch</th><th>trigger</th><th>created</th><th class="num">took</th><th></th></tr></thead>' +
    `<tbody>${records.map((record) => buildRow(record, now)).join('')}</tbody></table>`
  );
}

function filterForm(filter: BuildsFilter): string {
  const selected = (value: string) => (filter.status.join(',') === value ? ' selected' : '');
  const options = [`<option value=""${selected('')}>any</option>`, ...BUILD_STATUSES.map((status) => `<option value="${status}"${selected(status)}>${status}</option>`)];
  if (filter.status.length > 1) options.push(`<option value="${filter.status.join(',')}" selected>${filter.status.join(', ')}</option>`);
  const limit = filter.limit === BUILDS_PAGE_SIZE ? '' : `<input type="hidden" name="limit" value="${filter.limit}">`;
  return (
    '<form class="filter" id="filter" method="get" action="/builds">' +
    `<label>status<select name="status" id="filter-status">${options.join('')}</select></label>` +
    `<label>image<input type="text" name="image" id="filter-image" value="${escapeHtml(filter.image)}" placeholder="shell/git" spellcheck="false"></label>` +
    `${limit}<button type="submit" id="filter-submit">Filter</button>` +
    (filter.status.length > 0 || filter.image !== '' ? ' <a href="/builds" id="filter-clear">clear</a>' : '') +
    '</form>'
  );
}

// Refreshes the list (#builds-list, fetched again from this very address) every few seconds
// while a build on it is in progress.
const LIST_SCRIPT = `(() => {
  const running = () => document.querySelector('#builds tr[data-final="false"]') !== null;
  const refresh = async () => {
    if (!running()) return;
    try {
      const response = await fetch(location.href, { headers: { Accept: 'text/html' } });
      if (response.ok) {
        const next = new DOMParser().parseFromString(await response.text(), 'text/html').getElementById('builds-list');
        const current = document.getElementById('builds-list');
        if (next && current) current.replaceWith(next);
      }
    } catch (error) {
      console.warn('nixyard: could not refresh the builds', error);
    }
    setTimeout(refresh, 3000);
  };
  setTimeout(refresh, 3000);
})();`;

/** The `/builds` page: filter form, one page of records, the link to older ones. */
export function renderBuildsPage(input: { page: BuildPage; filter: BuildsFilter; now: Date }): string {
  const { page, filter, now } = input;
  const filtered = filter.status.length > 0 || filter.image !== '';
  const empty = filter.cursor ? 'No older builds.' : filtered ? 'No builds match this filter.' : 'No builds yet: pull an image or POST /v1/builds to start one.';
  const links = [
    filter.cursor ? `<a href="${escapeHtml(buildsHref(filter))}" id="newest">newest</a>` : '',
    page.next ? `<a href="${escapeHtml(buildsHref(filter, page.next))}" id="older" rel="next">older</a>` : '',
  ].filter((link) => link !== '');
  const body =
    `<h1>Builds</h1>${filterForm(filter)}` +
    `<section id="builds-list">${renderBuildsTable(page.builds, now, empty)}` +
    (links.length > 0 ? `<nav class="pages">${links.join('')}</nav>` : '') +
    '</section>' +
    '<p class="muted">The same records as JSON: <a href="/v1/builds"><code>/v1/builds</code></a> (see <a href="/v1/openapi.json">the API</a>).</p>';
  return renderPage({ title: 'builds', body, script: LIST_SCRIPT });
}

function summary(record: BuildRecord, now: Date): string {
  const row = (name: string, value: string) => `<dt>${name}</dt><dd>${value}</dd>`;
  const finished = record.finishedAt ? formatTime(record.finishedAt) : '<span class="muted">not yet</span>';
  const took = formatDuration(totalDuration(record, now)) + (isFinal(record.status) ? '' : ' so far');
  const error = record.error ? `<div class="error" id="error" data-code="${escapeHtml(record.error.code)}"><code>${escapeHtml(record.error.code)}</code> ${escapeHtml(record.error.message)}</div>` : '';
  return (
    '<section id="summary"><dl class="summary">' +
    row('status', statusBadge(record.status, 'status')) +
    row('image', `<code id="image">${escapeHtml(`${record.image}:${record.tag}`)}</code>`) +
    row('packages', record.packages.map((name) => `<code>${escapeHtml(name)}</code>`).join(' ')) +
    row('arch', escapeHtml(record.arch)) +
    row('revision', `<code>${escapeHtml(record.revision)}</code>`) +
    row('trigger', escapeHtml(record.trigger) + (record.retryOf ? ` (retry of <a href="${buildHref(record.retryOf)}">${escapeHtml(record.retryOf)}</a>)` : '')) +
    row('attempts', String(record.attempts)) +
    row('created', formatTime(record.createdAt)) +
    row('finished', finished) +
    row('took', `<span id="took">${took}</span>`) +
    row('instance', escapeHtml(formatInstance(record.instance))) +
    `</dl>${error}</section>`
  );
}

function phasesTable(record: BuildRecord, now: Date): string {
  const durations = phaseDurations(record, now);
  const rows = record.phases.map((phase, i) => {
    const current = i === record.phases.length - 1;
    const duration = isFinal(phase.status) ? '' : formatDuration(durations[phase.status] ?? 0) + (current ? ' so far' : '');
    return `<tr data-phase="${phase.status}"><td>${statusBadge(phase.status)}</td><td>${formatTime(phase.at)}</td><td class="num">${duration}</td></tr>`;
  });
  return `<section id="phases"><h2>Phases</h2><table id="phases-table"><thead><tr><th>phase</th><th>started</th><th class="num">took</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function layersTable(record: BuildRecord): string {
  const manifest = record.manifestDigest ? `<p>Manifest <code id="manifest-digest">${escapeHtml(record.manifestDigest)}</code></p>` : '';
  if (record.layers.length === 0) {
    const why = isFinal(record.status) ? 'This build made no layers.' : 'Layers appear once the build has succeeded.';
    return `<section id="layers"><h2>Layers</h2><p class="muted" id="layers-empty">${why}</p>${manifest}</section>`;
  }
  const rows = record.layers.map(
    (layer, i) => `<tr data-digest="${escapeHtml(layer.digest)}"><td class="num">${i + 1}</td><td><code>${escapeHtml(layer.digest)}</code></td><td class="num" data-bytes="${layer.size}">${formatBytes(layer.size)}</td></tr>`,
  );
  const total = record.layers.reduce((sum, layer) => sum + layer.size, 0);
  return (
    '<section id="layers"><h2>Layers</h2><table id="layers-table"><thead><tr><th class="num">#</th><th>digest</th><th class="num">size</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody><tfoot><tr><th></th><th>total (${record.layers.length} ${record.layers.length === 1 ? 'layer' : 'layers'}, compressed)</th><th class="num" id="layers-total" data-bytes="${total}">${formatBytes(total)}</th></tr></tfoot></table>${manifest}</section>`
  );
}

/** What an artifact's type is, for people. */
const ARTIFACT_NAMES: Record<string, string> = { 'application/spdx+json': 'SBOM (SPDX 2.3)', 'application/vnd.cyclonedx+json': 'SBOM (CycloneDX 1.6)', 'application/vnd.in-toto+json': 'Provenance (SLSA v1, in-toto)' };

/** Links to the documents attached to the image (its SBOMs), served through the image's name. */
function artifactsList(record: BuildRecord): string {
  const artifacts = record.artifacts ?? [];
  // Empty, not absent, until there are some: the page's script swaps it in when the build ends.
  if (artifacts.length === 0) return '<section id="artifacts"></section>';
  const items = artifacts.map((artifact) => {
    const href = `/v2/${record.image}/blobs/${artifact.content}`;
    return `<li data-artifact-type="${escapeHtml(artifact.artifactType)}"><a href="${escapeHtml(href)}">${escapeHtml(ARTIFACT_NAMES[artifact.artifactType] ?? artifact.artifactType)}</a> <code>${escapeHtml(artifact.content)}</code></li>`;
  });
  const referrers = record.manifestDigest ? `<p class="muted">All of them: <a href="${escapeHtml(`/v2/${record.image}/referrers/${record.manifestDigest}`)}">referrers of the manifest</a></p>` : '';
  return `<section id="artifacts"><h2>SBOMs and provenance</h2><ul id="artifacts-list">${items.join('')}</ul>${referrers}</section>`;
}

// Follows the log (GET /v1/builds/:id/logs?follow=1, streamed until the build ends) and polls
// the record every second, fetching this page again to swap in summary, phases, layers and SBOMs when
// the record changed; both stop once the build has ended. The log's data-state: `complete`
// (rendered after the build ended), `snapshot` (rendered while it ran), `following`,
// `followed` (the stream ended with the build) or `error`.
const BUILD_SCRIPT = `(() => {
  const build = document.getElementById('build');
  const log = document.getElementById('log');
  const id = build.dataset.id;
  const api = '/v1/builds/' + encodeURIComponent(id);
  const FINAL = ['succeeded', 'failed', 'cancelled'];
  if (FINAL.includes(build.dataset.status)) return;

  const append = (text) => {
    if (text === '') return;
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(text);
    if (atEnd) log.scrollTop = log.scrollHeight;
  };
  const follow = async () => {
    try {
      const response = await fetch(api + '/logs?follow=1');
      if (!response.ok || !response.body) throw new Error('HTTP ' + response.status);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      log.textContent = '';
      log.dataset.state = 'following';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        append(decoder.decode(value, { stream: true }));
      }
      append(decoder.decode());
      log.dataset.state = 'followed';
    } catch (error) {
      log.dataset.state = 'error';
      append('\\n[the log stopped following: ' + error.message + '; reload the page]\\n');
    }
  };

  let updated = build.dataset.updated;
  const refresh = async () => {
    const response = await fetch(location.pathname, { headers: { Accept: 'text/html' } });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    for (const part of ['summary', 'phases', 'layers', 'artifacts']) {
      const next = page.getElementById(part);
      const current = document.getElementById(part);
      if (next && current) current.replaceWith(next);
    }
  };
  const poll = async () => {
    try {
      const response = await fetch(api, { headers: { Accept: 'application/json' } });
      if (response.ok) {
        const record = await response.json();
        const status = document.getElementById('status');
        status.textContent = record.status;
        status.className = 'status status-' + record.status;
        status.dataset.status = record.status;
        if (record.updatedAt !== updated) {
          updated = record.updatedAt;
          await refresh();
        }
        build.dataset.status = record.status;
        if (FINAL.includes(record.status)) return;
      }
    } catch (error) {
      console.warn('nixyard: could not poll the build', error);
    }
    setTimeout(poll, 1000);
  };
  follow();
  setTimeout(poll, 1000);
})();`;

/** The `/builds/:id` page of `record` with its log so far (`host`: how the visitor reached us, for the pull command). */
export function renderBuildPage(input: { record: BuildRecord; log: LogSnapshot | undefined; now: Date; host?: string }): string {
  const { record, log, now, host } = input;
  const final = isFinal(record.status);
  const pull =
    record.status === 'succeeded' && host ? `<pre id="pull">docker pull ${escapeHtml(`${host}/${record.image}:${record.tag}`)}</pre>` : '';
  const logText = log?.text ?? '';
  const body =
    `<article id="build" data-id="${escapeHtml(record.id)}" data-status="${record.status}" data-updated="${escapeHtml(record.updatedAt)}">` +
    `<h1>Build <code>${escapeHtml(record.id)}</code></h1>` +
    summary(record, now) +
    pull +
    sourceSection(record) +
    deliverySection(record) +
    phasesTable(record, now) +
    layersTable(record) +
    artifactsList(record) +
    `<section id="log-section"><h2>Log</h2><pre class="log" id="log" data-state="${final ? 'complete' : 'snapshot'}">${escapeHtml(logText)}</pre>` +
    `<p class="muted">Raw: <a href="/v1/builds/${encodeURIComponent(record.id)}/logs">log</a>, <a href="/v1/builds/${encodeURIComponent(record.id)}">record (JSON)</a>. <a href="/builds">All builds</a>.</p></section>` +
    '</article>';
  return renderPage({ title: `build ${record.image}:${record.tag}`, body, script: BUILD_SCRIPT });
}

/** A build from application source: its repository and commit, and the plan (phases, start command). */
function sourceSection(record: BuildRecord): string {
  if (!record.source) return '';
  const { repo, ref, commit, dir } = record.source;
  const where = `<p id="source">From <code>${escapeHtml(repo)}</code> ${ref ? `<code>${escapeHtml(ref)}</code>` : '(default branch)'}${commit ? ` at <code>${escapeHtml(commit)}</code>` : ''}${dir ? `, directory <code>${escapeHtml(dir)}</code>` : ''}.</p>`;
  const plan = record.plan
    ? `<table id="plan"><caption>${escapeHtml(record.plan.planner)}, provider ${escapeHtml(record.plan.provider ?? 'none')}</caption><tbody>` +
      record.plan.phases.map((phase) => `<tr><th>${escapeHtml(phase.name)}</th><td><code>${escapeHtml(phase.cmds.join(' && '))}</code></td></tr>`).join('') +
      `<tr><th>start</th><td><code>${escapeHtml(record.plan.start)}</code></td></tr></tbody></table>`
    : '';
  return `<section id="source-section"><h2>Source</h2>${where}${plan}</section>`;
}

/** Where the image went: its tags, its pushes to other registries, its callback's deliveries. */
function deliverySection(record: BuildRecord): string {
  const tags = record.tags && record.tags.length > 0 ? `<p id="tags">Tagged ${record.tags.map((tag) => `<code>${escapeHtml(`${record.image}:${tag}`)}</code>`).join(', ')}.</p>` : '';
  const pushes = (record.pushes ?? []).map(
    (push) =>
      `<tr data-status="${push.status}"><td><code>${escapeHtml(push.to)}</code></td><td class="${push.status === 'failed' ? 'fail' : push.status === 'pushed' ? 'ok' : ''}">${push.status}</td>` +
      `<td>${push.references.map((reference) => `<code>${escapeHtml(reference)}</code>`).join('<br>')}${push.error ? `<br><span class="fail">${escapeHtml(push.error)}</span>` : ''}</td>` +
      `<td class="num">${push.bytesUploaded === null ? '' : `${formatBytes(push.bytesUploaded)}, ${push.layersUploaded ?? 0} layers`}</td></tr>`,
  );
  const pushTable = pushes.length > 0 ? `<table id="pushes"><thead><tr><th>push to</th><th>status</th><th>references</th><th class="num">sent</th></tr></thead><tbody>${pushes.join('')}</tbody></table>` : '';
  const callback = record.callback
    ? `<p id="callback">Callback to <code>${escapeHtml(record.callback.url)}</code>: ${
        record.callback.deliveries.map((delivery) => `${delivery.status} ${delivery.delivered ? 'delivered' : 'not delivered'}${delivery.lastResult ? ` (${escapeHtml(delivery.lastResult)})` : ''}`).join('; ') || 'nothing sent yet'
      }.</p>`
    : '';
  if (tags + pushTable + callback === '') return '';
  return `<section id="delivery-section"><h2>Delivery</h2>${tags}${pushTable}${callback}</section>`;
}

/** The page for an id no build has. */
export function renderBuildNotFoundPage(id: string): string {
  return renderPage({
    title: 'build not found',
    body: `<h1>Build not found</h1><p id="not-found">No build has the id <code>${escapeHtml(id)}</code>. It may have been mistyped, or its record deleted.</p><p><a href="/builds">All builds</a></p>`,
  });
}

/** A page saying what was wrong with the request. */
export function renderBadRequestPage(message: string): string {
  return renderPage({ title: 'bad request', body: `<h1>Bad request</h1><p class="error" id="bad-request">${escapeHtml(message)}</p><p><a href="/builds">All builds</a></p>` });
}

function sendPage(res: Response, status: number, html: string): void {
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}

/** Router serving `GET /builds` and `GET /builds/:id`. */
export function buildsPagesRouter(deps: BuildsPagesDeps): Router {
  const router = Router();
  const guard: RequestHandler = deps.guard ?? ((_req, _res, next) => next());

  router.get('/builds', guard, async (req, res) => {
    const parsed = parseBuildsFilter(req.query);
    if (parsed.kind === 'invalid') return sendPage(res, 400, renderBadRequestPage(parsed.message));
    const { filter } = parsed;
    let page: BuildPage;
    try {
      page = await deps.builds.list({
        limit: filter.limit,
        ...(filter.status.length > 0 ? { status: filter.status } : {}),
        ...(filter.image !== '' ? { image: filter.image } : {}),
        ...(filter.cursor ? { cursor: filter.cursor } : {}),
      });
    } catch (error) {
      // A filter the records cannot take (an invalid image name): say so on a page.
      if (error instanceof RegistryError && error.status === 400) return sendPage(res, 400, renderBadRequestPage(error.message));
      throw error;
    }
    sendPage(res, 200, renderBuildsPage({ page: { ...page, builds: page.builds.filter((build) => maySee(res, build.image)) }, filter, now: new Date() }));
  });

  router.get<'/builds/:id'>('/builds/:id', guard, async (req, res) => {
    const id = req.params.id;
    const record = BUILD_ID.test(id) ? await deps.builds.get(id) : undefined;
    if (!record || !maySee(res, record.image)) return sendPage(res, 404, renderBuildNotFoundPage(id));
    const log = await deps.builds.log(id);
    sendPage(res, 200, renderBuildPage({ record, log, now: new Date(), host: req.headers.host ?? 'localhost:8080' }));
  });

  return router;
}
