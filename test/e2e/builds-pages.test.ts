// The build pages in a real browser: Debian's chromium (headless, driven by playwright-core)
// against a demo server with real Nix. A build started through the API is watched live on its
// page (log streamed to the end, status and phases updated by the page's script), on the list
// (rows refreshed while it runs), filtered through the list's form, paged, reached from the
// index page; a screenshot is checked to be a real, non-blank PNG of the viewport. With access
// control on, the pages (and the API calls of their scripts) need the user's login.
import { constants } from 'node:fs';
import { access, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../src/builds/record.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { requireDemoBuildTools } from '../helpers/tools.js';

const CHROMIUM = '/usr/bin/chromium';
const VIEWPORT = { width: 1280, height: 900 };
/** Bound of every wait on the page (a demo build takes seconds; evaluation the first time longer). */
const WAIT_MS = 120_000;
/** The demo package that prints `ticker-demo: step i of N` once a second while it builds. */
const TICKER = 'ticker-demo';
/** Read by the demo set when Nix evaluates ticker-demo: a new value, a new derivation, a real build (startDemoServer sets one per process). */
const DEMO_RUN = 'NIXYARD_DEMO_RUN';

async function requireChromium(): Promise<void> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`${CHROMIUM} not found: install it with apt-get install -y chromium (or run scripts/install-deps.sh)`);
  }
}

/** Width, height and the inflated image data of a PNG; throws when it is not one. */
function readPng(png: Buffer): { width: number; height: number; pixels: Buffer } {
  expect(png.subarray(0, 8).toString('hex'), 'PNG signature').toBe('89504e470d0a1a0a');
  expect(png.toString('latin1', 12, 16), 'first chunk').toBe('IHDR');
  const idat: Buffer[] = [];
  for (let offset = 8; offset < png.length; ) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    if (type === 'IDAT') idat.push(png.subarray(offset + 8, offset + 8 + length));
    if (type === 'IEND') break;
    offset += 12 + length;
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), pixels: inflateSync(Buffer.concat(idat)) };
}

/** How many different byte values the (filtered) image data holds: a handful for a blank page. */
const byteVariety = (pixels: Buffer) => new Set(pixels).size;

describe('build pages in chromium, against a demo server with real Nix', () => {
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  let browser: Browser;
  let page: Page;
  const screenshots: string[] = [];

  async function submit(image: string): Promise<BuildRecord> {
    const response = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ image }) });
    expect(response.status, await response.clone().text()).toBe(202);
    return (await response.json()) as BuildRecord;
  }

  /** Opens the page of build `id` and waits until it shows the build ended in `status`. */
  async function watchUntil(id: string, status: string): Promise<void> {
    await page.goto(`${server.url}/builds/${id}`);
    await page.locator(`#status[data-status="${status}"]`).waitFor({ timeout: WAIT_MS });
  }

  const rowIds = (target: Page) => target.locator('#builds tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')));
  const rowStatuses = (target: Page) => target.locator('#builds tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-status')));

  beforeAll(async () => {
    await requireChromium();
    await requireDemoBuildTools();
    server = await startDemoServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: VIEWPORT });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await Promise.all(screenshots.map((file) => rm(file, { force: true })));
  });

  let ticker: BuildRecord;

  it('the page of a running build streams its log and follows its status and phases to success; the list refreshes its row', async () => {
    ticker = await submit(TICKER);
    const list = await browser.newPage({ viewport: VIEWPORT });
    await list.goto(`${server.url}/builds`);
    const opened = await page.goto(`${server.url}/builds/${ticker.id}`);
    // Rendered while the build ran (ticker-demo takes seconds): the page has a log to follow.
    expect(await opened?.text()).toContain('id="log" data-state="snapshot"');
    // The log element is `followed` only when the page's script read the log stream to its end.
    await page.locator('#log[data-state="followed"]').waitFor({ timeout: WAIT_MS });
    await page.locator('#status[data-status="succeeded"]').waitFor({ timeout: WAIT_MS });
    const log = (await page.locator('#log').textContent()) ?? '';
    const steps = [...log.matchAll(new RegExp(`${TICKER}: step (\\d+) of (\\d+)`, 'g'))].map((match) => `${match[1]}/${match[2]}`);
    expect(steps.length).toBeGreaterThan(1);
    expect(steps).toEqual(steps.map((_, i) => `${i + 1}/${steps.length}`));
    expect(log).toMatch(/\] evaluating/);
    // Streamed into the page, the log is exactly the stored one: nothing lost or repeated.
    expect(log).toBe(await (await fetch(`${server.url}/v1/builds/${ticker.id}/logs`)).text());
    await expect.poll(() => page.locator('#phases-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-phase'))), { timeout: WAIT_MS }).toEqual([
      'queued',
      'evaluating',
      'building',
      'packing',
      'uploading',
      'succeeded',
    ]);
    const building = (await page.locator('#phases-table tr[data-phase="building"] td.num').textContent()) ?? '';
    expect(building).toMatch(/^\d+(\.\d)?(ms|s)$/);
    const layers = await page.locator('#layers-table tbody tr').count();
    expect(layers).toBeGreaterThan(0);
    expect(await page.locator('#layers-table tbody tr code').first().textContent()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await page.locator('#layers-total').textContent()).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);
    expect(await page.locator('#manifest-digest').textContent()).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The SBOMs, swapped in when the build ended, link to documents the browser can open.
    expect(await page.locator('#artifacts-list li a').count()).toBe(2);
    const spdxHref = (await page.locator('#artifacts-list li[data-artifact-type="application/spdx+json"] a').getAttribute('href')) ?? '';
    const spdx = (await (await fetch(new URL(spdxHref, page.url()))).json()) as { spdxVersion: string; packages: { name: string }[] };
    expect(spdx.spdxVersion).toBe('SPDX-2.3');
    expect(spdx.packages.map((pkg) => pkg.name)).toContain('ticker-demo');
    // The list, opened while the build ran, refreshed its row by itself.
    await list.locator(`#builds tr[data-id="${ticker.id}"][data-status="succeeded"]`).waitFor({ timeout: WAIT_MS });
    await list.close();
  });

  it('the list filters by status and image through its form, pages with "older", and links to the build pages', async () => {
    const failing = await submit('failing-demo');
    await watchUntil(failing.id, 'failed');
    expect(await page.locator('#error').getAttribute('data-code')).toBe('NIX_BUILD_FAILED');
    expect(await page.locator('#log').textContent()).toContain('failing-demo: error: this package is meant to fail to build');

    await page.goto(`${server.url}/builds`);
    expect(await rowIds(page)).toEqual(expect.arrayContaining([ticker.id, failing.id]));
    await page.locator('#filter-status').selectOption('failed');
    await Promise.all([page.waitForURL(/\/builds\?status=failed/, { timeout: WAIT_MS }), page.locator('#filter-submit').click()]);
    expect(await rowIds(page)).toEqual([failing.id]);
    expect(await rowStatuses(page)).toEqual(['failed']);

    await page.locator('#filter-status').selectOption('');
    await page.locator('#filter-image').fill(TICKER);
    await Promise.all([page.waitForURL(/image=ticker-demo/, { timeout: WAIT_MS }), page.locator('#filter-submit').click()]);
    expect(await rowIds(page)).toEqual([ticker.id]);

    await page.goto(`${server.url}/builds?limit=1`);
    expect(await rowIds(page)).toEqual([failing.id]);
    await Promise.all([page.waitForURL(/cursor=/, { timeout: WAIT_MS }), page.locator('#older').click()]);
    expect(await rowIds(page)).toEqual([ticker.id]);
    expect(await page.locator('#newest').count()).toBe(1);

    await Promise.all([page.waitForURL(new RegExp(`/builds/${ticker.id}$`), { timeout: WAIT_MS }), page.locator(`#builds tr[data-id="${ticker.id}"] a`).first().click()]);
    expect(await page.locator('#status').getAttribute('data-status')).toBe('succeeded');
    expect(await page.locator('#log').getAttribute('data-state')).toBe('complete');
  });

  it('the index page lists the newest builds and links to the list; an unknown build is a 404 page', async () => {
    await page.goto(`${server.url}/`);
    expect(await rowIds(page)).toEqual(expect.arrayContaining([ticker.id]));
    await Promise.all([page.waitForURL(/\/builds$/, { timeout: WAIT_MS }), page.locator('#builds-link').click()]);
    expect(await page.locator('h1').textContent()).toBe('Builds');

    const response = await page.goto(`${server.url}/builds/20991231T000000000Z-deadbeef`);
    expect(response?.status()).toBe(404);
    expect(await page.locator('#not-found').textContent()).toContain('No build has the id 20991231T000000000Z-deadbeef');
  });

  it('a screenshot of a build page is a PNG of the viewport with more in it than an empty page', async () => {
    const shot = join(tmpdir(), `nixyard-build-page-${process.pid}.png`);
    const blankShot = join(tmpdir(), `nixyard-blank-page-${process.pid}.png`);
    screenshots.push(shot, blankShot);
    await page.goto(`${server.url}/builds/${ticker.id}`);
    await page.screenshot({ path: shot });
    await page.goto('about:blank');
    await page.screenshot({ path: blankShot });

    const built = readPng(await readFile(shot));
    const blank = readPng(await readFile(blankShot));
    expect([built.width, built.height]).toEqual([VIEWPORT.width, VIEWPORT.height]);
    expect([blank.width, blank.height]).toEqual([VIEWPORT.width, VIEWPORT.height]);
    expect(byteVariety(blank.pixels)).toBeLessThan(8);
    expect(byteVariety(built.pixels)).toBeGreaterThan(64);
  });

  it('with access control on, the pages need a login, and with one the page follows a build to its end', async () => {
    const password = 'correct horse battery staple';
    const demoRun = process.env[DEMO_RUN];
    const locked = await startDemoServer({ NIXYARD_AUTH: 'basic', NIXYARD_HTPASSWD: await writeHtpasswd({ alice: password }) });
    const context = await browser.newContext({ viewport: VIEWPORT, httpCredentials: { username: 'alice', password } });
    try {
      // A browser asks for a login on this answer (headless chromium fails the navigation instead).
      const anonymous = await fetch(`${locked.url}/builds`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('WWW-Authenticate')).toMatch(/^Basic /);

      // Nix runs in this process's environment: a new ticker-demo derivation, built while the
      // page's script follows it through the API with the login.
      process.env[DEMO_RUN] = `${demoRun ?? ''}-auth`;
      const authorization = `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`;
      const response = await fetch(`${locked.url}/v1/builds`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: authorization }, body: JSON.stringify({ image: TICKER }) });
      expect(response.status, await response.clone().text()).toBe(202);
      const build = (await response.json()) as BuildRecord;
      expect((await fetch(`${locked.url}/builds/${build.id}`)).status).toBe(401);

      const user = await context.newPage();
      const opened = await user.goto(`${locked.url}/builds/${build.id}`);
      expect(opened?.status()).toBe(200);
      expect(await opened?.text()).toContain('id="log" data-state="snapshot"');
      await user.locator('#log[data-state="followed"]').waitFor({ timeout: WAIT_MS });
      await user.locator('#status[data-status="succeeded"]').waitFor({ timeout: WAIT_MS });
      expect(await user.locator('#log').textContent()).toMatch(new RegExp(`${TICKER}: step 1 of \\d+[^]*\\] succeeded`));
      expect((await user.goto(`${locked.url}/builds`))?.status()).toBe(200);
      expect(await rowIds(user)).toEqual([build.id]);
    } finally {
      if (demoRun === undefined) delete process.env[DEMO_RUN];
      else process.env[DEMO_RUN] = demoRun;
      await context.close();
      await locked.close();
    }
  });
});
