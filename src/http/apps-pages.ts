/**
 * `GET /apps`: the connected repositories, each with the latest build of every branch and tag
 * pushed (status, tag, commit, when). Rendered on the server by the pure {@link renderAppsPage}.
 */
import { Router, type RequestHandler } from 'express';
import { maySee } from './client.js';
import type { AppView } from '../apps/app.js';
import type { BuildRecord } from '../builds/record.js';
import { mapLimit } from '../concurrency.js';
import { escapeHtml, formatTime, renderPage } from './html.js';

/** An app and the records of its latest builds (by build id; missing when a record is gone). */
export interface AppWithBuilds {
  app: AppView;
  records: ReadonlyMap<string, BuildRecord>;
}

function appSection({ app, records }: AppWithBuilds): string {
  const watched = app.branches.length > 0 ? app.branches.join(', ') : `the default branch${app.defaultBranch ? ` (${app.defaultBranch})` : ''}`;
  const rows = app.builds.map((ref) => {
    const record = records.get(ref.build);
    const status = record?.status ?? 'unknown';
    const name = ref.ref.replace(/^refs\/(heads|tags)\//, '');
    return (
      `<tr data-ref="${escapeHtml(ref.ref)}" data-status="${status}"><td><code>${escapeHtml(name)}</code></td>` +
      `<td><span class="status status-${status}">${status}</span>${record?.error ? ` <code class="fail">${escapeHtml(record.error.code)}</code>` : ''}</td>` +
      `<td><a href="/builds/${encodeURIComponent(ref.build)}"><code>${escapeHtml(`${app.image}:${ref.tag}`)}</code></a></td>` +
      `<td><code>${escapeHtml(ref.commit.slice(0, 12))}</code></td><td>${formatTime(ref.at)}</td></tr>`
    );
  });
  const table = rows.length > 0 ? `<table class="app-builds"><thead><tr><th>branch or tag</th><th>status</th><th>image</th><th>commit</th><th>pushed</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : '<p class="muted">No push built yet.</p>';
  return (
    `<section class="app" id="${escapeHtml(app.id)}"><h2><code>${escapeHtml(app.image)}</code></h2>` +
    `<dl class="summary"><dt>repository</dt><dd><code>${escapeHtml(app.repo)}</code>${app.dir ? ` in <code>${escapeHtml(app.dir)}</code>` : ''}</dd>` +
    `<dt>builds</dt><dd>pushes to ${escapeHtml(watched)}${app.tags ? ', and tags' : ''}</dd>` +
    `<dt>pushes to</dt><dd>${app.push === null ? 'the registry’s defaults' : app.push.length === 0 ? 'nowhere else' : app.push.map((to) => `<code>${escapeHtml(to)}</code>`).join(', ')}</dd>` +
    `<dt>webhook</dt><dd><code>POST ${escapeHtml(app.webhookUrl)}</code> (id <code>${escapeHtml(app.id)}</code>)</dd></dl>` +
    `${table}</section>`
  );
}

/** The `/apps` page. */
export function renderAppsPage(apps: readonly AppWithBuilds[]): string {
  const body =
    '<h1>Connected apps</h1>' +
    (apps.length === 0
      ? '<p class="muted" id="apps-empty">No app is connected. Connect a repository with <code>nixyard apps connect</code> or <code>POST /v1/apps</code>.</p>'
      : apps.map(appSection).join(''));
  return renderPage({ title: 'apps', body });
}

/** Router serving `GET /apps`. */
export function appsPagesRouter(deps: { apps: { list(): Promise<AppView[]> }; builds: { get(id: string): Promise<BuildRecord | undefined> }; guard?: RequestHandler }): Router {
  const router = Router();
  const guard: RequestHandler = deps.guard ?? ((_req, _res, next) => next());
  router.get('/apps', guard, async (_req, res) => {
    const apps = (await deps.apps.list()).filter((app) => maySee(res, app.image));
    const withBuilds = await mapLimit(apps, 4, async (app) => {
      const records = await mapLimit(app.builds, 8, (ref) => deps.builds.get(ref.build));
      return { app, records: new Map(records.filter((record): record is BuildRecord => record !== undefined).map((record) => [record.id, record])) };
    });
    res.status(200).type('html').set('Cache-Control', 'no-store').send(renderAppsPage(withBuilds));
  });
  return router;
}
