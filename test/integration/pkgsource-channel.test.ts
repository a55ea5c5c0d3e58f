/**
 * NIXERY_CHANNEL with real Nix against a loopback stand-in for channels.nixos.org and GitHub's
 * archives (test/helpers/channel-server.ts), serving copies of the demo set as nixpkgs commits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomCommit, startChannelServer, type ChannelServer } from '../helpers/channel-server.js';
import { demoServersOfBlock } from '../helpers/demo-server.js';
import { countingNix, forbiddenNix, pullImage, writeDemoSet } from '../helpers/package-sets.js';

const CHANNEL = 'nixos-test';

describe('package source: a nixpkgs channel', () => {
  let channels: ChannelServer;
  let work: string;
  const one = randomCommit();
  const two = randomCommit();
  const env = (extra: Record<string, string>) => ({
    NIXERY_PKGS_PATH: '',
    NIXERY_CHANNEL: CHANNEL,
    NIXYARD_CHANNELS_URL: channels.channelsUrl,
    NIXYARD_TARBALLS_URL: channels.tarballsUrl,
    ...extra,
  });
  const start = demoServersOfBlock();

  beforeAll(async () => {
    channels = await startChannelServer();
    work = await mkdtemp(join(tmpdir(), 'nixyard-channel-test-'));
    await writeDemoSet(join(work, 'one'), 'Hello from commit one!');
    await writeDemoSet(join(work, 'two'), 'Hello from commit two!');
    await channels.addCommit(one, join(work, 'one'));
    await channels.addCommit(two, join(work, 'two'));
    channels.setChannel(CHANNEL, one);
  });
  afterAll(async () => {
    await channels?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds from the commit the channel names, serves it from cache, and follows the channel after the TTL', async () => {
    const storage = join(work, 'storage');
    const nix = countingNix();
    const registry = await start(env({ NIXYARD_CHANNEL_TTL: '1', STORAGE_PATH: storage }), { nix });

    const first = await pullImage(registry.url, 'hello', 'latest');
    expect(first.status, first.body).toBe(200);
    expect(first.text).toContain('Hello from commit one!');
    expect(nix.builds).toBe(1);
    expect(channels.requests).toContain(`/archive/${one}.tar.gz`);

    const again = await pullImage(registry.url, 'hello', 'latest');
    expect(again.digest).toBe(first.digest);
    expect(nix.builds).toBe(1);

    // Another instance on the same storage, trusting the channel for an hour, without Nix.
    const steady = await start(env({ NIXYARD_CHANNEL_TTL: '3600', STORAGE_PATH: storage }), { nix: forbiddenNix });
    expect((await pullImage(steady.url, 'hello', 'latest')).digest).toBe(first.digest);

    channels.setChannel(CHANNEL, two);
    // Within its TTL the steady instance still serves the commit it read.
    expect((await pullImage(steady.url, 'hello', 'latest')).digest).toBe(first.digest);
    // Past the first instance's TTL of 1 s it reads the channel again and builds the new commit.
    await sleep(1100);
    const moved = await pullImage(registry.url, 'hello', 'latest');
    expect(moved.status, moved.body).toBe(200);
    expect(moved.digest).not.toBe(first.digest);
    expect(moved.text).toContain('Hello from commit two!');
    expect(moved.text).not.toContain('Hello from commit one!');
    expect(nix.builds).toBe(2);
    expect(channels.requests).toContain(`/archive/${two}.tar.gz`);

    // Every tag of a channel is the same image.
    expect((await pullImage(registry.url, 'hello', 'anything')).digest).toBe(moved.digest);
    expect(nix.builds).toBe(2);
  });

  it('a commit in NIXERY_CHANNEL is used without asking the channel server, and shares the cache', async () => {
    const storage = join(work, 'storage-pinned');
    const builder = await start(env({ NIXERY_CHANNEL: one, STORAGE_PATH: storage }), { nix: countingNix() });
    const revisionRequests = () => channels.requests.filter((path) => path.endsWith('/git-revision')).length;
    const before = revisionRequests();
    const pinned = await pullImage(builder.url, 'hello', 'latest');
    expect(pinned.status, pinned.body).toBe(200);
    expect(pinned.text).toContain('Hello from commit one!');
    expect(revisionRequests()).toBe(before);

    // The channel, pointed back at that commit, finds the same cache entry: no Nix needed.
    channels.setChannel(CHANNEL, one);
    const follower = await start(env({ STORAGE_PATH: storage }), { nix: forbiddenNix });
    expect((await pullImage(follower.url, 'hello', 'latest')).digest).toBe(pinned.digest);
    expect(revisionRequests()).toBe(before + 1);
  });

  it('an unreachable channel server or an unknown channel is 503 UNAVAILABLE naming the channel', async () => {
    const unreachable = await start(env({ NIXYARD_CHANNELS_URL: 'http://127.0.0.1:9/channels' }), { nix: forbiddenNix });
    const down = await request(unreachable.url).get('/v2/hello/manifests/latest');
    expect(down.status, down.text).toBe(503);
    expect(down.body.errors[0].code).toBe('UNAVAILABLE');
    expect(down.body.errors[0].message).toContain(`nixpkgs channel ${CHANNEL}`);
    expect(down.body.errors[0].message).toContain('127.0.0.1:9');

    const unknown = await start(env({ NIXERY_CHANNEL: 'nixos-no-such-channel' }), { nix: forbiddenNix });
    const missing = await request(unknown.url).get('/v2/hello/manifests/latest');
    expect(missing.status, missing.text).toBe(503);
    expect(missing.body.errors[0].message).toContain('nixos-no-such-channel');
    expect(missing.body.errors[0].message).toContain('answered 404');
  });
});
