/**
 * `GET /`: what this registry is, how to pull from it (with the host name the visitor used),
 * the package source, and the newest build records (when access control is off) with a link to
 * the build pages.
 */
import { Router } from 'express';
import type { BuildRecord } from '../builds/record.js';
import type { Builds } from '../builds/types.js';
import { renderBuildsTable } from './builds-pages.js';
import { escapeHtml, renderPage } from './html.js';

/** What the index page shows. */
export interface IndexPageDeps {
  sourceDescription: string;
  /** The build records; the newest are listed. */
  builds: Builds;
  /** Example image names for the pull instructions, from the package set (the first is run with bash). */
  examples(): Promise<readonly string[]>;
  /** False when access control is on: recent builds would show which protected images were pulled. */
  showBuilds: boolean;
}

/** How many of the newest builds the index page lists. */
export const INDEX_RECENT_BUILDS = 5;

/** What {@link renderIndexPage} renders: the page's settings, and the newest records when builds are shown. */
export interface IndexPageContent {
  sourceDescription: string;
  examples: readonly string[];
  /** The newest records, newest first; `undefined` when builds are not shown (access control on). */
  recent: readonly BuildRecord[] | undefined;
}

/** Renders the page for a visitor who reached us as `host` (pure: `now` times running builds). */
export function renderIndexPage(content: IndexPageContent, host: string, now: Date): string {
  const pulls = content.examples.map((name) => `docker pull ${host}/${name}`).join('\n');
  const first = content.examples[0] ?? 'shell';
  const run = first.split('/').includes('shell') ? `\ndocker run -it --rm ${host}/${first} bash` : '';
  const two = content.examples.find((name) => name.split('/').length === 2 && !name.startsWith('shell/'));
  const reordered = two?.split('/').reverse().join('/');
  const order = two ? ` Package order does not matter: <code>${escapeHtml(two)}</code> and <code>${escapeHtml(reordered ?? '')}</code> are the same image.` : '';
  const builds =
    content.recent === undefined
      ? '<h2>Builds</h2><p class="muted">This registry requires a login (<code>docker login</code>); its builds are listed on <a href="/builds" id="builds-link">the build pages</a> for logged-in users.</p>'
      : `<h2>Recent builds</h2>${renderBuildsTable(content.recent, now, 'No builds yet.')}
<p><a href="/builds" id="builds-link">All builds</a> · <a href="/builds?status=failed">failed builds</a></p>`;
  const body = `<h1>nixyard</h1>
<p>A container registry that builds images on demand from Nix packages: the image name is the list of packages.
<code>shell</code> adds bash, coreutils, moreutils and nano; <code>arm64</code> selects the architecture; every image gets CA certificates and <code>/etc/services</code>.</p>
<h2>Pull</h2><pre>${escapeHtml(pulls + run)}</pre>
<p>Packages come from <b>${escapeHtml(content.sourceDescription)}</b>.${order}</p>
${builds}`;
  return renderPage({ title: '', body });
}

/** Router serving the index page. */
export function indexPageRouter(deps: IndexPageDeps): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const recent = deps.showBuilds ? (await deps.builds.list({ limit: INDEX_RECENT_BUILDS })).builds : undefined;
    const content = { sourceDescription: deps.sourceDescription, examples: await deps.examples(), recent };
    res.type('html').send(renderIndexPage(content, req.headers.host ?? 'localhost:8080', new Date()));
  });
  return router;
}
