/**
 * `GET /`: what this registry is, how to pull from it (with the host name the visitor used),
 * the package source, and this instance's recent builds and failures.
 */
import { Router } from 'express';
import type { BuildHistory, BuildSummary } from '../build/build-history.js';

/** What the index page shows. */
export interface IndexPageDeps {
  sourceDescription: string;
  history: BuildHistory;
  /** Example image names for the pull instructions. */
  examples: string[];
  /** False when access control is on: recent builds would show which protected images were pulled. */
  showBuilds: boolean;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);

function buildRow(build: BuildSummary): string {
  const outcome =
    build.outcome.status === 'succeeded'
      ? `<td class="ok">succeeded</td><td><code>${escapeHtml(build.outcome.digest.slice(0, 19))}…</code> ${build.outcome.layers} layers</td>`
      : `<td class="fail">${escapeHtml(build.outcome.code)}</td><td>${escapeHtml(build.outcome.message)}</td>`;
  return `<tr><td>${escapeHtml(build.finishedAt.toISOString())}</td><td><code>${escapeHtml(build.packages.join(' '))}</code></td><td>${escapeHtml(build.arch)}</td><td>${(build.durationMs / 1000).toFixed(1)} s</td>${outcome}</tr>`;
}

function table(builds: BuildSummary[], empty: string): string {
  if (builds.length === 0) return `<p class="muted">${empty}</p>`;
  return `<table><tr><th>finished</th><th>packages</th><th>arch</th><th>took</th><th>result</th><th></th></tr>${builds.map(buildRow).join('')}</table>`;
}

/** Renders the page for a visitor who reached us as `host`. */
export function renderIndexPage(deps: IndexPageDeps, host: string): string {
  const pulls = deps.examples.map((name) => `docker pull ${host}/${name}`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nixyard</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
pre,code{background:#f4f4f4;border-radius:3px}pre{padding:.75rem;overflow:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}.ok{color:#17702b}.fail{color:#b00020}.muted{color:#777}</style></head>
<body><h1>nixyard</h1>
<p>A container registry that builds images on demand from Nix packages: the image name is the list of packages.
<code>shell</code> adds bash, coreutils, moreutils and nano; <code>arm64</code> selects the architecture; every image gets CA certificates and <code>/etc/services</code>.</p>
<h2>Pull</h2><pre>${escapeHtml(pulls)}\ndocker run -it --rm ${escapeHtml(host)}/shell/hello bash</pre>
<p>Packages come from <b>${escapeHtml(deps.sourceDescription)}</b>. Package order does not matter: <code>git/htop</code> and <code>htop/git</code> are the same image.</p>
${
    deps.showBuilds
      ? `<h2>Recent builds</h2>${table(deps.history.recent(20), 'No builds on this instance yet.')}
<h2>Recent errors</h2>${table(deps.history.failures(10), 'No failed builds.')}`
      : '<p class="muted">This registry requires a login (<code>docker login</code>); its builds are not listed here.</p>'
  }
</body></html>`;
}

/** Router serving the index page. */
export function indexPageRouter(deps: IndexPageDeps): Router {
  const router = Router();
  router.get('/', (req, res) => {
    res.type('html').send(renderIndexPage(deps, req.headers.host ?? 'localhost:8080'));
  });
  return router;
}
