/**
 * `nixyard popcount --channel NAME`: the popularity of a nixpkgs channel's packages, as Nixery's
 * popcount computes it, from what the channel and the binary cache serve (nothing is built):
 *
 *   1. `<channels URL>/<channel>` redirects to the channel's current release; that URL is used
 *      for everything else, so the list and the commit belong to one release even when the
 *      channel moves meanwhile. `<release>/git-revision` names its nixpkgs commit.
 *   2. `<release>/store-paths.xz` (or an uncompressed `<release>/store-paths`) lists every store
 *      path the channel's jobs built; it is decompressed with the system's `xz`, as Nixery does
 *      with `xzcat` (Debian's xz-utils, which nix-bin depends on).
 *   3. For each store path, `<cache URL>/<hash>.narinfo`, `concurrency` at a time; its
 *      `References:` are counted by `popcount.ts`.
 *
 * Fetched narinfos are kept in `cacheDir` (written whole, then renamed into place), so a run that
 * is interrupted resumes without fetching them again. Network errors, 5xx and 429 answers are
 * retried with exponential backoff; a missing narinfo (404) is an error unless `allowMissing`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Popularity } from '../layers/types.js';
import { ChannelDataError, parseNarinfo, parseStorePaths } from './narinfo.js';
import { parseStorePath, PopularityCounter } from './popcount.js';

/** Where channels are published (`<channel>` redirects to its current release). */
export const DEFAULT_CHANNELS_URL = 'https://channels.nixos.org';
/** The binary cache whose narinfo files hold the references. */
export const DEFAULT_CACHE_URL = 'https://cache.nixos.org';
/** Narinfo requests in flight at once (Nixery uses 42 downloaders). */
export const DEFAULT_CONCURRENCY = 32;
/** Attempts after the first for a request that failed on the network, with a 5xx or a 429. */
export const DEFAULT_RETRIES = 4;
/** Wait before the first retry; doubled for each further one. */
export const DEFAULT_RETRY_DELAY_MS = 500;
/** Longest one request may take. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** Least time between two progress lines. */
export const PROGRESS_INTERVAL_MS = 2_000;

/** Settings of a channel popcount. */
export interface ChannelPopcountOptions {
  /** Channel name (`nixos-unstable`, `nixos-24.05`). */
  channel: string;
  channelsUrl?: string;
  cacheUrl?: string;
  /** Directory of fetched narinfos; see {@link defaultNarinfoCacheDir}. */
  cacheDir: string;
  concurrency?: number;
  retries?: number;
  retryDelayMs?: number;
  /** Skip store paths whose narinfo the cache does not have (404) instead of failing. */
  allowMissing?: boolean;
  /** Receives progress lines (the CLI writes them to stderr). */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

/** The outcome of a channel popcount. */
export interface ChannelPopcountResult {
  popularity: Popularity;
  channel: string;
  /** The release the channel pointed to. */
  releaseUrl: string;
  /** Its nixpkgs commit, when the release has a `git-revision`. */
  commit: string | undefined;
  /** Store paths listed by the channel. */
  storePaths: number;
  /** Narinfos fetched from the cache in this run. */
  fetched: number;
  /** Narinfos read from `cacheDir`. */
  cached: number;
  /** Store paths without a narinfo (only with `allowMissing`). */
  missing: string[];
}

/** A channel or a cache that cannot be reached or does not have what popcount needs. */
export class PopcountError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PopcountError';
  }
}

/** `$XDG_CACHE_HOME/nixyard/narinfo/<cache host>` (`~/.cache` without XDG_CACHE_HOME). */
export function defaultNarinfoCacheDir(cacheUrl: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  const slug = cacheUrl.replace(/^[a-z]+:\/\//i, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '');
  return join(base, 'nixyard', 'narinfo', slug || 'cache');
}

/** Computes the popularity of `options.channel`; throws `PopcountError` or `ChannelDataError`. */
export async function popcountChannel(options: ChannelPopcountOptions): Promise<ChannelPopcountResult> {
  const { channel } = options;
  if (!/^[A-Za-z0-9._-]+$/.test(channel)) throw new PopcountError(`--channel ${JSON.stringify(channel)} is not a channel name (nixos-unstable, nixos-24.05)`);
  const progress = options.onProgress ?? (() => {});
  const http = new Http(options);
  const channelsUrl = trimSlash(options.channelsUrl ?? DEFAULT_CHANNELS_URL);
  const cacheUrl = trimSlash(options.cacheUrl ?? DEFAULT_CACHE_URL);

  const releaseUrl = await resolveRelease(http, `${channelsUrl}/${channel}`, channel);
  const revision = await http.get(`${releaseUrl}git-revision`);
  const commit = revision.status === 200 ? revision.body.toString('utf8').trim() : undefined;
  progress(`channel ${channel} is ${releaseUrl}${commit ? ` (nixpkgs ${commit})` : ' (no git-revision)'}`);

  const storePaths = await downloadStorePaths(http, releaseUrl);
  progress(`${storePaths.length} store paths; narinfos from ${cacheUrl}, cached in ${options.cacheDir}`);
  await mkdir(options.cacheDir, { recursive: true });

  const counter = new PopularityCounter();
  const missing: string[] = [];
  let fetched = 0;
  let cached = 0;
  let lastProgress = Date.now();
  const report = (force: boolean) => {
    if (!force && Date.now() - lastProgress < PROGRESS_INTERVAL_MS) return;
    lastProgress = Date.now();
    progress(`${fetched + cached + missing.length}/${storePaths.length} narinfos (${cached} cached, ${fetched} fetched${missing.length ? `, ${missing.length} missing` : ''})`);
  };

  await forEachLimit(storePaths, options.concurrency ?? DEFAULT_CONCURRENCY, options.signal, async (path) => {
    const { hash } = parseStorePath(path);
    const file = join(options.cacheDir, `${hash}.narinfo`);
    const stored = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new PopcountError(`cannot read the cached narinfo ${file}: ${error.message}`, { cause: error });
    });
    if (stored !== undefined) {
      counter.add(parseNarinfo(stored, `cached narinfo ${file} (delete it to fetch it again)`, path).references);
      cached += 1;
    } else {
      const url = `${cacheUrl}/${hash}.narinfo`;
      const response = await http.get(url);
      if (response.status === 404 && options.allowMissing) {
        missing.push(path);
      } else if (response.status !== 200) {
        const hint = response.status === 404 ? ' (the binary cache does not have this path; --allow-missing skips such paths)' : '';
        throw new PopcountError(`no narinfo for ${path}: ${url} answered ${response.status}${hint}`);
      } else {
        const text = response.body.toString('utf8');
        counter.add(parseNarinfo(text, url, path).references);
        await writeWhole(file, text);
        fetched += 1;
      }
    }
    report(false);
  });
  report(true);
  return { popularity: counter.popularity(), channel, releaseUrl, commit, storePaths: storePaths.length, fetched, cached, missing };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The channel's release URL (with a trailing slash): where `<channel>` redirects, else itself. */
async function resolveRelease(http: Http, url: string, channel: string): Promise<string> {
  const response = await http.get(url, 'manual');
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location) return new URL(location, url).href.replace(/\/*$/, '/');
  if (response.status === 200) return `${url}/`;
  throw new PopcountError(`no channel ${JSON.stringify(channel)}: ${url} answered ${response.status}${response.status === 404 ? ' (check the name and --channels-url)' : ''}`);
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

async function downloadStorePaths(http: Http, releaseUrl: string): Promise<string[]> {
  let url = `${releaseUrl}store-paths.xz`;
  let response = await http.get(url);
  if (response.status === 404) {
    url = `${releaseUrl}store-paths`;
    response = await http.get(url);
  }
  if (response.status !== 200) {
    throw new PopcountError(`the channel release ${releaseUrl} has no list of store paths: ${releaseUrl}store-paths.xz and ${url} answered ${response.status}`);
  }
  const text = response.body.subarray(0, XZ_MAGIC.length).equals(XZ_MAGIC) ? await unxz(response.body, url) : response.body.toString('utf8');
  return parseStorePaths(text, url);
}

/** Decompresses xz data with the system's `xz` (as Nixery uses `xzcat`). */
export async function unxz(data: Buffer, origin: string): Promise<string> {
  const result = await (await import('execa')).execa('xz', ['--decompress', '--stdout'], { input: data, reject: false, maxBuffer: 1024 * 1024 * 1024, timeout: 300_000 });
  if (result.exitCode === 0) return result.stdout;
  if (result.exitCode === undefined && /ENOENT/.test(String(result.message))) throw new PopcountError('xz not found on PATH: install xz-utils (apt-get install -y xz-utils)');
  throw new ChannelDataError(`${origin} is not valid xz data: ${result.stderr.trim() || result.message}`);
}

async function writeWhole(file: string, text: string): Promise<void> {
  const staging = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(staging, text);
    await rename(staging, file);
  } catch (error) {
    await rm(staging, { force: true });
    throw new PopcountError(`cannot write the narinfo cache file ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; stops starting new ones at the first failure. */
async function forEachLimit<T>(items: readonly T[], limit: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new PopcountError(`--concurrency ${limit} is not allowed: expected a positive integer`);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      if (signal?.aborted) {
        failure ??= { error: signal.reason };
        return;
      }
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, Math.max(1, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}

interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** GET with a timeout and retries (network errors, 5xx, 429) with exponential backoff. */
class Http {
  private readonly retries: number;
  private readonly delayMs: number;

  constructor(private readonly options: { retries?: number; retryDelayMs?: number; signal?: AbortSignal }) {
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.delayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  }

  async get(url: string, redirect: 'follow' | 'manual' = 'follow'): Promise<HttpAnswer> {
    let problem = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.delayMs * 2 ** (attempt - 1), this.options.signal);
      try {
        const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(this.options.signal ? [this.options.signal] : [])];
        const response = await fetch(url, { redirect, signal: AbortSignal.any(signals) });
        const body = Buffer.from(await response.arrayBuffer());
        if (response.status < 500 && response.status !== 429) return { status: response.status, headers: response.headers, body };
        problem = `answered ${response.status}`;
      } catch (error) {
        if (this.options.signal?.aborted) throw this.options.signal.reason;
        problem = describeFetchError(error);
      }
    }
    const attempts = this.retries + 1;
    throw new PopcountError(`could not fetch ${url} (${attempts} attempt${attempts === 1 ? '' : 's'}): ${problem}`);
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  if (error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  return cause ? `${error.message}: ${cause.code ?? cause.message}` : error.message;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done, fail) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      fail(signal.reason);
    }, { once: true });
  });
}
