/**
 * Configuration from the environment, compatible with Nixery's variables plus `NIXYARD_*` for
 * what is new. `loadConfig` is pure: it reads the given environment and either returns a typed
 * config or throws one `ConfigError` listing every problem, one line each, naming the variable
 * and what is allowed. Only the entry point exits.
 */
import { z } from 'zod';
import { parsePrefixes } from './auth/prefixes.js';
import { isValidName } from './image/grammar.js';
import { DEFAULT_NOTIFY_ATTEMPTS } from './notify/policy.js';

/** Nixery's default when no package source is configured. */
export const DEFAULT_CHANNEL = 'nixos-unstable';

/** Attempts of a queued build when `NIXYARD_MAX_ATTEMPTS` is not set. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Seconds before the second attempt of a queued build when `NIXYARD_RETRY_DELAY` is not set. */
export const DEFAULT_RETRY_DELAY_SECONDS = 10;

const integer = (variable: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `${variable}=${JSON.stringify(raw)} is not allowed: expected an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return value;
    });

const optionalString = z
  .string()
  .optional()
  .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw.trim()));

const EnvSchema = z.object({
  PORT: integer('PORT', 0, 65535, 8080),
  NIXYARD_HOST: optionalString,
  NIXERY_CHANNEL: optionalString,
  NIXERY_PKGS_REPO: optionalString,
  NIXERY_PKGS_PATH: optionalString,
  NIXERY_STORAGE_BACKEND: optionalString,
  STORAGE_PATH: optionalString,
  NIX_TIMEOUT: integer('NIX_TIMEOUT', 1, 86400, 60),
  NIX_POPULARITY_URL: optionalString,
  GCS_BUCKET: optionalString,
  GOOGLE_APPLICATION_CREDENTIALS: optionalString,
  NIXYARD_DATA_DIR: optionalString,
  NIXYARD_LAYER_BUDGET: integer('NIXYARD_LAYER_BUDGET', 2, 125, 94),
  NIXYARD_MANIFEST_CACHE_SIZE: integer('NIXYARD_MANIFEST_CACHE_SIZE', 1, 1_000_000, 1000),
  NIXYARD_DEFAULT_ARCH: optionalString,
  NIXYARD_ARCHITECTURES: optionalString,
  NIXYARD_SOURCE_TTL: integer('NIXYARD_SOURCE_TTL', 0, 86400, 10),
  NIXYARD_CHANNEL_TTL: integer('NIXYARD_CHANNEL_TTL', 0, 86400, 300),
  NIXYARD_CHANNELS_URL: optionalString,
  NIXYARD_TARBALLS_URL: optionalString,
  NIXYARD_DEMO_SYNTHETIC: integer('NIXYARD_DEMO_SYNTHETIC', 0, 100_000, 0),
  NIXYARD_GCS_ENDPOINT: optionalString,
  STORAGE_EMULATOR_HOST: optionalString,
  NIXYARD_GCS_PUBLIC_URL: optionalString,
  NIXYARD_SIGNED_URL_TTL: integer('NIXYARD_SIGNED_URL_TTL', 1, 7 * 24 * 3600, 300),
  NIXYARD_TLS_CERT: optionalString,
  NIXYARD_TLS_KEY: optionalString,
  NIXYARD_TLS_SELF_SIGNED: optionalString,
  NIXYARD_TLS_HOSTNAMES: optionalString,
  NIXYARD_HTPASSWD: optionalString,
  NIXYARD_AUTH: optionalString,
  NIXYARD_AUTH_PREFIXES: optionalString,
  NIXYARD_TOKEN_TTL: integer('NIXYARD_TOKEN_TTL', 60, 86400, 300),
  NIXYARD_TOKEN_KEY: optionalString,
  NIXYARD_REALM: optionalString,
  NIXYARD_MAX_BUILDS_PER_CLIENT: integer('NIXYARD_MAX_BUILDS_PER_CLIENT', 0, 10_000, 0),
  NIXYARD_BUILD_RATE: integer('NIXYARD_BUILD_RATE', 0, 1_000_000, 0),
  NIXYARD_MAX_BUILDS: integer('NIXYARD_MAX_BUILDS', 1, 1000, 4),
  NIXYARD_BUILD_LOG_LIMIT: integer('NIXYARD_BUILD_LOG_LIMIT', 4096, 256 * 1024 * 1024, 1024 * 1024),
  NIXYARD_NOTIFY_URL: optionalString,
  NIXYARD_NOTIFY_SECRET: optionalString,
  NIXYARD_NOTIFY_ATTEMPTS: integer('NIXYARD_NOTIFY_ATTEMPTS', 1, 20, DEFAULT_NOTIFY_ATTEMPTS),
  NIXYARD_WEBHOOK_SECRET: optionalString,
  NIXYARD_PREBUILD: optionalString,
  NIXYARD_WEBHOOK_REFS: optionalString,
  NIXYARD_AMQP_URL: optionalString,
  NIXYARD_AMQP_QUEUE: optionalString,
  NIXYARD_MAX_ATTEMPTS: integer('NIXYARD_MAX_ATTEMPTS', 1, 50, DEFAULT_MAX_ATTEMPTS),
  NIXYARD_RETRY_DELAY: integer('NIXYARD_RETRY_DELAY', 1, 3600, DEFAULT_RETRY_DELAY_SECONDS),
});

/** Where packages come from (exactly one). */
export type PackageSourceConfig =
  | { type: 'channel'; channel: string; channelsUrl: string; tarballsUrl: string; ttlSeconds: number }
  | { type: 'git'; repository: string; ttlSeconds: number }
  | { type: 'path'; path: string; ttlSeconds: number; args: Record<string, unknown> };

/** Where blobs, manifests and records are kept. */
export type StorageConfig =
  | { backend: 'filesystem'; path: string }
  | {
      backend: 'gcs';
      bucket: string;
      credentialsFile: string | undefined;
      /** API endpoint of an emulator; `undefined` for Google's. */
      endpoint: string | undefined;
      /** Base of public object URLs, used when there is no key to sign with. */
      publicUrl: string;
      signedUrlSeconds: number;
    };

/** HTTPS: off, from files, or a self-signed certificate made at start-up. */
export type TlsConfig =
  | { mode: 'off' }
  | { mode: 'files'; certFile: string; keyFile: string }
  | { mode: 'self-signed'; hostnames: string[] };

/**
 * Access control: off, or users of an htpasswd file, by Basic auth or the Docker token flow,
 * for every name (`prefixes` empty) or the names under `prefixes`.
 */
export type AuthConfig =
  | { mode: 'off' }
  | {
      mode: 'basic' | 'token';
      htpasswdFile: string;
      prefixes: string[];
      tokenTtlSeconds: number;
      /** File with the token signing key; `undefined`: a random key made at start. */
      tokenKeyFile: string | undefined;
      /** Public base URL of the realm (`<realm>/token`); `undefined`: from each request. */
      realm: string | undefined;
    };

/** Per-client limits on builds; `0` is no limit. */
export interface BuildLimitsConfig {
  maxConcurrent: number;
  perMinute: number;
}

/**
 * Forge webhooks (`/v1/webhooks/github|gitlab|gitee`): the shared secret, the images pre-built
 * at a pushed commit, and the branches and tags whose pushes count (`*` matches any characters).
 */
export interface WebhooksConfig {
  secret: string;
  prebuild: string[];
  refs: string[];
}

/**
 * The build queue on RabbitMQ shared by several replicas: its URL and queue name, attempts per
 * build, and the first retry delay (doubling after each attempt).
 */
export interface QueueConfig {
  url: string;
  queue: string;
  maxAttempts: number;
  retryDelaySeconds: number;
}

/** Notifications of build status changes: where they are POSTed, the key they are signed with, attempts per notification. */
export interface NotifyConfig {
  url: string;
  secret: string;
  attempts: number;
}

/** The registry's validated settings. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  packageSource: PackageSourceConfig;
  storage: StorageConfig;
  /** Longest a Nix call may run, in seconds. */
  nixTimeoutSeconds: number;
  popularityUrl: string | undefined;
  /** Most layers an image may have, the symlink layer included. */
  layerBudget: number;
  manifestCacheSize: number;
  defaultArch: 'amd64' | 'arm64';
  /** Architectures of images whose name picks none; more than one serves an index. */
  architectures: ('amd64' | 'arm64')[];
  tls: TlsConfig;
  auth: AuthConfig;
  buildLimits: BuildLimitsConfig;
  /** Builds this instance runs at once; more wait, `queued`. */
  maxBuilds: number;
  /** Characters of a build's log kept (its start and its end). */
  buildLogLimit: number;
  /** Where build status notifications go; `undefined` when `NIXYARD_NOTIFY_URL` is not set. */
  notify: NotifyConfig | undefined;
  /** Webhooks of the forges; `undefined` when `NIXYARD_WEBHOOK_SECRET` is not set. */
  webhooks: WebhooksConfig | undefined;
  /** The RabbitMQ queue of API and webhook builds; `undefined` (builds run where they are asked for) when `NIXYARD_AMQP_URL` is not set. */
  queue: QueueConfig | undefined;
}

/** Invalid or contradictory configuration; `problems` has one line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from `env`; throws `ConfigError` listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = EnvSchema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
  // Go on with the invalid variables at their defaults, so that every problem is reported at once.
  const invalid = new Set(parsed.success ? [] : parsed.error.issues.map((issue) => String(issue.path[0])));
  const vars = parsed.success ? parsed.data : EnvSchema.parse(Object.fromEntries(Object.entries(env).filter(([name]) => !invalid.has(name))));

  const sources = (['NIXERY_CHANNEL', 'NIXERY_PKGS_REPO', 'NIXERY_PKGS_PATH'] as const).filter((name) => vars[name] !== undefined);
  if (sources.length > 1) problems.push(`${sources.join(' and ')} are set together: set only one package source (a channel, a git repository or a local path)`);
  const channel = (name: string): PackageSourceConfig => ({
    type: 'channel',
    channel: name,
    channelsUrl: vars.NIXYARD_CHANNELS_URL ?? 'https://channels.nixos.org',
    tarballsUrl: vars.NIXYARD_TARBALLS_URL ?? 'https://github.com/NixOS/nixpkgs/archive',
    ttlSeconds: vars.NIXYARD_CHANNEL_TTL,
  });
  let packageSource = channel(DEFAULT_CHANNEL);
  if (vars.NIXERY_PKGS_REPO) packageSource = { type: 'git', repository: vars.NIXERY_PKGS_REPO, ttlSeconds: vars.NIXYARD_SOURCE_TTL };
  if (vars.NIXERY_PKGS_PATH) {
    const args = vars.NIXYARD_DEMO_SYNTHETIC > 0 ? { syntheticCount: vars.NIXYARD_DEMO_SYNTHETIC } : {};
    packageSource = { type: 'path', path: vars.NIXERY_PKGS_PATH, ttlSeconds: vars.NIXYARD_SOURCE_TTL, args };
  }
  if (vars.NIXERY_CHANNEL) packageSource = channel(vars.NIXERY_CHANNEL);
  if (packageSource.type === 'channel' && (!/^[A-Za-z0-9._-]+$/.test(packageSource.channel) || /^\.+$/.test(packageSource.channel))) {
    problems.push(`NIXERY_CHANNEL=${JSON.stringify(packageSource.channel)} is not allowed: expected a channel name (nixos-unstable, nixos-24.05) or a nixpkgs commit`);
  }
  if (vars.NIXYARD_CHANNELS_URL !== undefined && !/^https?:\/\/[^/]/.test(vars.NIXYARD_CHANNELS_URL)) {
    problems.push(`NIXYARD_CHANNELS_URL=${JSON.stringify(vars.NIXYARD_CHANNELS_URL)} is not allowed: expected an http(s) URL under which <channel>/git-revision is found, e.g. https://channels.nixos.org`);
  }
  if (vars.NIXYARD_TARBALLS_URL !== undefined && !/^(https?:\/\/[^/]|file:\/\/\/)/.test(vars.NIXYARD_TARBALLS_URL)) {
    problems.push(`NIXYARD_TARBALLS_URL=${JSON.stringify(vars.NIXYARD_TARBALLS_URL)} is not allowed: expected an http(s) or file:/// URL under which <commit>.tar.gz is found, e.g. https://github.com/NixOS/nixpkgs/archive`);
  }
  if (packageSource.type === 'path' && !packageSource.path.startsWith('/')) {
    problems.push(`NIXERY_PKGS_PATH=${JSON.stringify(packageSource.path)} is not allowed: expected an absolute path to a directory with a default.nix`);
  }

  const dataDir = vars.NIXYARD_DATA_DIR ?? './data';
  const backend = vars.NIXERY_STORAGE_BACKEND ?? 'filesystem';
  let storage: StorageConfig = { backend: 'filesystem', path: vars.STORAGE_PATH ?? `${dataDir}/storage` };
  if (backend === 'gcs') {
    if (!vars.GCS_BUCKET) problems.push('GCS_BUCKET is not set: NIXERY_STORAGE_BACKEND=gcs needs the name of the bucket to use');
    const emulator = vars.STORAGE_EMULATOR_HOST && !/^https?:\/\//.test(vars.STORAGE_EMULATOR_HOST) ? `http://${vars.STORAGE_EMULATOR_HOST}` : vars.STORAGE_EMULATOR_HOST;
    const endpoint = vars.NIXYARD_GCS_ENDPOINT ?? emulator;
    storage = {
      backend: 'gcs',
      bucket: vars.GCS_BUCKET ?? '',
      credentialsFile: vars.GOOGLE_APPLICATION_CREDENTIALS,
      endpoint,
      publicUrl: vars.NIXYARD_GCS_PUBLIC_URL ?? endpoint ?? 'https://storage.googleapis.com',
      signedUrlSeconds: vars.NIXYARD_SIGNED_URL_TTL,
    };
  } else if (backend !== 'filesystem') {
    problems.push(`NIXERY_STORAGE_BACKEND=${JSON.stringify(backend)} is not allowed: expected "filesystem" or "gcs"`);
  }

  const defaultArch = vars.NIXYARD_DEFAULT_ARCH ?? 'amd64';
  if (defaultArch !== 'amd64' && defaultArch !== 'arm64') {
    problems.push(`NIXYARD_DEFAULT_ARCH=${JSON.stringify(defaultArch)} is not allowed: expected "amd64" or "arm64"`);
  }
  const architectures = [...new Set((vars.NIXYARD_ARCHITECTURES ?? defaultArch).split(',').map((arch) => arch.trim()).filter((arch) => arch !== ''))];
  const unknownArchs = architectures.filter((arch) => arch !== 'amd64' && arch !== 'arm64');
  if (unknownArchs.length > 0) {
    problems.push(`NIXYARD_ARCHITECTURES=${JSON.stringify(vars.NIXYARD_ARCHITECTURES)} is not allowed: expected a comma-separated list of amd64 and arm64`);
  } else if (!architectures.includes(defaultArch)) {
    problems.push(`NIXYARD_ARCHITECTURES=${JSON.stringify(vars.NIXYARD_ARCHITECTURES)} leaves out NIXYARD_DEFAULT_ARCH=${defaultArch}: list it too`);
  }

  let tls: TlsConfig = { mode: 'off' };
  const selfSigned = vars.NIXYARD_TLS_SELF_SIGNED;
  if (selfSigned !== undefined && !['0', '1', 'true', 'false'].includes(selfSigned)) {
    problems.push(`NIXYARD_TLS_SELF_SIGNED=${JSON.stringify(selfSigned)} is not allowed: expected 1 or 0`);
  }
  if (vars.NIXYARD_TLS_CERT || vars.NIXYARD_TLS_KEY) {
    if (!vars.NIXYARD_TLS_CERT || !vars.NIXYARD_TLS_KEY) problems.push('NIXYARD_TLS_CERT and NIXYARD_TLS_KEY go together: set both (PEM files) or neither');
    if (selfSigned === '1' || selfSigned === 'true') problems.push('NIXYARD_TLS_SELF_SIGNED=1 and NIXYARD_TLS_CERT are set together: use your certificate or a self-signed one, not both');
    tls = { mode: 'files', certFile: vars.NIXYARD_TLS_CERT ?? '', keyFile: vars.NIXYARD_TLS_KEY ?? '' };
  } else if (selfSigned === '1' || selfSigned === 'true') {
    const hostnames = (vars.NIXYARD_TLS_HOSTNAMES ?? 'localhost,127.0.0.1').split(',').map((name) => name.trim()).filter((name) => name !== '');
    const bad = hostnames.filter((name) => !/^[A-Za-z0-9.:-]+$/.test(name));
    if (bad.length > 0) problems.push(`NIXYARD_TLS_HOSTNAMES has invalid names ${JSON.stringify(bad)}: expected host names or IP addresses separated by commas`);
    tls = { mode: 'self-signed', hostnames };
  }

  const auth = authConfig(vars, problems);
  const notify = notifyConfig(vars, (env['NIXYARD_NOTIFY_ATTEMPTS'] ?? '').trim() !== '', problems);
  const webhooks = webhooksConfig(vars, packageSource, problems);
  const queue = queueConfig(vars, env, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: vars.PORT,
    host: vars.NIXYARD_HOST ?? '0.0.0.0',
    dataDir,
    packageSource,
    storage,
    nixTimeoutSeconds: vars.NIX_TIMEOUT,
    popularityUrl: vars.NIX_POPULARITY_URL,
    layerBudget: vars.NIXYARD_LAYER_BUDGET,
    manifestCacheSize: vars.NIXYARD_MANIFEST_CACHE_SIZE,
    defaultArch: defaultArch as 'amd64' | 'arm64',
    architectures: architectures as ('amd64' | 'arm64')[],
    tls,
    auth,
    buildLimits: { maxConcurrent: vars.NIXYARD_MAX_BUILDS_PER_CLIENT, perMinute: vars.NIXYARD_BUILD_RATE },
    maxBuilds: vars.NIXYARD_MAX_BUILDS,
    buildLogLimit: vars.NIXYARD_BUILD_LOG_LIMIT,
    notify,
    webhooks,
    queue,
  };
}

/** Queue settings; adds a line to `problems` for each invalid or contradictory one. */
function queueConfig(vars: z.infer<typeof EnvSchema>, env: Record<string, string | undefined>, problems: string[]): QueueConfig | undefined {
  const raw = vars.NIXYARD_AMQP_URL;
  if (raw === undefined) {
    for (const name of ['NIXYARD_AMQP_QUEUE', 'NIXYARD_MAX_ATTEMPTS', 'NIXYARD_RETRY_DELAY']) {
      if ((env[name] ?? '').trim() !== '') problems.push(`${name} is set without NIXYARD_AMQP_URL: it configures the RabbitMQ build queue, which needs the broker's URL (amqp://user:password@host:5672/vhost)`);
    }
    return undefined;
  }
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!url || (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') || url.hostname === '') {
    problems.push(`NIXYARD_AMQP_URL=${JSON.stringify(redactPassword(raw))} is not allowed: expected an amqp:// or amqps:// URL of a RabbitMQ broker, e.g. amqp://nixyard:secret@rabbitmq.internal:5672/`);
  }
  const queue = vars.NIXYARD_AMQP_QUEUE ?? 'nixyard.builds';
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(queue) || queue.startsWith('amq.')) {
    problems.push(`NIXYARD_AMQP_QUEUE=${JSON.stringify(queue)} is not allowed: expected up to 200 of [A-Za-z0-9_.:-], not starting with "amq." (reserved by RabbitMQ)`);
  }
  return { url: raw, queue, maxAttempts: vars.NIXYARD_MAX_ATTEMPTS, retryDelaySeconds: vars.NIXYARD_RETRY_DELAY };
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

/** Webhook settings; adds a line to `problems` for each invalid or contradictory one. */
function webhooksConfig(vars: z.infer<typeof EnvSchema>, packageSource: PackageSourceConfig, problems: string[]): WebhooksConfig | undefined {
  const secret = vars.NIXYARD_WEBHOOK_SECRET;
  if (secret === undefined) {
    for (const name of ['NIXYARD_PREBUILD', 'NIXYARD_WEBHOOK_REFS'] as const) {
      if (vars[name] !== undefined) problems.push(`${name} is set without NIXYARD_WEBHOOK_SECRET: webhooks need the secret the forges sign their deliveries with`);
    }
    return undefined;
  }
  if (packageSource.type !== 'git') {
    problems.push(`NIXYARD_WEBHOOK_SECRET is set without NIXERY_PKGS_REPO: webhooks pre-build images at the commits pushed to the git repository of the package set; set NIXERY_PKGS_REPO (the package source is now a ${packageSource.type})`);
  }
  const prebuild = [...new Set(list(vars.NIXYARD_PREBUILD))];
  if (prebuild.length === 0) problems.push('NIXYARD_PREBUILD is not set: name the images to pre-build when a push arrives, separated by commas (e.g. shell/git,hello)');
  const badNames = prebuild.filter((name) => !isValidName(name));
  if (badNames.length > 0) problems.push(`NIXYARD_PREBUILD has invalid image names ${JSON.stringify(badNames)}: expected image names (lowercase components separated by "/") separated by commas`);
  const refs = vars.NIXYARD_WEBHOOK_REFS === undefined ? ['*'] : list(vars.NIXYARD_WEBHOOK_REFS);
  const badRefs = refs.filter((ref) => !/^[A-Za-z0-9._/*+@-]+$/.test(ref) || ref.includes('..') || ref.startsWith('/') || ref.endsWith('/'));
  if (refs.length === 0 || badRefs.length > 0) {
    problems.push(`NIXYARD_WEBHOOK_REFS=${JSON.stringify(vars.NIXYARD_WEBHOOK_REFS)} is not allowed: expected branch or tag names (main, v*, refs/tags/*) separated by commas, or * for all`);
  }
  return { secret, prebuild, refs };
}

/** Notification settings; adds a line to `problems` for each invalid or contradictory one. */
function notifyConfig(vars: z.infer<typeof EnvSchema>, attemptsSet: boolean, problems: string[]): NotifyConfig | undefined {
  const raw = vars.NIXYARD_NOTIFY_URL;
  if (raw === undefined) {
    if (vars.NIXYARD_NOTIFY_SECRET !== undefined) problems.push('NIXYARD_NOTIFY_SECRET is set without NIXYARD_NOTIFY_URL: notifications need the URL to POST to');
    if (attemptsSet) problems.push('NIXYARD_NOTIFY_ATTEMPTS is set without NIXYARD_NOTIFY_URL: notifications need the URL to POST to');
    return undefined;
  }
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    problems.push(`NIXYARD_NOTIFY_URL=${JSON.stringify(raw)} is not allowed: expected an http(s) URL to POST build notifications to, e.g. https://deploy.example/hooks/nixyard`);
  } else if (url.username !== '' || url.password !== '') {
    problems.push('NIXYARD_NOTIFY_URL has a user name or password in it: requests cannot carry them in the URL; receivers check the signature made with NIXYARD_NOTIFY_SECRET instead');
  }
  const secret = vars.NIXYARD_NOTIFY_SECRET;
  if (secret === undefined) problems.push('NIXYARD_NOTIFY_SECRET is not set: NIXYARD_NOTIFY_URL needs the secret the notifications are signed with (X-Nixyard-Signature-256), shared with the receiver');
  return { url: raw, secret: secret ?? '', attempts: vars.NIXYARD_NOTIFY_ATTEMPTS };
}

/** Access control settings; adds a line to `problems` for each invalid or contradictory one. */
function authConfig(vars: z.infer<typeof EnvSchema>, problems: string[]): AuthConfig {
  const htpasswdFile = vars.NIXYARD_HTPASSWD;
  if (!htpasswdFile) {
    for (const name of ['NIXYARD_AUTH', 'NIXYARD_AUTH_PREFIXES', 'NIXYARD_TOKEN_KEY', 'NIXYARD_REALM'] as const) {
      if (vars[name] !== undefined) problems.push(`${name} is set without NIXYARD_HTPASSWD: access control needs the htpasswd file of the users who may pull`);
    }
    return { mode: 'off' };
  }
  const mode = vars.NIXYARD_AUTH ?? 'token';
  if (mode !== 'basic' && mode !== 'token') problems.push(`NIXYARD_AUTH=${JSON.stringify(mode)} is not allowed: expected "token" (the Docker token flow) or "basic"`);
  const prefixes = parsePrefixes(vars.NIXYARD_AUTH_PREFIXES ?? '');
  const bad = prefixes.filter((prefix) => !isValidName(prefix));
  if (bad.length > 0) problems.push(`NIXYARD_AUTH_PREFIXES has invalid prefixes ${JSON.stringify(bad)}: expected image names (lowercase components separated by "/") separated by commas`);
  if (mode === 'basic' && prefixes.length > 0) {
    problems.push('NIXYARD_AUTH=basic and NIXYARD_AUTH_PREFIXES are set together: clients send Basic credentials only when /v2/ asks for them, which would lock anonymous clients out of every name; use NIXYARD_AUTH=token to protect prefixes');
  }
  let realm = vars.NIXYARD_REALM?.replace(/\/+$/, '');
  if (realm !== undefined) {
    const url = URL.canParse(realm) ? new URL(realm) : undefined;
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
      problems.push(`NIXYARD_REALM=${JSON.stringify(vars.NIXYARD_REALM)} is not allowed: expected the registry's public base URL, e.g. https://registry.example.com (the token endpoint is its /token)`);
      realm = undefined;
    }
  }
  return { mode: mode === 'basic' ? 'basic' : 'token', htpasswdFile, prefixes, tokenTtlSeconds: vars.NIXYARD_TOKEN_TTL, tokenKeyFile: vars.NIXYARD_TOKEN_KEY, realm };
}
