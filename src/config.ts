/**
 * Configuration from the environment, compatible with Nixery's variables plus `NIXYARD_*` for
 * what is new: one zod schema ({@link ConfigSchema}) reads every variable and turns them into
 * the typed {@link Config}, checking the settings that go together. `loadConfig` is pure: it
 * returns the config or throws one `ConfigError` listing every problem, one line each, naming
 * the variable and what is allowed. Only the entry point exits.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { isValidName } from './image/grammar.js';
import { ARCHITECTURES, type Architecture } from './image/image-name.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './log.js';

/** Nixery's default when no package source is configured. */
export const DEFAULT_CHANNEL = 'nixos-unstable';
/** Attempts per notification when `NIXYARD_NOTIFY_ATTEMPTS` is not set. */
export const DEFAULT_NOTIFY_ATTEMPTS = 6;
/** Attempts of a queued build when `NIXYARD_MAX_ATTEMPTS` is not set. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Seconds before the second attempt of a queued build when `NIXYARD_RETRY_DELAY` is not set. */
export const DEFAULT_RETRY_DELAY_SECONDS = 10;

/** A variable holding an integer from `min` to `max`; `undefined` when unset or empty. */
const integer = (variable: string, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `${variable}=${JSON.stringify(raw)} is not allowed: expected an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return value;
    });

/** A variable holding text, trimmed; `undefined` when unset or empty. */
const text = z
  .string()
  .optional()
  .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw.trim()));

/** Every variable, parsed on its own; the settings that go together are checked in {@link toConfig}. */
const EnvSchema = z.object({
  PORT: integer('PORT', 0, 65535),
  NIXYARD_HOST: text,
  NIXERY_CHANNEL: text,
  NIXERY_PKGS_REPO: text,
  NIXERY_PKGS_PATH: text,
  NIXERY_STORAGE_BACKEND: text,
  STORAGE_PATH: text,
  NIX_TIMEOUT: integer('NIX_TIMEOUT', 1, 86400),
  NIX_POPULARITY_URL: text,
  GCS_BUCKET: text,
  GOOGLE_APPLICATION_CREDENTIALS: text,
  NIXYARD_DATA_DIR: text,
  NIXYARD_LAYER_BUDGET: integer('NIXYARD_LAYER_BUDGET', 2, 125),
  NIXYARD_MANIFEST_CACHE_SIZE: integer('NIXYARD_MANIFEST_CACHE_SIZE', 1, 1_000_000),
  NIXYARD_DEFAULT_ARCH: text,
  NIXYARD_ARCHITECTURES: text,
  NIXYARD_SOURCE_TTL: integer('NIXYARD_SOURCE_TTL', 0, 86400),
  NIXYARD_CHANNEL_TTL: integer('NIXYARD_CHANNEL_TTL', 0, 86400),
  NIXYARD_CHANNELS_URL: text,
  NIXYARD_TARBALLS_URL: text,
  NIXYARD_DEMO_SYNTHETIC: integer('NIXYARD_DEMO_SYNTHETIC', 0, 100_000),
  NIXYARD_GCS_ENDPOINT: text,
  STORAGE_EMULATOR_HOST: text,
  NIXYARD_GCS_PUBLIC_URL: text,
  NIXYARD_SIGNED_URL_TTL: integer('NIXYARD_SIGNED_URL_TTL', 1, 7 * 24 * 3600),
  NIXYARD_TLS_CERT: text,
  NIXYARD_TLS_KEY: text,
  NIXYARD_TLS_SELF_SIGNED: text,
  NIXYARD_TLS_HOSTNAMES: text,
  NIXYARD_HTPASSWD: text,
  NIXYARD_AUTH: text,
  NIXYARD_AUTH_PREFIXES: text,
  NIXYARD_ACCESS_FILE: text,
  NIXYARD_TOKEN_TTL: integer('NIXYARD_TOKEN_TTL', 60, 86400),
  NIXYARD_TOKEN_KEY: text,
  NIXYARD_REALM: text,
  NIXYARD_MAX_BUILDS_PER_CLIENT: integer('NIXYARD_MAX_BUILDS_PER_CLIENT', 0, 10_000),
  NIXYARD_BUILD_RATE: integer('NIXYARD_BUILD_RATE', 0, 1_000_000),
  NIXYARD_MAX_BUILDS: integer('NIXYARD_MAX_BUILDS', 1, 1000),
  NIXYARD_BUILD_LOG_LIMIT: integer('NIXYARD_BUILD_LOG_LIMIT', 4096, 256 * 1024 * 1024),
  NIXYARD_NOTIFY_URL: text,
  NIXYARD_NOTIFY_SECRET: text,
  NIXYARD_NOTIFY_ATTEMPTS: integer('NIXYARD_NOTIFY_ATTEMPTS', 1, 20),
  NIXYARD_WEBHOOK_SECRET: text,
  NIXYARD_PREBUILD: text,
  NIXYARD_WEBHOOK_REFS: text,
  NIXYARD_AMQP_URL: text,
  NIXYARD_AMQP_QUEUE: text,
  NIXYARD_MAX_ATTEMPTS: integer('NIXYARD_MAX_ATTEMPTS', 1, 50),
  NIXYARD_RETRY_DELAY: integer('NIXYARD_RETRY_DELAY', 1, 3600),
  NIXYARD_APPS_PREFIX: text,
  NIXYARD_NIXPACKS: text,
  NIXYARD_SOURCE_ALLOW_LOCAL: text,
  NIXYARD_SOURCE_NIXPKGS_ARCHIVE: text,
  NIXYARD_SOURCE_NETWORK: text,
  NIXYARD_SOURCE_TIMEOUT: integer('NIXYARD_SOURCE_TIMEOUT', 10, 86400),
  NIXYARD_SOURCE_CACHE_MB: integer('NIXYARD_SOURCE_CACHE_MB', 0, 1_000_000),
  NIXYARD_SKOPEO: text,
  NIXYARD_PUSH_AUTH_FILE: text,
  NIXYARD_PUSH_CA_FILE: text,
  NIXYARD_PUSH_INSECURE: text,
  NIXYARD_PUSH_DEFAULT: text,
  NIXYARD_PUSH_TIMEOUT: integer('NIXYARD_PUSH_TIMEOUT', 10, 86400),
  NIXYARD_CALLBACK_ALLOW_PRIVATE: text,
  NIXYARD_CALLBACK_ATTEMPTS: integer('NIXYARD_CALLBACK_ATTEMPTS', 1, 20),
  NIXYARD_PUBLIC_HOST: text,
  NIXYARD_LOG_LEVEL: text,
  NIXYARD_LOG_FORMAT: text,
  NIXYARD_TRUST_PROXY: text,
  NIXYARD_METRICS_TOKEN: text,
  NIXYARD_METRICS_PORT: integer('NIXYARD_METRICS_PORT', 0, 65535),
  NIXYARD_DRAIN_SECONDS: integer('NIXYARD_DRAIN_SECONDS', 0, 3600),
  NIXYARD_SERVE_ONLY: text,
  NIXYARD_SBOMS: text,
  NIXYARD_NIX_SPARE: text,
});

/** The variables as parsed one by one. */
type Env = z.infer<typeof EnvSchema>;
/** Adds one problem (one line of the `ConfigError`). */
type Report = (message: string) => void;

/** The environment → the registry's validated settings, checking the settings that go together. */
export const ConfigSchema = EnvSchema.transform((vars, ctx) => toConfig(vars, (message) => ctx.addIssue({ code: 'custom', message })));

/** The registry's validated settings. */
export type Config = z.infer<typeof ConfigSchema>;
/** Where packages come from (exactly one). */
export type PackageSourceConfig = Config['packageSource'];
/** Where blobs, manifests and records are kept. */
export type StorageConfig = Config['storage'];
/** HTTPS: off, from files, or a self-signed certificate made at start-up. */
export type TlsConfig = Config['tls'];
/** Access control: off, or users of an htpasswd file by Basic auth or the Docker token flow. */
export type AuthConfig = Config['auth'];
/** Forge webhooks, when on. */
export type WebhooksConfig = NonNullable<Config['webhooks']>;
/** The RabbitMQ build queue, when on. */
export type QueueConfig = NonNullable<Config['queue']>;
/** Notifications of build status changes, when on. */
export type NotifyConfig = NonNullable<Config['notify']>;
/** Pushes of built images to external registries. */
export type PushConfig = Config['push'];
/** Callbacks of single builds. */
export type CallbacksConfig = Config['callbacks'];
/** Logs, metrics, proxies, draining: how the instance is operated. */
export type OperationsConfig = Config['operations'];

/** Invalid or contradictory configuration; `problems` has one line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from `env`; throws `ConfigError` listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const variables = parsed.error.issues.filter((issue) => issue.path.length > 0);
  if (variables.length === 0) throw new ConfigError(parsed.error.issues.map((issue) => issue.message));
  // A variable's own problem stops zod before the settings that go together are checked: check
  // those again with the invalid variables at their defaults, so that every problem is reported.
  const invalid = new Set(variables.map((issue) => String(issue.path[0])));
  const rest = ConfigSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([name]) => !invalid.has(name))));
  throw new ConfigError([...variables, ...(rest.success ? [] : rest.error.issues)].map((issue) => issue.message));
}

/** The typed config from the parsed variables; reports each problem of settings that go together. */
function toConfig(vars: Env, report: Report) {
  const dataDir = vars.NIXYARD_DATA_DIR ?? './data';
  const packageSource = packageSourceConfig(vars, report);
  const storage = storageConfig(vars, dataDir, report);
  const { defaultArch, architectures } = architecturesConfig(vars, report);
  const tls = tlsConfig(vars, report);
  const auth = authConfig(vars, report);
  const notify = notifyConfig(vars, report);
  const webhooks = webhooksConfig(vars, packageSource, report);
  const queue = queueConfig(vars, report);
  const sourceBuilds = sourceBuildsConfig(vars, packageSource, report);
  const push = pushConfig(vars, report);
  const callbacks = callbacksConfig(vars, report);
  const operations = operationsConfig(vars, report);
  if (vars.NIXYARD_PUBLIC_HOST !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/.test(vars.NIXYARD_PUBLIC_HOST)) {
    report(`NIXYARD_PUBLIC_HOST=${JSON.stringify(vars.NIXYARD_PUBLIC_HOST)} is not allowed: expected the host[:port] clients pull from, e.g. registry.example.com`);
  }
  return {
    port: vars.PORT ?? 8080,
    host: vars.NIXYARD_HOST ?? '0.0.0.0',
    /** Local state: default storage, GC roots of builds in progress. */
    dataDir,
    packageSource,
    storage,
    /** Longest a Nix call may run, in seconds. */
    nixTimeoutSeconds: vars.NIX_TIMEOUT ?? 60,
    /** Whether a `nix-build` is kept started ahead of the next build (~18 ms less per evaluation, ~24 MB while it waits). */
    nixSpare: flag(vars, 'NIXYARD_NIX_SPARE', true, report),
    popularityUrl: vars.NIX_POPULARITY_URL,
    /** Most layers an image may have, the symlink layer included. */
    layerBudget: vars.NIXYARD_LAYER_BUDGET ?? 94,
    manifestCacheSize: vars.NIXYARD_MANIFEST_CACHE_SIZE ?? 1000,
    /** Whether built images get SBOMs (SPDX, CycloneDX) attached as artifacts. */
    sboms: flag(vars, 'NIXYARD_SBOMS', true, report),
    defaultArch,
    /** Architectures of images whose name picks none; more than one serves an index. */
    architectures,
    tls,
    auth,
    /** Per-client limits on builds; `0` is no limit. */
    buildLimits: { maxConcurrent: vars.NIXYARD_MAX_BUILDS_PER_CLIENT ?? 0, perMinute: vars.NIXYARD_BUILD_RATE ?? 0 },
    /** Builds this instance runs at once; more wait, `queued`. */
    maxBuilds: vars.NIXYARD_MAX_BUILDS ?? 4,
    /** Characters of a build's log kept (its start and its end). */
    buildLogLimit: vars.NIXYARD_BUILD_LOG_LIMIT ?? 1024 * 1024,
    /** Where build status notifications go; `undefined` when `NIXYARD_NOTIFY_URL` is not set. */
    notify,
    /** Webhooks of the forges; `undefined` when `NIXYARD_WEBHOOK_SECRET` is not set. */
    webhooks,
    /** The RabbitMQ queue of API and webhook builds; `undefined` (builds run where they are asked for) when `NIXYARD_AMQP_URL` is not set. */
    queue,
    /** Builds of images from application source. */
    sourceBuilds,
    /** Pushes of built images to external registries. */
    push,
    /** Callbacks of single builds (`callback` of a build or an app). */
    callbacks,
    /** The host[:port] clients pull from, for references in callbacks; `undefined`: the Host of the request that started the build. */
    publicHost: vars.NIXYARD_PUBLIC_HOST,
    operations,
  };
}

/** One entry of NIXYARD_TRUST_PROXY's list: an address, a subnet or one of express's names. */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', bits, ...more] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || more.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * Which proxies' X-Forwarded-For is believed, with express's rules: `false` (the default: the
 * peer address is the client), `true` (any), a number of hops, or addresses and subnets.
 */
function trustProxy(raw: string | undefined, report: Report): boolean | number | string[] {
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = list(raw);
  const bad = entries.filter((entry) => !isProxyAddress(entry));
  if (bad.length > 0 || entries.length === 0) {
    report(`NIXYARD_TRUST_PROXY=${JSON.stringify(raw)} is not allowed: expected true, false, a number of proxies, or addresses and subnets separated by commas (e.g. loopback,10.0.0.0/8)`);
  }
  return entries;
}

/** How the instance is operated: its log, its metrics, the proxies in front of it, how it stops. */
function operationsConfig(vars: Env, report: Report) {
  const level = vars.NIXYARD_LOG_LEVEL?.toLowerCase();
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) report(`NIXYARD_LOG_LEVEL=${JSON.stringify(vars.NIXYARD_LOG_LEVEL)} is not allowed: expected ${LOG_LEVELS.join(', ')}`);
  const format = vars.NIXYARD_LOG_FORMAT?.toLowerCase();
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) report(`NIXYARD_LOG_FORMAT=${JSON.stringify(vars.NIXYARD_LOG_FORMAT)} is not allowed: expected json or pretty`);
  return {
    /** Least severe level logged. */
    logLevel: (level ?? 'info') as LogLevel,
    /** JSON lines or readable ones; `undefined`: readable on a terminal, JSON otherwise. */
    logFormat: format as LogFormat | undefined,
    /** express's `trust proxy`: whose X-Forwarded-For names the client. */
    trustProxy: trustProxy(vars.NIXYARD_TRUST_PROXY, report),
    /** Bearer token `/metrics` asks for; open when unset. */
    metricsToken: vars.NIXYARD_METRICS_TOKEN,
    /** A port of its own for `/metrics` (and the probes), on the same host; `undefined`: the registry's port. */
    metricsPort: vars.NIXYARD_METRICS_PORT,
    /** On SIGTERM, how long running builds may go on (not ready, no new builds) before they are stopped. */
    drainSeconds: vars.NIXYARD_DRAIN_SECONDS ?? 10,
    /** Serves what storage holds and builds nothing (no Nix needed). */
    serveOnly: flag(vars, 'NIXYARD_SERVE_ONLY', false, report),
  };
}

/** A registry as in a push target: `host.name`, `host:port`, `localhost`. */
const REGISTRY_HOST = /^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?|\[[0-9A-Fa-f:]+\](:\d{1,5})?)$/;

/** Pushes to external registries with skopeo: credentials, trusted CAs, plain-HTTP registries, default targets. */
function pushConfig(vars: Env, report: Report) {
  const insecure = list(vars.NIXYARD_PUSH_INSECURE).map((host) => host.toLowerCase());
  const bad = insecure.filter((host) => !REGISTRY_HOST.test(host));
  if (bad.length > 0) report(`NIXYARD_PUSH_INSECURE has invalid registries ${JSON.stringify(bad)}: expected host[:port] names separated by commas, e.g. registry.internal:5000`);
  return {
    /** The skopeo program. */
    skopeo: vars.NIXYARD_SKOPEO ?? 'skopeo',
    /** Docker config.json / containers auth.json with the targets' credentials; none when unset. */
    authFile: vars.NIXYARD_PUSH_AUTH_FILE,
    /** PEM CA certificates trusted for push targets besides the system's. */
    caFile: vars.NIXYARD_PUSH_CA_FILE,
    /** Registries pushed to over plain HTTP or without verifying TLS. */
    insecure,
    /** Targets of builds from source that name none (checked at start-up: REGISTRY/REPOSITORY prefixes). */
    defaults: list(vars.NIXYARD_PUSH_DEFAULT),
    /** Longest one copy to a target may take, in seconds. */
    timeoutSeconds: vars.NIXYARD_PUSH_TIMEOUT ?? 900,
  };
}

/** Callbacks of single builds: whether private addresses may be called, attempts per status. */
function callbacksConfig(vars: Env, report: Report) {
  return {
    /** Whether callback URLs may reach loopback, private and link-local addresses (the registry's own network). */
    allowPrivate: flag(vars, 'NIXYARD_CALLBACK_ALLOW_PRIVATE', false, report),
    attempts: vars.NIXYARD_CALLBACK_ATTEMPTS ?? DEFAULT_NOTIFY_ATTEMPTS,
  };
}

/** A variable that is 1 or 0 (true or false); `fallback` when unset. */
function flag(vars: Env, name: 'NIXYARD_SOURCE_ALLOW_LOCAL' | 'NIXYARD_SOURCE_NETWORK' | 'NIXYARD_SOURCE_NIXPKGS_ARCHIVE' | 'NIXYARD_CALLBACK_ALLOW_PRIVATE' | 'NIXYARD_SERVE_ONLY' | 'NIXYARD_SBOMS' | 'NIXYARD_NIX_SPARE', fallback: boolean, report: Report): boolean {
  const raw = vars[name];
  if (raw === undefined) return fallback;
  if (!['0', '1', 'true', 'false'].includes(raw)) report(`${name}=${JSON.stringify(raw)} is not allowed: expected 1 or 0`);
  return raw === '1' || raw === 'true';
}

/** Images from application source: their name prefix, nixpacks, the sandbox's network, limits. */
function sourceBuildsConfig(vars: Env, packageSource: { type: string }, report: Report) {
  const prefix = (vars.NIXYARD_APPS_PREFIX ?? 'apps').replace(/^\/+|\/+$/g, '');
  if (!isValidName(prefix)) report(`NIXYARD_APPS_PREFIX=${JSON.stringify(vars.NIXYARD_APPS_PREFIX)} is not allowed: expected an image name prefix (lowercase components separated by "/"), e.g. apps`);
  const nixpkgsArchive = flag(vars, 'NIXYARD_SOURCE_NIXPKGS_ARCHIVE', false, report);
  if (nixpkgsArchive && packageSource.type !== 'channel') {
    report(`NIXYARD_SOURCE_NIXPKGS_ARCHIVE=1 needs a nixpkgs channel (NIXERY_CHANNEL): the package source is now a ${packageSource.type}, which has no nixpkgs commits to pin`);
  }
  return {
    /** Whether the plan's packages come from the nixpkgs commit the plan pins (a channel source only). */
    nixpkgsArchive,
    /** Names under it are images built from source, served from their tags only. */
    prefix,
    /** The nixpacks program. */
    nixpacks: vars.NIXYARD_NIXPACKS ?? 'nixpacks',
    /** Whether `file://` URLs and local paths may be built (they read the server's own disk). */
    allowLocal: flag(vars, 'NIXYARD_SOURCE_ALLOW_LOCAL', false, report),
    /** Whether install and build commands may use the network. */
    network: flag(vars, 'NIXYARD_SOURCE_NETWORK', true, report),
    /** Longest a build from source may take, in seconds (a request may ask for less). */
    timeoutSeconds: vars.NIXYARD_SOURCE_TIMEOUT ?? 1800,
    /** Bytes an app's cache directories may hold before they are emptied. */
    cacheLimitBytes: (vars.NIXYARD_SOURCE_CACHE_MB ?? 1024) * 1024 * 1024,
  };
}

/** The one package source: a channel (the default), a git repository or a local path. */
function packageSourceConfig(vars: Env, report: Report) {
  const sources = (['NIXERY_CHANNEL', 'NIXERY_PKGS_REPO', 'NIXERY_PKGS_PATH'] as const).filter((name) => vars[name] !== undefined);
  if (sources.length > 1) report(`${sources.join(' and ')} are set together: set only one package source (a channel, a git repository or a local path)`);
  const source = chosenPackageSource(vars);
  if (source.type === 'channel' && (!/^[A-Za-z0-9._-]+$/.test(source.channel) || /^\.+$/.test(source.channel))) {
    report(`NIXERY_CHANNEL=${JSON.stringify(source.channel)} is not allowed: expected a channel name (nixos-unstable, nixos-24.05) or a nixpkgs commit`);
  }
  if (vars.NIXYARD_CHANNELS_URL !== undefined && !/^https?:\/\/[^/]/.test(vars.NIXYARD_CHANNELS_URL)) {
    report(`NIXYARD_CHANNELS_URL=${JSON.stringify(vars.NIXYARD_CHANNELS_URL)} is not allowed: expected an http(s) URL under which <channel>/git-revision is found, e.g. https://channels.nixos.org`);
  }
  if (vars.NIXYARD_TARBALLS_URL !== undefined && !/^(https?:\/\/[^/]|file:\/\/\/)/.test(vars.NIXYARD_TARBALLS_URL)) {
    report(`NIXYARD_TARBALLS_URL=${JSON.stringify(vars.NIXYARD_TARBALLS_URL)} is not allowed: expected an http(s) or file:/// URL under which <commit>.tar.gz is found, e.g. https://github.com/NixOS/nixpkgs/archive`);
  }
  if (source.type === 'path' && !source.path.startsWith('/')) {
    report(`NIXERY_PKGS_PATH=${JSON.stringify(source.path)} is not allowed: expected an absolute path to a directory with a default.nix`);
  }
  return source;
}

/** The package source the variables name (the first of a channel, a path, a repository), else the default channel. */
function chosenPackageSource(vars: Env) {
  const ttlSeconds = vars.NIXYARD_SOURCE_TTL ?? 10;
  if (vars.NIXERY_PKGS_PATH && !vars.NIXERY_CHANNEL) {
    const synthetic = vars.NIXYARD_DEMO_SYNTHETIC ?? 0;
    /** `args`: passed to the package set's function (the demo set's synthetic packages). */
    return { type: 'path' as const, path: vars.NIXERY_PKGS_PATH, ttlSeconds, args: (synthetic > 0 ? { syntheticCount: synthetic } : {}) as Record<string, unknown> };
  }
  if (vars.NIXERY_PKGS_REPO && !vars.NIXERY_CHANNEL) return { type: 'git' as const, repository: vars.NIXERY_PKGS_REPO, ttlSeconds };
  return {
    type: 'channel' as const,
    channel: vars.NIXERY_CHANNEL ?? DEFAULT_CHANNEL,
    channelsUrl: vars.NIXYARD_CHANNELS_URL ?? 'https://channels.nixos.org',
    tarballsUrl: vars.NIXYARD_TARBALLS_URL ?? 'https://github.com/NixOS/nixpkgs/archive',
    ttlSeconds: vars.NIXYARD_CHANNEL_TTL ?? 300,
  };
}

/**
 * The API endpoint of STORAGE_EMULATOR_HOST, which is `host:port` or a URL as fake-gcs-server
 * and Google's Go library take it (`http://` when there is no scheme; no path, no trailing slash).
 */
function emulatorEndpoint(value: string): string | undefined {
  try {
    const url = new URL(/^https?:\/\//.test(value) ? value : `http://${value}`);
    return url.host === '' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/** The filesystem under the data directory (the default), or a GCS bucket. */
function storageConfig(vars: Env, dataDir: string, report: Report) {
  const backend = vars.NIXERY_STORAGE_BACKEND ?? 'filesystem';
  if (backend === 'gcs') {
    if (!vars.GCS_BUCKET) report('GCS_BUCKET is not set: NIXERY_STORAGE_BACKEND=gcs needs the name of the bucket to use');
    const emulator = vars.STORAGE_EMULATOR_HOST === undefined ? undefined : emulatorEndpoint(vars.STORAGE_EMULATOR_HOST);
    if (vars.STORAGE_EMULATOR_HOST !== undefined && emulator === undefined) {
      report(`STORAGE_EMULATOR_HOST=${JSON.stringify(vars.STORAGE_EMULATOR_HOST)} is not allowed: expected host:port or http://host:port, e.g. 127.0.0.1:4443`);
    }
    const endpoint = vars.NIXYARD_GCS_ENDPOINT ?? emulator;
    return {
      backend: 'gcs' as const,
      bucket: vars.GCS_BUCKET ?? '',
      credentialsFile: vars.GOOGLE_APPLICATION_CREDENTIALS,
      /** API endpoint of an emulator; `undefined` for Google's. */
      endpoint,
      /** Base of public object URLs, used when there is no key to sign with. */
      publicUrl: vars.NIXYARD_GCS_PUBLIC_URL ?? endpoint ?? 'https://storage.googleapis.com',
      signedUrlSeconds: vars.NIXYARD_SIGNED_URL_TTL ?? 300,
    };
  }
  if (backend !== 'filesystem') report(`NIXERY_STORAGE_BACKEND=${JSON.stringify(backend)} is not allowed: expected "filesystem" or "gcs"`);
  return { backend: 'filesystem' as const, path: vars.STORAGE_PATH ?? `${dataDir}/storage` };
}

const ARCHITECTURE_NAMES = Object.keys(ARCHITECTURES) as Architecture[];
const isArchitecture = (name: string): name is Architecture => (ARCHITECTURE_NAMES as string[]).includes(name);

/** The default architecture and those built for names that pick none (from the architecture table). */
function architecturesConfig(vars: Env, report: Report): { defaultArch: Architecture; architectures: Architecture[] } {
  const quoted = ARCHITECTURE_NAMES.map((name) => JSON.stringify(name)).join(' or ');
  const wanted = vars.NIXYARD_DEFAULT_ARCH ?? 'amd64';
  if (!isArchitecture(wanted)) report(`NIXYARD_DEFAULT_ARCH=${JSON.stringify(wanted)} is not allowed: expected ${quoted}`);
  const defaultArch = isArchitecture(wanted) ? wanted : 'amd64';
  const names = [...new Set(list(vars.NIXYARD_ARCHITECTURES ?? wanted))];
  const architectures = names.filter(isArchitecture);
  if (architectures.length < names.length) {
    report(`NIXYARD_ARCHITECTURES=${JSON.stringify(vars.NIXYARD_ARCHITECTURES)} is not allowed: expected a comma-separated list of ${ARCHITECTURE_NAMES.join(' and ')}`);
  } else if (!architectures.includes(defaultArch)) {
    report(`NIXYARD_ARCHITECTURES=${JSON.stringify(vars.NIXYARD_ARCHITECTURES)} leaves out NIXYARD_DEFAULT_ARCH=${wanted}: list it too`);
  }
  return { defaultArch, architectures };
}

/** HTTPS from certificate files, a self-signed certificate, or off. */
function tlsConfig(vars: Env, report: Report) {
  const selfSigned = vars.NIXYARD_TLS_SELF_SIGNED;
  if (selfSigned !== undefined && !['0', '1', 'true', 'false'].includes(selfSigned)) report(`NIXYARD_TLS_SELF_SIGNED=${JSON.stringify(selfSigned)} is not allowed: expected 1 or 0`);
  const wantsSelfSigned = selfSigned === '1' || selfSigned === 'true';
  if (vars.NIXYARD_TLS_CERT || vars.NIXYARD_TLS_KEY) {
    if (!vars.NIXYARD_TLS_CERT || !vars.NIXYARD_TLS_KEY) report('NIXYARD_TLS_CERT and NIXYARD_TLS_KEY go together: set both (PEM files) or neither');
    if (wantsSelfSigned) report('NIXYARD_TLS_SELF_SIGNED=1 and NIXYARD_TLS_CERT are set together: use your certificate or a self-signed one, not both');
    return { mode: 'files' as const, certFile: vars.NIXYARD_TLS_CERT ?? '', keyFile: vars.NIXYARD_TLS_KEY ?? '' };
  }
  if (wantsSelfSigned) {
    const hostnames = list(vars.NIXYARD_TLS_HOSTNAMES ?? 'localhost,127.0.0.1');
    const bad = hostnames.filter((name) => !/^[A-Za-z0-9.:-]+$/.test(name));
    if (bad.length > 0) report(`NIXYARD_TLS_HOSTNAMES has invalid names ${JSON.stringify(bad)}: expected host names or IP addresses separated by commas`);
    return { mode: 'self-signed' as const, hostnames };
  }
  return { mode: 'off' as const };
}

/**
 * Access control: off, or users of an htpasswd file, by Basic auth or the Docker token flow,
 * for every name (`prefixes` empty) or the names under `prefixes`.
 */
function authConfig(vars: Env, report: Report) {
  const htpasswdFile = vars.NIXYARD_HTPASSWD;
  if (!htpasswdFile) {
    for (const name of ['NIXYARD_AUTH', 'NIXYARD_AUTH_PREFIXES', 'NIXYARD_ACCESS_FILE', 'NIXYARD_TOKEN_KEY', 'NIXYARD_REALM'] as const) {
      if (vars[name] !== undefined) report(`${name} is set without NIXYARD_HTPASSWD: access control needs the htpasswd file of the users who may pull`);
    }
    return { mode: 'off' as const };
  }
  const mode = vars.NIXYARD_AUTH ?? 'token';
  if (mode !== 'basic' && mode !== 'token') report(`NIXYARD_AUTH=${JSON.stringify(mode)} is not allowed: expected "token" (the Docker token flow) or "basic"`);
  const prefixes = parsePrefixes(vars.NIXYARD_AUTH_PREFIXES ?? '');
  const bad = prefixes.filter((prefix) => !isValidName(prefix));
  if (bad.length > 0) report(`NIXYARD_AUTH_PREFIXES has invalid prefixes ${JSON.stringify(bad)}: expected image names (lowercase components separated by "/") separated by commas`);
  if (mode === 'basic' && prefixes.length > 0) {
    report('NIXYARD_AUTH=basic and NIXYARD_AUTH_PREFIXES are set together: clients send Basic credentials only when /v2/ asks for them, which would lock anonymous clients out of every name; use NIXYARD_AUTH=token to protect prefixes');
  }
  let realm = vars.NIXYARD_REALM?.replace(/\/+$/, '');
  if (realm !== undefined) {
    const url = URL.canParse(realm) ? new URL(realm) : undefined;
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
      report(`NIXYARD_REALM=${JSON.stringify(vars.NIXYARD_REALM)} is not allowed: expected the registry's public base URL, e.g. https://registry.example.com (the token endpoint is its /token)`);
      realm = undefined;
    }
  }
  return {
    mode: mode === 'basic' ? ('basic' as const) : ('token' as const),
    htpasswdFile,
    prefixes,
    /** File of per-user and per-group grants (`auth/grants.ts`); `undefined`: every user may pull every name. */
    accessFile: vars.NIXYARD_ACCESS_FILE,
    tokenTtlSeconds: vars.NIXYARD_TOKEN_TTL ?? 300,
    /** File with the token signing key; `undefined`: a random key made at start. */
    tokenKeyFile: vars.NIXYARD_TOKEN_KEY,
    /** Public base URL of the realm (`<realm>/token`); `undefined`: from each request. */
    realm,
  };
}

/** Notifications of build status changes: where they are POSTed, the key they are signed with, attempts per notification. */
function notifyConfig(vars: Env, report: Report) {
  const raw = vars.NIXYARD_NOTIFY_URL;
  if (raw === undefined) {
    if (vars.NIXYARD_NOTIFY_SECRET !== undefined) report('NIXYARD_NOTIFY_SECRET is set without NIXYARD_NOTIFY_URL: notifications need the URL to POST to');
    if (vars.NIXYARD_NOTIFY_ATTEMPTS !== undefined) report('NIXYARD_NOTIFY_ATTEMPTS is set without NIXYARD_NOTIFY_URL: notifications need the URL to POST to');
    return undefined;
  }
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    report(`NIXYARD_NOTIFY_URL=${JSON.stringify(raw)} is not allowed: expected an http(s) URL to POST build notifications to, e.g. https://deploy.example/hooks/nixyard`);
  } else if (url.username !== '' || url.password !== '') {
    report('NIXYARD_NOTIFY_URL has a user name or password in it: requests cannot carry them in the URL; receivers check the signature made with NIXYARD_NOTIFY_SECRET instead');
  }
  const secret = vars.NIXYARD_NOTIFY_SECRET;
  if (secret === undefined) report('NIXYARD_NOTIFY_SECRET is not set: NIXYARD_NOTIFY_URL needs the secret the notifications are signed with (X-Nixyard-Signature-256), shared with the receiver');
  return { url: raw, secret: secret ?? '', attempts: vars.NIXYARD_NOTIFY_ATTEMPTS ?? DEFAULT_NOTIFY_ATTEMPTS };
}

/**
 * Forge webhooks (`/v1/webhooks/github|gitlab|gitee`): the shared secret, the images pre-built
 * at a pushed commit, and the branches and tags whose pushes count (`*` matches any characters).
 */
function webhooksConfig(vars: Env, packageSource: { type: string }, report: Report) {
  const secret = vars.NIXYARD_WEBHOOK_SECRET;
  if (secret === undefined) {
    for (const name of ['NIXYARD_PREBUILD', 'NIXYARD_WEBHOOK_REFS'] as const) {
      if (vars[name] !== undefined) report(`${name} is set without NIXYARD_WEBHOOK_SECRET: webhooks need the secret the forges sign their deliveries with`);
    }
    return undefined;
  }
  if (packageSource.type !== 'git') {
    report(`NIXYARD_WEBHOOK_SECRET is set without NIXERY_PKGS_REPO: webhooks pre-build images at the commits pushed to the git repository of the package set; set NIXERY_PKGS_REPO (the package source is now a ${packageSource.type})`);
  }
  const prebuild = [...new Set(list(vars.NIXYARD_PREBUILD))];
  if (prebuild.length === 0) report('NIXYARD_PREBUILD is not set: name the images to pre-build when a push arrives, separated by commas (e.g. shell/git,hello)');
  const badNames = prebuild.filter((name) => !isValidName(name));
  if (badNames.length > 0) report(`NIXYARD_PREBUILD has invalid image names ${JSON.stringify(badNames)}: expected image names (lowercase components separated by "/") separated by commas`);
  const refs = vars.NIXYARD_WEBHOOK_REFS === undefined ? ['*'] : list(vars.NIXYARD_WEBHOOK_REFS);
  const badRefs = refs.filter((ref) => !/^[A-Za-z0-9._/*+@-]+$/.test(ref) || ref.includes('..') || ref.startsWith('/') || ref.endsWith('/'));
  if (refs.length === 0 || badRefs.length > 0) {
    report(`NIXYARD_WEBHOOK_REFS=${JSON.stringify(vars.NIXYARD_WEBHOOK_REFS)} is not allowed: expected branch or tag names (main, v*, refs/tags/*) separated by commas, or * for all`);
  }
  return { secret, prebuild, refs };
}

/**
 * The build queue on RabbitMQ shared by several replicas: its URL and queue name, attempts per
 * build, and the first retry delay (doubling after each attempt).
 */
function queueConfig(vars: Env, report: Report) {
  const raw = vars.NIXYARD_AMQP_URL;
  if (raw === undefined) {
    for (const name of ['NIXYARD_AMQP_QUEUE', 'NIXYARD_MAX_ATTEMPTS', 'NIXYARD_RETRY_DELAY'] as const) {
      if (vars[name] !== undefined) report(`${name} is set without NIXYARD_AMQP_URL: it configures the RabbitMQ build queue, which needs the broker's URL (amqp://user:password@host:5672/vhost)`);
    }
    return undefined;
  }
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!url || (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') || url.hostname === '') {
    report(`NIXYARD_AMQP_URL=${JSON.stringify(redactPassword(raw))} is not allowed: expected an amqp:// or amqps:// URL of a RabbitMQ broker, e.g. amqp://nixyard:secret@rabbitmq.internal:5672/`);
  }
  const queue = vars.NIXYARD_AMQP_QUEUE ?? 'nixyard.builds';
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(queue) || queue.startsWith('amq.')) {
    report(`NIXYARD_AMQP_QUEUE=${JSON.stringify(queue)} is not allowed: expected up to 200 of [A-Za-z0-9_.:-], not starting with "amq." (reserved by RabbitMQ)`);
  }
  return { url: raw, queue, maxAttempts: vars.NIXYARD_MAX_ATTEMPTS ?? DEFAULT_MAX_ATTEMPTS, retryDelaySeconds: vars.NIXYARD_RETRY_DELAY ?? DEFAULT_RETRY_DELAY_SECONDS };
}

/** A URL with its password replaced by `***`, for messages and logs. */
export function redactPassword(raw: string): string {
  if (!URL.canParse(raw)) return raw.replace(/:[^:@/]*@/, ':***@');
  const url = new URL(raw);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

/** Comma-separated values, trimmed, empty ones dropped. */
function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((value) => value.trim()).filter((value) => value !== '');
}

/** Splits `NIXYARD_AUTH_PREFIXES` (comma-separated) into prefixes, `corp/` and `/corp` both `corp`, empty ones dropped. */
export function parsePrefixes(raw: string): string[] {
  return [...new Set(raw.split(',').map((prefix) => prefix.trim().replace(/^\/+|\/+$/g, '')).filter((prefix) => prefix !== ''))];
}
