import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CHANNEL, loadConfig } from './config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has defaults that work on one machine: port 8080, filesystem storage under ./data, nixos-unstable', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.storage).toEqual({ backend: 'filesystem', path: './data/storage' });
    expect(config.packageSource).toMatchObject({ type: 'channel', channel: DEFAULT_CHANNEL });
    expect(config.nixTimeoutSeconds).toBe(60);
    expect(config.layerBudget).toBe(94);
  });

  it('reads the Nixery variables', () => {
    const config = loadConfig({ PORT: '5000', NIXERY_PKGS_PATH: '/srv/pkgs', NIXERY_STORAGE_BACKEND: 'filesystem', STORAGE_PATH: '/var/nixery', NIX_TIMEOUT: '120', NIX_POPULARITY_URL: 'https://example/pop.json' });
    expect(config).toMatchObject({ port: 5000, nixTimeoutSeconds: 120, popularityUrl: 'https://example/pop.json', storage: { backend: 'filesystem', path: '/var/nixery' } });
    expect(config.packageSource).toMatchObject({ type: 'path', path: '/srv/pkgs' });
    expect(loadConfig({ NIXERY_PKGS_REPO: 'https://git.example/pkgs.git' }).packageSource).toMatchObject({ type: 'git', repository: 'https://git.example/pkgs.git' });
    expect(loadConfig({ NIXERY_CHANNEL: 'nixos-24.05' }).packageSource).toMatchObject({ type: 'channel', channel: 'nixos-24.05' });
    expect(loadConfig({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'b' }).storage).toEqual({
      backend: 'gcs',
      bucket: 'b',
      credentialsFile: undefined,
      endpoint: undefined,
      publicUrl: 'https://storage.googleapis.com',
      signedUrlSeconds: 300,
    });
    expect(loadConfig({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'b', STORAGE_EMULATOR_HOST: '127.0.0.1:4443' }).storage).toMatchObject({
      endpoint: 'http://127.0.0.1:4443',
      publicUrl: 'http://127.0.0.1:4443',
    });
    for (const value of ['http://127.0.0.1:4443', 'http://127.0.0.1:4443/', '127.0.0.1:4443/']) {
      expect(loadConfig({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'b', STORAGE_EMULATOR_HOST: value }).storage).toMatchObject({ endpoint: 'http://127.0.0.1:4443' });
    }
    expect(problems({ NIXERY_STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'b', STORAGE_EMULATOR_HOST: 'http://' })).toEqual([
      'STORAGE_EMULATOR_HOST="http://" is not allowed: expected host:port or http://host:port, e.g. 127.0.0.1:4443',
    ]);
  });

  it('names the variable and what is allowed, one line per problem, all at once', () => {
    expect(problems({ PORT: 'eighty', NIX_TIMEOUT: '0', NIXERY_STORAGE_BACKEND: 's3' })).toEqual([
      'PORT="eighty" is not allowed: expected an integer from 0 to 65535',
      'NIX_TIMEOUT="0" is not allowed: expected an integer from 1 to 86400',
      'NIXERY_STORAGE_BACKEND="s3" is not allowed: expected "filesystem" or "gcs"',
    ]);
    expect(problems({ NIXERY_STORAGE_BACKEND: 's3' })).toEqual(['NIXERY_STORAGE_BACKEND="s3" is not allowed: expected "filesystem" or "gcs"']);
    expect(problems({ NIXYARD_LAYER_BUDGET: '500' })[0]).toContain('NIXYARD_LAYER_BUDGET');
  });

  it('rejects contradictory settings', () => {
    expect(problems({ NIXERY_CHANNEL: 'nixos-unstable', NIXERY_PKGS_PATH: '/x' })[0]).toMatch(/NIXERY_CHANNEL and NIXERY_PKGS_PATH are set together: set only one package source/);
    expect(problems({ NIXERY_STORAGE_BACKEND: 'gcs' })).toEqual(['GCS_BUCKET is not set: NIXERY_STORAGE_BACKEND=gcs needs the name of the bucket to use']);
    expect(problems({ NIXERY_PKGS_PATH: 'relative/dir' })[0]).toContain('absolute path');
    expect(problems({ NIXERY_CHANNEL: 'nixos unstable; rm' })[0]).toContain('NIXERY_CHANNEL');
    expect(problems({ NIXYARD_DEFAULT_ARCH: 'riscv' })[0]).toContain('"amd64" or "arm64"');
  });

  it('reads the channel settings and refuses URLs that cannot serve a channel', () => {
    const commit = '0123456789abcdef0123456789abcdef01234567';
    expect(loadConfig({ NIXERY_CHANNEL: commit, NIXYARD_CHANNEL_TTL: '0', NIXYARD_TARBALLS_URL: 'file:///srv/nixpkgs' }).packageSource).toEqual({
      type: 'channel',
      channel: commit,
      channelsUrl: 'https://channels.nixos.org',
      tarballsUrl: 'file:///srv/nixpkgs',
      ttlSeconds: 0,
    });
    expect(problems({ NIXERY_CHANNEL: '..' })[0]).toContain('NIXERY_CHANNEL=".." is not allowed');
    expect(problems({ NIXYARD_CHANNELS_URL: 'channels.nixos.org', NIXYARD_TARBALLS_URL: 'ftp://x' })).toEqual([
      'NIXYARD_CHANNELS_URL="channels.nixos.org" is not allowed: expected an http(s) URL under which <channel>/git-revision is found, e.g. https://channels.nixos.org',
      'NIXYARD_TARBALLS_URL="ftp://x" is not allowed: expected an http(s) or file:/// URL under which <commit>.tar.gz is found, e.g. https://github.com/NixOS/nixpkgs/archive',
    ]);
  });

  it('configures TLS from files or self-signed, and refuses half or contradictory settings', () => {
    expect(loadConfig({}).tls).toEqual({ mode: 'off' });
    expect(loadConfig({ NIXYARD_TLS_CERT: '/c.pem', NIXYARD_TLS_KEY: '/k.pem' }).tls).toEqual({ mode: 'files', certFile: '/c.pem', keyFile: '/k.pem' });
    expect(loadConfig({ NIXYARD_TLS_SELF_SIGNED: '1', NIXYARD_TLS_HOSTNAMES: 'registry.lan, 10.0.0.5' }).tls).toEqual({ mode: 'self-signed', hostnames: ['registry.lan', '10.0.0.5'] });
    expect(problems({ NIXYARD_TLS_CERT: '/c.pem' })).toEqual(['NIXYARD_TLS_CERT and NIXYARD_TLS_KEY go together: set both (PEM files) or neither']);
    expect(problems({ NIXYARD_TLS_CERT: '/c.pem', NIXYARD_TLS_KEY: '/k.pem', NIXYARD_TLS_SELF_SIGNED: '1' })[0]).toContain('not both');
    expect(problems({ NIXYARD_TLS_SELF_SIGNED: 'yes' })[0]).toContain('expected 1 or 0');
  });

  it('reads the architectures to build indexes for, which must include the default', () => {
    expect(loadConfig({}).architectures).toEqual(['amd64']);
    expect(loadConfig({ NIXYARD_ARCHITECTURES: 'amd64, arm64' }).architectures).toEqual(['amd64', 'arm64']);
    expect(loadConfig({ NIXYARD_ARCHITECTURES: 'arm64', NIXYARD_DEFAULT_ARCH: 'arm64' }).architectures).toEqual(['arm64']);
    expect(problems({ NIXYARD_ARCHITECTURES: 'amd64,riscv64' })[0]).toContain('comma-separated list of amd64 and arm64');
    expect(problems({ NIXYARD_ARCHITECTURES: 'arm64' })[0]).toContain('leaves out NIXYARD_DEFAULT_ARCH=amd64');
  });

  it('reads access control: off by default, token mode when an htpasswd file is set', () => {
    expect(loadConfig({}).auth).toEqual({ mode: 'off' });
    expect(loadConfig({ NIXYARD_HTPASSWD: '/etc/nixyard/htpasswd' }).auth).toEqual({
      mode: 'token',
      htpasswdFile: '/etc/nixyard/htpasswd',
      prefixes: [],
      tokenTtlSeconds: 300,
      tokenKeyFile: undefined,
      realm: undefined,
    });
    expect(
      loadConfig({ NIXYARD_HTPASSWD: '/h', NIXYARD_AUTH_PREFIXES: 'private, corp/', NIXYARD_TOKEN_TTL: '600', NIXYARD_TOKEN_KEY: '/k', NIXYARD_REALM: 'https://registry.example.com/' }).auth,
    ).toEqual({ mode: 'token', htpasswdFile: '/h', prefixes: ['private', 'corp'], tokenTtlSeconds: 600, tokenKeyFile: '/k', realm: 'https://registry.example.com' });
    expect(loadConfig({ NIXYARD_HTPASSWD: '/h', NIXYARD_AUTH: 'basic' }).auth).toMatchObject({ mode: 'basic', prefixes: [] });
  });

  it('refuses invalid or contradictory access control settings, one line each', () => {
    expect(problems({ NIXYARD_AUTH: 'token', NIXYARD_AUTH_PREFIXES: 'private' })).toEqual([
      'NIXYARD_AUTH is set without NIXYARD_HTPASSWD: access control needs the htpasswd file of the users who may pull',
      'NIXYARD_AUTH_PREFIXES is set without NIXYARD_HTPASSWD: access control needs the htpasswd file of the users who may pull',
    ]);
    expect(problems({ NIXYARD_HTPASSWD: '/h', NIXYARD_AUTH: 'ldap', NIXYARD_AUTH_PREFIXES: 'Private,ok', NIXYARD_REALM: 'ftp://x', NIXYARD_TOKEN_TTL: '10' })).toEqual([
      'NIXYARD_TOKEN_TTL="10" is not allowed: expected an integer from 60 to 86400',
      'NIXYARD_AUTH="ldap" is not allowed: expected "token" (the Docker token flow) or "basic"',
      'NIXYARD_AUTH_PREFIXES has invalid prefixes ["Private"]: expected image names (lowercase components separated by "/") separated by commas',
      'NIXYARD_REALM="ftp://x" is not allowed: expected the registry\'s public base URL, e.g. https://registry.example.com (the token endpoint is its /token)',
    ]);
    expect(problems({ NIXYARD_HTPASSWD: '/h', NIXYARD_AUTH: 'basic', NIXYARD_AUTH_PREFIXES: 'private' })[0]).toContain('use NIXYARD_AUTH=token to protect prefixes');
  });

  it('reads per-client build limits, off by default', () => {
    expect(loadConfig({}).buildLimits).toEqual({ maxConcurrent: 0, perMinute: 0 });
    expect(loadConfig({ NIXYARD_MAX_BUILDS_PER_CLIENT: '2', NIXYARD_BUILD_RATE: '10' }).buildLimits).toEqual({ maxConcurrent: 2, perMinute: 10 });
    expect(problems({ NIXYARD_BUILD_RATE: 'lots' })[0]).toContain('NIXYARD_BUILD_RATE="lots" is not allowed');
  });

  it('reads webhooks: off by default, on with a secret, the images to pre-build and a git package source', () => {
    expect(loadConfig({}).webhooks).toBeUndefined();
    const repo = { NIXERY_PKGS_REPO: 'https://git.example/pkgs.git' };
    expect(loadConfig({ ...repo, NIXYARD_WEBHOOK_SECRET: 's3cret', NIXYARD_PREBUILD: 'shell/git, hello,hello' }).webhooks).toEqual({ secret: 's3cret', prebuild: ['shell/git', 'hello'], refs: ['*'] });
    expect(loadConfig({ ...repo, NIXYARD_WEBHOOK_SECRET: 's3cret', NIXYARD_PREBUILD: 'hello', NIXYARD_WEBHOOK_REFS: 'main, v*,refs/tags/release-*' }).webhooks?.refs).toEqual(['main', 'v*', 'refs/tags/release-*']);
  });

  it('refuses webhook settings without a git package source, a secret or valid names, one line each', () => {
    expect(problems({ NIXYARD_WEBHOOK_SECRET: 's3cret', NIXYARD_PREBUILD: 'hello' })).toEqual([
      'NIXYARD_WEBHOOK_SECRET is set without NIXERY_PKGS_REPO: webhooks pre-build images at the commits pushed to the git repository of the package set; set NIXERY_PKGS_REPO (the package source is now a channel)',
    ]);
    expect(problems({ NIXERY_PKGS_PATH: '/srv/pkgs', NIXYARD_WEBHOOK_SECRET: 's3cret', NIXYARD_PREBUILD: 'hello' })[0]).toContain('(the package source is now a path)');
    expect(problems({ NIXERY_PKGS_REPO: '/srv/pkgs.git', NIXYARD_PREBUILD: 'hello', NIXYARD_WEBHOOK_REFS: 'main' })).toEqual([
      'NIXYARD_PREBUILD is set without NIXYARD_WEBHOOK_SECRET: webhooks need the secret the forges sign their deliveries with',
      'NIXYARD_WEBHOOK_REFS is set without NIXYARD_WEBHOOK_SECRET: webhooks need the secret the forges sign their deliveries with',
    ]);
    expect(problems({ NIXERY_PKGS_REPO: '/srv/pkgs.git', NIXYARD_WEBHOOK_SECRET: 's3cret' })).toEqual([
      'NIXYARD_PREBUILD is not set: name the images to pre-build when a push arrives, separated by commas (e.g. shell/git,hello)',
    ]);
    expect(problems({ NIXERY_PKGS_REPO: '/srv/pkgs.git', NIXYARD_WEBHOOK_SECRET: 's3cret', NIXYARD_PREBUILD: 'hello,Shell/Git,a//b', NIXYARD_WEBHOOK_REFS: 'main,../x' })).toEqual([
      'NIXYARD_PREBUILD has invalid image names ["Shell/Git","a//b"]: expected image names (lowercase components separated by "/") separated by commas',
      'NIXYARD_WEBHOOK_REFS="main,../x" is not allowed: expected branch or tag names (main, v*, refs/tags/*) separated by commas, or * for all',
    ]);
    expect(problems({ NIXERY_PKGS_REPO: '/srv/pkgs.git', NIXYARD_WEBHOOK_SECRET: 's3cret', NIXYARD_PREBUILD: 'hello', NIXYARD_WEBHOOK_REFS: ' , ' })[0]).toContain('NIXYARD_WEBHOOK_REFS="," is not allowed');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', NIXERY_CHANNEL: '' }).port).toBe(8080);
  });

  it('reads notifications: off by default, on with a URL and its secret, 6 attempts unless told', () => {
    expect(loadConfig({}).notify).toBeUndefined();
    expect(loadConfig({ NIXYARD_NOTIFY_URL: 'https://deploy.example/hooks/nixyard', NIXYARD_NOTIFY_SECRET: ' s3cret ' }).notify).toEqual({ url: 'https://deploy.example/hooks/nixyard', secret: 's3cret', attempts: 6 });
    expect(loadConfig({ NIXYARD_NOTIFY_URL: 'http://127.0.0.1:9000/', NIXYARD_NOTIFY_SECRET: 's', NIXYARD_NOTIFY_ATTEMPTS: '1' }).notify?.attempts).toBe(1);
  });

  it('refuses notification settings without a URL, a secret, or with a URL that cannot be POSTed to, one line each', () => {
    expect(problems({ NIXYARD_NOTIFY_URL: 'https://deploy.example/hooks' })).toEqual([
      'NIXYARD_NOTIFY_SECRET is not set: NIXYARD_NOTIFY_URL needs the secret the notifications are signed with (X-Nixyard-Signature-256), shared with the receiver',
    ]);
    expect(problems({ NIXYARD_NOTIFY_SECRET: 's3cret', NIXYARD_NOTIFY_ATTEMPTS: '3' })).toEqual([
      'NIXYARD_NOTIFY_SECRET is set without NIXYARD_NOTIFY_URL: notifications need the URL to POST to',
      'NIXYARD_NOTIFY_ATTEMPTS is set without NIXYARD_NOTIFY_URL: notifications need the URL to POST to',
    ]);
    for (const url of ['deploy.example/hooks', 'ftp://deploy.example/', 'file:///tmp/x', 'http://']) {
      expect(problems({ NIXYARD_NOTIFY_URL: url, NIXYARD_NOTIFY_SECRET: 's' })).toEqual([
        `NIXYARD_NOTIFY_URL=${JSON.stringify(url)} is not allowed: expected an http(s) URL to POST build notifications to, e.g. https://deploy.example/hooks/nixyard`,
      ]);
    }
    expect(problems({ NIXYARD_NOTIFY_URL: 'https://user:pass@deploy.example/', NIXYARD_NOTIFY_SECRET: 's' })[0]).toContain('NIXYARD_NOTIFY_URL has a user name or password in it');
    expect(problems({ NIXYARD_NOTIFY_URL: 'https://deploy.example/', NIXYARD_NOTIFY_SECRET: 's', NIXYARD_NOTIFY_ATTEMPTS: '0' })).toEqual(['NIXYARD_NOTIFY_ATTEMPTS="0" is not allowed: expected an integer from 1 to 20']);
  });

  it('reads the RabbitMQ queue: off by default, on with a URL, with its queue name, attempts and first retry delay', () => {
    expect(loadConfig({}).queue).toBeUndefined();
    expect(loadConfig({ NIXYARD_AMQP_URL: 'amqp://nixyard:secret@127.0.0.1:5672/' }).queue).toEqual({ url: 'amqp://nixyard:secret@127.0.0.1:5672/', queue: 'nixyard.builds', maxAttempts: 5, retryDelaySeconds: 10 });
    expect(loadConfig({ NIXYARD_AMQP_URL: 'amqps://mq.example/prod', NIXYARD_AMQP_QUEUE: 'prod.builds', NIXYARD_MAX_ATTEMPTS: '2', NIXYARD_RETRY_DELAY: '1' }).queue).toEqual({
      url: 'amqps://mq.example/prod',
      queue: 'prod.builds',
      maxAttempts: 2,
      retryDelaySeconds: 1,
    });
  });

  it('refuses queue settings without a URL, a URL that is not AMQP (password hidden) and reserved queue names, one line each', () => {
    expect(problems({ NIXYARD_MAX_ATTEMPTS: '3', NIXYARD_AMQP_QUEUE: 'q' })).toEqual([
      "NIXYARD_AMQP_QUEUE is set without NIXYARD_AMQP_URL: it configures the RabbitMQ build queue, which needs the broker's URL (amqp://user:password@host:5672/vhost)",
      "NIXYARD_MAX_ATTEMPTS is set without NIXYARD_AMQP_URL: it configures the RabbitMQ build queue, which needs the broker's URL (amqp://user:password@host:5672/vhost)",
    ]);
    expect(problems({ NIXYARD_AMQP_URL: 'http://user:hunter2@mq.example/' })).toEqual([
      'NIXYARD_AMQP_URL="http://user:***@mq.example/" is not allowed: expected an amqp:// or amqps:// URL of a RabbitMQ broker, e.g. amqp://nixyard:secret@rabbitmq.internal:5672/',
    ]);
    expect(problems({ NIXYARD_AMQP_URL: 'amqp://mq.example', NIXYARD_AMQP_QUEUE: 'amq.builds' })[0]).toContain('not starting with "amq."');
    expect(problems({ NIXYARD_AMQP_URL: 'amqp://mq.example', NIXYARD_MAX_ATTEMPTS: '0' })).toEqual(['NIXYARD_MAX_ATTEMPTS="0" is not allowed: expected an integer from 1 to 50']);
  });

  it('reads the settings of builds from application source, and refuses what cannot work', () => {
    expect(loadConfig({}).sourceBuilds).toEqual({ nixpkgsArchive: false, prefix: 'apps', nixpacks: 'nixpacks', allowLocal: false, network: true, timeoutSeconds: 1800, cacheLimitBytes: 1024 * 1024 * 1024 });
    expect(loadConfig({ NIXYARD_APPS_PREFIX: '/builds/', NIXYARD_SOURCE_NETWORK: '0', NIXYARD_SOURCE_ALLOW_LOCAL: '1', NIXYARD_SOURCE_TIMEOUT: '60', NIXYARD_SOURCE_CACHE_MB: '0' }).sourceBuilds).toMatchObject({ prefix: 'builds', network: false, allowLocal: true, timeoutSeconds: 60, cacheLimitBytes: 0 });
    expect(loadConfig({ NIXERY_CHANNEL: 'nixos-unstable', NIXYARD_SOURCE_NIXPKGS_ARCHIVE: '1' }).sourceBuilds.nixpkgsArchive).toBe(true);
    expect(problems({ NIXERY_PKGS_PATH: '/srv/pkgs', NIXYARD_SOURCE_NIXPKGS_ARCHIVE: '1', NIXYARD_SOURCE_NETWORK: 'maybe', NIXYARD_APPS_PREFIX: 'Apps' })).toEqual([
      'NIXYARD_APPS_PREFIX="Apps" is not allowed: expected an image name prefix (lowercase components separated by "/"), e.g. apps',
      'NIXYARD_SOURCE_NIXPKGS_ARCHIVE=1 needs a nixpkgs channel (NIXERY_CHANNEL): the package source is now a path, which has no nixpkgs commits to pin',
      'NIXYARD_SOURCE_NETWORK="maybe" is not allowed: expected 1 or 0',
    ]);
  });

  it('reads how the instance is operated: log, metrics, proxies, draining, serve-only', () => {
    expect(loadConfig({}).operations).toEqual({ logLevel: 'info', logFormat: undefined, trustProxy: false, metricsToken: undefined, metricsPort: undefined, drainSeconds: 10, serveOnly: false });
    expect(
      loadConfig({ NIXYARD_LOG_LEVEL: 'DEBUG', NIXYARD_LOG_FORMAT: 'json', NIXYARD_TRUST_PROXY: 'loopback, 10.0.0.0/8,::1', NIXYARD_METRICS_TOKEN: 't', NIXYARD_METRICS_PORT: '9464', NIXYARD_DRAIN_SECONDS: '0', NIXYARD_SERVE_ONLY: '1' }).operations,
    ).toEqual({ logLevel: 'debug', logFormat: 'json', trustProxy: ['loopback', '10.0.0.0/8', '::1'], metricsToken: 't', metricsPort: 9464, drainSeconds: 0, serveOnly: true });
    expect(loadConfig({ NIXYARD_TRUST_PROXY: 'true' }).operations.trustProxy).toBe(true);
    expect(loadConfig({ NIXYARD_TRUST_PROXY: '2' }).operations.trustProxy).toBe(2);
    expect(problems({ NIXYARD_LOG_LEVEL: 'verbose', NIXYARD_LOG_FORMAT: 'xml', NIXYARD_TRUST_PROXY: 'my-proxy,10.0.0.0/40', NIXYARD_SERVE_ONLY: 'yes' })).toEqual([
      'NIXYARD_LOG_LEVEL="verbose" is not allowed: expected debug, info, warn, error',
      'NIXYARD_LOG_FORMAT="xml" is not allowed: expected json or pretty',
      'NIXYARD_TRUST_PROXY="my-proxy,10.0.0.0/40" is not allowed: expected true, false, a number of proxies, or addresses and subnets separated by commas (e.g. loopback,10.0.0.0/8)',
      'NIXYARD_SERVE_ONLY="yes" is not allowed: expected 1 or 0',
    ]);
  });
});
