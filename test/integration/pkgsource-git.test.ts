/**
 * NIXERY_PKGS_REPO with real Nix against a repository served by `git daemon` on 127.0.0.1
 * (test/helpers/git-server.ts) holding copies of the demo set: image tags are branches, tags
 * (annotated and lightweight) and full commits, every image is keyed by the commit it used.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoServersOfBlock, startDemoServer } from '../helpers/demo-server.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { countingNix, forbiddenNix, pullImage, setGreeting, writeDemoSet } from '../helpers/package-sets.js';

describe('package source: a git repository', () => {
  let repo: GitServer;
  let first: string;
  const nix = countingNix();
  let registry: Awaited<ReturnType<typeof startDemoServer>>;
  let storage: string;
  const start = demoServersOfBlock();
  const env = (extra: Record<string, string> = {}) => ({ NIXERY_PKGS_PATH: '', NIXERY_PKGS_REPO: repo.url, NIXYARD_SOURCE_TTL: '0', STORAGE_PATH: storage, ...extra });
  const pull = (tag: string, url = registry.url) => pullImage(url, 'hello', tag);

  beforeAll(async () => {
    repo = await startGitServer();
    await writeDemoSet(repo.work, 'Hello from one!');
    first = await repo.commit('one');
    await repo.git('tag', '--annotate', '--message', 'version 1', 'v1');
    await repo.git('tag', 'light');
    await repo.push('main', 'v1', 'light');
    storage = join(repo.work, '..', 'storage');
    registry = await start(env(), { nix });
  });
  afterAll(async () => {
    await repo?.close();
  });

  it('a tag, the default branch and a full commit of one commit are one image, built once', async () => {
    const v1 = await pull('v1');
    expect(v1.status, v1.body).toBe(200);
    expect(v1.text).toContain('Hello from one!');
    expect(nix.builds).toBe(1);
    for (const tag of ['latest', 'main', 'light', first, first.toUpperCase()]) {
      expect((await pull(tag)).digest, tag).toBe(v1.digest);
    }
    expect(nix.builds).toBe(1);
  });

  it('a new commit on the default branch is a new image for latest; v1 stays, served from cache', async () => {
    const before = await pull('v1');
    await setGreeting(repo.work, 'Hello from two!');
    const second = await repo.commit('two');
    await repo.push('main');

    const latest = await pull('latest');
    expect(latest.status, latest.body).toBe(200);
    expect(latest.digest).not.toBe(before.digest);
    expect(latest.text).toContain('Hello from two!');
    expect(nix.builds).toBe(2);
    expect((await pull('main')).digest).toBe(latest.digest);
    expect((await pull(second)).digest).toBe(latest.digest);
    expect((await pull('v1')).digest).toBe(before.digest);
    expect(nix.builds).toBe(2);

    // Another instance on the same storage serves all of them without Nix.
    const cached = await start(env(), { nix: forbiddenNix });
    for (const [tag, digest] of [['v1', before.digest], ['light', before.digest], [first, before.digest], ['latest', latest.digest], [second, latest.digest]] as const) {
      const image = await pull(tag, cached.url);
      expect(image.status, `${tag}: ${image.body}`).toBe(200);
      expect(image.digest, tag).toBe(digest);
    }
  });

  it('a tag moved to a new commit yields the new image; a tag on no branch is fetched by its ref', async () => {
    const v1 = await pull('v1');
    const main = await pull('main');
    await repo.git('tag', '--force', '--annotate', '--message', 'version 1 again', 'v1', 'main');
    await repo.push('v1');
    expect((await pull('v1')).digest).toBe(main.digest);
    expect((await pull('v1')).digest).not.toBe(v1.digest);

    // A commit only a tag points to (not on any branch).
    await repo.git('checkout', '--quiet', '--detach');
    await setGreeting(repo.work, 'Hello from a tag!');
    await repo.commit('tagged only');
    await repo.git('tag', '--annotate', '--message', 'version 3', 'v3');
    await repo.git('checkout', '--quiet', 'main');
    await repo.push('v3');
    const builds = nix.builds;
    const v3 = await pull('v3');
    expect(v3.status, v3.body).toBe(200);
    expect(v3.text).toContain('Hello from a tag!');
    expect(nix.builds).toBe(builds + 1);
  });

  it('a commit inside a branch other than the default one (no ref tip) is fetched with all refs', async () => {
    await repo.git('checkout', '--quiet', '-b', 'side');
    await setGreeting(repo.work, 'Hello from side one!');
    const sideOne = await repo.commit('side one');
    await setGreeting(repo.work, 'Hello from side two!');
    const sideTwo = await repo.commit('side two');
    await repo.git('checkout', '--quiet', 'main');
    await repo.push('side');

    const inside = await pull(sideOne);
    expect(inside.status, inside.body).toBe(200);
    expect(inside.text).toContain('Hello from side one!');
    const tip = await pull('side');
    expect(tip.text).toContain('Hello from side two!');
    const builds = nix.builds;
    expect((await pull(sideTwo)).digest).toBe(tip.digest);
    expect(nix.builds).toBe(builds);
  });

  it('an unknown ref is 404 MANIFEST_UNKNOWN naming it; an unknown commit fails naming the commit', async () => {
    const res = await request(registry.url).get('/v2/hello/manifests/no-such-ref');
    expect(res.status, res.text).toBe(404);
    expect(res.body.errors[0].code).toBe('MANIFEST_UNKNOWN');
    expect(res.body.errors[0].message).toContain('"no-such-ref"');
    expect(res.body.errors[0].message).toContain(repo.url);

    const unknown = 'f'.repeat(40);
    const missing = await request(registry.url).get(`/v2/hello/manifests/${unknown}`);
    expect(missing.status, missing.text).toBeGreaterThanOrEqual(400);
    expect(missing.text).toContain(unknown);
  });

  it('/tags/list lists latest, the branches and the tags that are valid image tags', async () => {
    await repo.git('branch', 'feature/slashed', 'main');
    await repo.push('feature/slashed');
    const res = await request(registry.url).get('/v2/hello/tags/list');
    expect(res.status, res.text).toBe(200);
    expect(res.body.tags).toEqual(['latest', 'light', 'main', 'side', 'v1', 'v3']);
  });

  it('latest follows a renamed default branch at once', async () => {
    const before = await pull('latest');
    await setGreeting(repo.work, 'Hello from trunk!');
    await repo.commit('trunk');
    await repo.push('main:trunk');
    await execa('git', ['-C', repo.bare, 'symbolic-ref', 'HEAD', 'refs/heads/trunk']);
    await repo.push('--delete', 'main');
    const after = await pull('latest');
    expect(after.status, after.body).toBe(200);
    expect(after.digest).not.toBe(before.digest);
    expect(after.text).toContain('Hello from trunk!');
    expect((await pull('trunk')).digest).toBe(after.digest);
    expect((await request(registry.url).get('/v2/hello/manifests/main')).status).toBe(404);
  });

  it('an unreachable repository is 503 UNAVAILABLE naming it; images pulled by commit are still served', async () => {
    const down = await start(env({ NIXERY_PKGS_REPO: 'git://127.0.0.1:9/none.git' }), { nix: forbiddenNix });
    for (const tag of ['latest', 'v1']) {
      const res = await request(down.url).get(`/v2/hello/manifests/${tag}`);
      expect(res.status, res.text).toBe(503);
      expect(res.body.errors[0].code).toBe('UNAVAILABLE');
      expect(res.body.errors[0].message).toContain('git://127.0.0.1:9/none.git');
    }
    // The cache key is the commit: what was built from it is served without the repository.
    const cached = await pull(first, down.url);
    expect(cached.status, cached.body).toBe(200);
    expect(cached.text).toContain('Hello from one!');
  });
});
