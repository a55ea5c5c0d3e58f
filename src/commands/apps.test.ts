import { describe, expect, it } from 'vitest';
import { AppsUsageError, formatApp, parseAppsArgs } from './apps.js';

const parse = (...argv: string[]) => parseAppsArgs(argv, {});

describe('parseAppsArgs', () => {
  it('reads connect with every option into the API body', () => {
    const { action, registry } = parse(
      'connect', '--repo', 'https://git.example.com/acme/shop.git', '--image', 'apps/acme/web', '--dir', 'web', '--branch', 'main', '--branch', 'release/*', '--tags',
      '--push', 'ghcr.io/acme/web', '--callback-url', 'https://deploy.example/cb', '--callback-token', 'token-0123456789abcdef', '--start-cmd', 'node dist/server.js', '--env', 'A=1', '--pkgs', 'ffmpeg,git', '--build-timeout', '600', '--registry', 'http://r:8080/',
    );
    expect(registry).toBe('http://r:8080');
    expect(action).toEqual({
      command: 'connect',
      json: false,
      app: {
        repo: 'https://git.example.com/acme/shop.git',
        image: 'apps/acme/web',
        dir: 'web',
        branches: ['main', 'release/*'],
        tags: true,
        push: ['ghcr.io/acme/web'],
        callback: { url: 'https://deploy.example/cb', token: 'token-0123456789abcdef' },
        overrides: { startCmd: 'node dist/server.js', env: { A: '1' }, pkgs: ['ffmpeg', 'git'] },
        buildTimeout: 600,
      },
    });
  });

  it('reads update with only the options given, and --no-push, --no-tags', () => {
    expect(parse('update', 'app-0123456789', '--no-push', '--no-tags', '--json').action).toEqual({ command: 'update', id: 'app-0123456789', app: { push: [], tags: false }, json: true });
    expect(parse('show', 'app-0123456789').action).toEqual({ command: 'show', id: 'app-0123456789', json: false });
    expect(parse('list', '--json').action).toEqual({ command: 'list', json: true });
  });

  it.each([
    [[], /no command given/],
    [['connect', '--repo', 'https://x/y.git'], /connect needs --repo URL and --image apps\/NAME/],
    [['update', 'app-0123456789'], /update needs at least one option to change/],
    [['show'], /show needs one app id/],
    [['disconnect', 'a', 'b'], /disconnect needs one app id/],
    [['show', 'app-0123456789', '--tags'], /show takes no app options/],
    [['connect', '--repo', 'r', '--image', 'i', '--callback-url', 'https://x/cb'], /--callback-url and --callback-token go together/],
    [['connect', '--repo', 'r', '--image', 'i', '--push', 'a/b', '--no-push'], /--push and --no-push contradict/],
    [['connect', '--repo', 'r', '--image', 'i', '--env', 'NOEQUALS'], /--env "NOEQUALS" is not K=V/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['list', '--bogus'], /Unknown option '--bogus'/],
  ])('%j is a usage error: %s', (argv, problem) => {
    expect(() => parse(...argv)).toThrow(AppsUsageError);
    expect(() => parse(...argv)).toThrow(problem);
  });
});

describe('formatApp', () => {
  it('says what the app builds, where it pushes, its webhook, the secret once, and the latest builds', () => {
    const text = formatApp(
      {
        id: 'app-0123456789',
        repo: 'https://***@git.example.com/acme/shop.git',
        image: 'apps/acme/web',
        dir: 'web',
        branches: [],
        tags: true,
        defaultBranch: null,
        overrides: {},
        buildTimeout: null,
        push: null,
        callback: null,
        webhookUrl: '/v1/apps/app-0123456789/webhook',
        webhookSecret: 'f00d',
        createdAt: '2026-12-04T10:00:00.000Z',
        updatedAt: '2026-12-04T10:00:00.000Z',
        builds: [{ ref: 'refs/heads/main', commit: '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d', build: '20261204T100000000Z-1a2b3c4d', tag: 'main-1a2b3c4', order: 1, at: '2026-12-04T10:00:00.000Z' }],
      },
      'http://r:8080',
    );
    expect(text).toBe(
      [
        'app app-0123456789: apps/acme/web',
        '  repository   https://***@git.example.com/acme/shop.git (web)',
        '  builds       pushes to the default branch, and tags',
        "  pushes to    the registry's defaults",
        '  callback     none',
        '  webhook      POST http://r:8080/v1/apps/app-0123456789/webhook',
        "  secret       f00d   (shown once: give it to the forge's webhook)",
        '  main: apps/acme/web:main-1a2b3c4 (build 20261204T100000000Z-1a2b3c4d, 1a2b3c4d5e6f, 2026-12-04 10:00:00)',
        '',
      ].join('\n'),
    );
  });
});
