/**
 * `nixyard popcount`: computes popularity data (Nixery's format, `{"name-version": count}`) for
 * layering, from a channel and its binary cache (`--channel`) or offline from a local package set
 * (`--pkgs`). Writes the JSON to stdout or `--out`, progress to stderr.
 */
import { rename, writeFile } from 'node:fs/promises';
import {
  DEFAULT_CACHE_URL,
  DEFAULT_CHANNELS_URL,
  DEFAULT_CONCURRENCY,
  DEFAULT_RETRIES,
  defaultNarinfoCacheDir,
  popcountChannel,
} from '../popularity/channel.js';
import { popcountPackageSet } from '../popularity/pkgs.js';
import { formatPopularity } from '../popularity/popcount.js';
import type { Popularity } from '../layers/types.js';

const USAGE = `usage: nixyard popcount --channel NAME [options] [--out FILE]
       nixyard popcount --pkgs PATH [--args JSON] [--build-timeout S] [--out FILE]

Counts, for every package, how many store paths of a package set refer to it (Nixery's
popcount), and writes {"name-version": count} as JSON (counts of 1 left out).

  --channel NAME        a nixpkgs channel (nixos-unstable): its store-paths.xz and the
                        References of each path's narinfo in the binary cache
    --channels-url URL  where channels are published (default ${DEFAULT_CHANNELS_URL})
    --cache-url URL     the binary cache (default ${DEFAULT_CACHE_URL})
    --cache-dir DIR     fetched narinfos are kept here, so an interrupted run resumes
                        (default $XDG_CACHE_HOME/nixyard/narinfo/<cache host>)
    --concurrency N     narinfo requests at once (default ${DEFAULT_CONCURRENCY})
    --retries N         retries of a failed request, with backoff (default ${DEFAULT_RETRIES})
    --allow-missing     skip store paths the cache has no narinfo for, instead of failing
  --pkgs PATH           a local package set (a directory with default.nix), offline: builds its
                        top-level packages and counts the references in their closure
    --args JSON         arguments for the set's function, e.g. '{"syntheticCount": 20}'
    --build-timeout S   give up on a package whose build takes longer (default: no limit)
  --out FILE            write the JSON to FILE instead of stdout
`;

/** Parsed `nixyard popcount` arguments. */
export type PopcountOptions =
  | { mode: 'help' }
  | {
      mode: 'channel';
      channel: string;
      channelsUrl: string;
      cacheUrl: string;
      cacheDir: string;
      concurrency: number;
      retries: number;
      allowMissing: boolean;
      out: string | undefined;
    }
  | { mode: 'pkgs'; pkgsPath: string; args: Record<string, unknown>; buildTimeoutSeconds: number; out: string | undefined };

/** A command line `nixyard popcount` cannot run; the message says which argument and why. */
export class PopcountUsageError extends Error {
  constructor(problem: string) {
    super(`popcount: ${problem}\n${USAGE}`);
    this.name = 'PopcountUsageError';
  }
}

const VALUE_FLAGS = ['--channel', '--channels-url', '--cache-url', '--cache-dir', '--concurrency', '--retries', '--pkgs', '--args', '--build-timeout', '--out'] as const;
const CHANNEL_ONLY = ['--channels-url', '--cache-url', '--cache-dir', '--concurrency', '--retries', '--allow-missing'];
const PKGS_ONLY = ['--args', '--build-timeout'];

/** Parses the arguments after `popcount`; throws `PopcountUsageError`. `env` gives the default cache directory. */
export function parsePopcountArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): PopcountOptions {
  const values = new Map<string, string>();
  let allowMissing = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    if (flag === '--help' || flag === '-h') return { mode: 'help' };
    if (flag === '--allow-missing') allowMissing = true;
    else if ((VALUE_FLAGS as readonly string[]).includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new PopcountUsageError(`${flag} needs a value`);
      if (values.has(flag)) throw new PopcountUsageError(`${flag} is given twice`);
      values.set(flag, value);
    } else throw new PopcountUsageError(`unknown argument ${JSON.stringify(arg)}`);
  }
  const given = [...values.keys(), ...(allowMissing ? ['--allow-missing'] : [])];
  const channel = values.get('--channel');
  const pkgsPath = values.get('--pkgs');
  if ((channel === undefined) === (pkgsPath === undefined)) throw new PopcountUsageError('give exactly one of --channel NAME and --pkgs PATH');
  const out = values.get('--out');

  if (channel !== undefined) {
    const misplaced = given.filter((flag) => PKGS_ONLY.includes(flag));
    if (misplaced.length > 0) throw new PopcountUsageError(`${misplaced.join(', ')} only apply to --pkgs`);
    if (!/^[A-Za-z0-9._-]+$/.test(channel)) throw new PopcountUsageError(`--channel ${JSON.stringify(channel)} is not a channel name (nixos-unstable, nixos-24.05)`);
    const cacheUrl = httpUrl('--cache-url', values.get('--cache-url') ?? DEFAULT_CACHE_URL);
    return {
      mode: 'channel',
      channel,
      channelsUrl: httpUrl('--channels-url', values.get('--channels-url') ?? DEFAULT_CHANNELS_URL),
      cacheUrl,
      cacheDir: values.get('--cache-dir') ?? defaultNarinfoCacheDir(cacheUrl, env),
      concurrency: integer('--concurrency', values.get('--concurrency'), DEFAULT_CONCURRENCY, 1, 1024),
      retries: integer('--retries', values.get('--retries'), DEFAULT_RETRIES, 0, 20),
      allowMissing,
      out,
    };
  }
  const misplaced = given.filter((flag) => CHANNEL_ONLY.includes(flag));
  if (misplaced.length > 0) throw new PopcountUsageError(`${misplaced.join(', ')} only apply to --channel`);
  return {
    mode: 'pkgs',
    pkgsPath: pkgsPath as string,
    args: jsonObject('--args', values.get('--args')),
    buildTimeoutSeconds: integer('--build-timeout', values.get('--build-timeout'), 0, 0, 7 * 86400),
    out,
  };
}

function httpUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PopcountUsageError(`${flag} ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PopcountUsageError(`${flag} ${JSON.stringify(value)} is not an http(s) URL`);
  return value.replace(/\/+$/, '');
}

function integer(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new PopcountUsageError(`${flag} ${JSON.stringify(raw)} is not allowed: expected an integer from ${min} to ${max}`);
  return value;
}

function jsonObject(flag: string, raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new PopcountUsageError(`${flag} is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PopcountUsageError(`${flag} must be a JSON object, e.g. '{"syntheticCount": 20}'`);
  return value as Record<string, unknown>;
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((done, fail) => stream.write(text, (error) => (error ? fail(error) : done())));
}

/**
 * Runs `nixyard popcount` with the arguments after `popcount`; resolves to the exit code. Throws
 * `PopcountUsageError` for bad arguments and the popcount's own errors when it fails.
 */
export async function runPopcountCommand(argv: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, signal?: AbortSignal): Promise<number> {
  const options = parsePopcountArgs(argv);
  if (options.mode === 'help') {
    await write(stdout, USAGE);
    return 0;
  }
  const onProgress = (line: string) => stderr.write(`popcount: ${line}\n`);
  let popularity: Popularity;
  if (options.mode === 'channel') {
    const result = await popcountChannel({ ...options, onProgress, ...(signal ? { signal } : {}) });
    if (result.missing.length > 0) onProgress(`skipped ${result.missing.length} store paths without a narinfo, e.g. ${result.missing.slice(0, 3).join(', ')}`);
    popularity = result.popularity;
  } else {
    const result = await popcountPackageSet({ ...options, onProgress, ...(signal ? { signal } : {}) });
    popularity = result.popularity;
  }
  const text = formatPopularity(popularity);
  if (options.out === undefined) await write(stdout, text);
  else {
    const staging = `${options.out}.${process.pid}.tmp`;
    await writeFile(staging, text);
    await rename(staging, options.out);
  }
  const count = Object.keys(popularity).length;
  onProgress(`${count} package${count === 1 ? '' : 's'} counted${options.out ? `, written to ${options.out}` : ''}`);
  return 0;
}
