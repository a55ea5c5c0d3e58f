import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parsePopcountArgs, PopcountUsageError, runPopcountCommand } from './popcount.js';

const env = { XDG_CACHE_HOME: '/var/cache/test' };

describe('parsePopcountArgs', () => {
  it('fills the channel defaults (cache directory per binary cache)', () => {
    expect(parsePopcountArgs(['--channel', 'nixos-unstable'], env)).toEqual({
      mode: 'channel',
      channel: 'nixos-unstable',
      channelsUrl: 'https://channels.nixos.org',
      cacheUrl: 'https://cache.nixos.org',
      cacheDir: '/var/cache/test/nixyard/narinfo/cache.nixos.org',
      concurrency: 32,
      retries: 4,
      allowMissing: false,
      out: undefined,
    });
  });

  it('takes every channel option, with = or as the next argument', () => {
    const options = parsePopcountArgs(
      ['--channel=nixos-24.05', '--channels-url', 'http://127.0.0.1:9/c/', '--cache-url=http://127.0.0.1:9/cache', '--cache-dir', '/tmp/n', '--concurrency', '4', '--retries=0', '--allow-missing', '--out', 'p.json'],
      env,
    );
    expect(options).toMatchObject({ channel: 'nixos-24.05', channelsUrl: 'http://127.0.0.1:9/c', cacheUrl: 'http://127.0.0.1:9/cache', cacheDir: '/tmp/n', concurrency: 4, retries: 0, allowMissing: true, out: 'p.json' });
  });

  it('takes a package set with its arguments', () => {
    expect(parsePopcountArgs(['--pkgs', 'nix/demo', '--args', '{"syntheticCount":20}', '--build-timeout', '5'], env)).toEqual({
      mode: 'pkgs',
      pkgsPath: 'nix/demo',
      args: { syntheticCount: 20 },
      buildTimeoutSeconds: 5,
      out: undefined,
    });
  });

  it.each([
    [[], /give exactly one of --channel NAME and --pkgs PATH/],
    [['--channel', 'a', '--pkgs', 'b'], /give exactly one of/],
    [['--channel', 'nixos unstable'], /--channel "nixos unstable" is not a channel name/],
    [['--channel', 'x', '--concurrency', '0'], /--concurrency "0" is not allowed: expected an integer from 1 to 1024/],
    [['--channel', 'x', '--cache-url', 'ftp://x'], /--cache-url "ftp:\/\/x" is not an http\(s\) URL/],
    [['--channel', 'x', '--channels-url', 'nope'], /--channels-url "nope" is not a URL/],
    [['--channel', 'x', '--args', '{}'], /--args only apply to --pkgs/],
    [['--pkgs', 'x', '--allow-missing'], /--allow-missing only apply to --channel/],
    [['--pkgs', 'x', '--args', '[1]'], /--args must be a JSON object/],
    [['--pkgs', 'x', '--args', '{'], /--args is not JSON/],
    [['--pkgs'], /--pkgs needs a value/],
    [['--channel', 'a', '--channel', 'b'], /--channel is given twice/],
    [['--frobnicate'], /unknown argument "--frobnicate"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parsePopcountArgs(argv as string[], env)).toThrow(PopcountUsageError);
    expect(() => parsePopcountArgs(argv as string[], env)).toThrow(message);
  });
});

describe('runPopcountCommand', () => {
  it('prints its usage for --help', async () => {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    expect(await runPopcountCommand(['--help'], stdout, new PassThrough())).toBe(0);
    expect(Buffer.concat(chunks).toString()).toContain('usage: nixyard popcount --channel NAME');
  });

  it('names a package set that does not exist', async () => {
    await expect(runPopcountCommand(['--pkgs', '/nonexistent/pkgs'], new PassThrough(), new PassThrough())).rejects.toThrow(
      '--pkgs "/nonexistent/pkgs": no such file or directory',
    );
  });
});
