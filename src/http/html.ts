/**
 * What every HTML page of nixyard shares: escaping, the page shell (head, stylesheet, header
 * with the navigation) and the formatting of times, durations and sizes. Pages are rendered on
 * the server from data by pure functions; no external assets, no build step.
 */
import { formatTime as formatUtcTime } from '../units.js';

/** `text` safe to place in HTML text and in double- or single-quoted attributes. */
export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);

/** The stylesheet of every page (statuses get `.status-<status>` colours). */
export const PAGE_CSS = `body{font-family:system-ui,sans-serif;max-width:64rem;margin:0 auto;padding:0 1rem 2rem;color:#222;background:#fff}
header{display:flex;gap:1.25rem;align-items:baseline;border-bottom:1px solid #ddd;padding:.75rem 0;margin-bottom:1rem}
header .brand{font-weight:700;font-size:1.2rem;color:#222;text-decoration:none}
a{color:#0b57a4}pre,code{background:#f4f4f4;border-radius:3px}pre{padding:.75rem;overflow:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0 1rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1rem}dl.summary dt{color:#555}dl.summary dd{margin:0}
form.filter{display:flex;gap:.75rem;align-items:end;flex-wrap:wrap;margin:.5rem 0}form.filter label{display:flex;flex-direction:column;font-size:.85rem;color:#555}
pre.log{max-height:32rem;white-space:pre-wrap;word-break:break-all;font-size:.85rem}
.status{font-weight:600}.ok,.status-succeeded{color:#17702b}.fail,.status-failed{color:#b00020}.status-cancelled{color:#8a5a00}
.status-queued,.status-fetching,.status-planning,.status-evaluating,.status-building,.status-installing,.status-compiling,.status-packing,.status-uploading,.status-pushing{color:#0b57a4}
.muted{color:#777}.error{background:#fdecee;border-left:4px solid #b00020;padding:.5rem .75rem}
nav.pages{display:flex;gap:1rem}`;

/** What a page is made of. */
export interface PageContent {
  /** The `<title>` (after "nixyard — "). */
  title: string;
  /** HTML of the `<main>` element (already escaped). */
  body: string;
  /** Inline script run at the end of the body (no `</script>` inside). */
  script?: string;
}

/** A complete HTML document in the shared layout. */
export function renderPage(content: PageContent): string {
  const script = content.script ? `\n<script>\n${content.script}\n</script>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(content.title === '' ? 'nixyard' : `nixyard — ${content.title}`)}</title><link rel="icon" href="data:,">
<style>${PAGE_CSS}</style></head>
<body><header><a class="brand" href="/">nixyard</a><a href="/builds" id="nav-builds">Builds</a><a href="/apps" id="nav-apps">Apps</a></header>
<main>
${content.body}
</main>${script}
</body></html>`;
}

/** A time as `2026-11-22 10:15:00 UTC` in a `<time>` element carrying the ISO value. */
export function formatTime(iso: string): string {
  const shown = formatUtcTime(iso);
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(shown === iso ? iso : `${shown} UTC`)}</time>`;
}
