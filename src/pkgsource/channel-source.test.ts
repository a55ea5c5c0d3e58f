import { afterEach, describe, expect, it, vi } from 'vitest';
import { RegistryError } from '../errors.js';
import { ChannelSource, channelRevisionUrl, nixpkgsTarballUrl, parseGitRevision } from './channel-source.js';

const URLS = { channels: 'http://channels.test/', tarballs: 'http://tarballs.test/archive//' };
const C1 = '1'.repeat(40);
const C2 = '2'.repeat(40);

/** Replaces `fetch` with one answering from `answer` and counting calls. */
function stubFetch(answer: (url: string) => Response | Promise<Response>) {
  const calls: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    calls.push(String(url));
    return answer(String(url));
  });
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('channel URLs and git-revision', () => {
  it('builds the URLs without doubled slashes', () => {
    expect(channelRevisionUrl(URLS, 'nixos-unstable')).toBe('http://channels.test/nixos-unstable/git-revision');
    expect(nixpkgsTarballUrl(URLS, C1)).toBe(`http://tarballs.test/archive/${C1}.tar.gz`);
  });

  it('reads a commit from a git-revision body, nothing else', () => {
    expect(parseGitRevision(`${C1}\n`)).toBe(C1);
    expect(parseGitRevision('<html>not found</html>')).toBeUndefined();
    expect(parseGitRevision(C1.slice(0, 12))).toBeUndefined();
  });
});

describe('ChannelSource', () => {
  it('resolves a channel to its commit, keys the revision by it and fetches that tarball', async () => {
    const calls = stubFetch(() => new Response(`${C1}\n`));
    const source = new ChannelSource('nixos-unstable', URLS, 60_000);
    const resolved = await source.resolve('latest');
    expect(resolved.revision).toBe(`nixpkgs:${C1}`);
    expect(resolved.nix).toEqual({ srcType: 'nixpkgs', srcArgs: JSON.stringify({ url: `http://tarballs.test/archive/${C1}.tar.gz` }) });
    expect(calls).toEqual(['http://channels.test/nixos-unstable/git-revision']);
    expect(source.description).toBe('nixpkgs channel nixos-unstable');
    expect(await source.tags()).toEqual(['latest']);
  });

  it('trusts the commit for the TTL, then follows the channel', async () => {
    let now = 0;
    let commit = C1;
    const calls = stubFetch(() => new Response(commit));
    const source = new ChannelSource('nixos-unstable', URLS, 300_000, () => now);
    expect((await source.resolve('latest')).revision).toBe(`nixpkgs:${C1}`);
    commit = C2;
    now = 299_999;
    expect((await source.resolve('other-tag')).revision).toBe(`nixpkgs:${C1}`);
    now = 300_000;
    expect((await source.resolve('latest')).revision).toBe(`nixpkgs:${C2}`);
    expect(calls).toHaveLength(2);
  });

  it('a commit is used as it is, without any request', async () => {
    const calls = stubFetch(() => new Response('unused'));
    const source = new ChannelSource(C2, URLS, 0);
    expect((await source.resolve('latest')).revision).toBe(`nixpkgs:${C2}`);
    expect(source.description).toBe(`nixpkgs commit ${C2}`);
    expect(calls).toEqual([]);
  });

  it('fails with UNAVAILABLE naming the channel: unreachable, 404, not a commit; never the old commit', async () => {
    let now = 0;
    let answer: () => Response = () => new Response(C1);
    stubFetch(() => answer());
    const source = new ChannelSource('nixos-24.05', URLS, 1000, () => now);
    await source.resolve('latest');
    now = 1000;
    const failures: [() => Response, RegExp][] = [
      [() => { throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }); }, /ECONNREFUSED/],
      [() => new Response('Not Found', { status: 404 }), /answered 404 \(is the channel name right\?\)/],
      [() => new Response('<html>'), /did not answer with a commit but "<html>"/],
    ];
    for (const [failure, reason] of failures) {
      answer = failure;
      const error = await source.resolve('latest').then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as RegistryError).code).toBe('UNAVAILABLE');
      expect((error as RegistryError).message).toContain('nixos-24.05');
      expect((error as RegistryError).message).toMatch(reason);
    }
  });
});
