/**
 * NIXERY_PKGS_PATH with real Nix and real git: a local copy of the demo set, cached by a hash of
 * its contents, or by its commit when it is a clean git checkout.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PathSource } from '../../src/pkgsource/path-source.js';
import { demoServersOfBlock } from '../helpers/demo-server.js';
import { countingNix, forbiddenNix, pullImage, setGreeting, writeDemoSet } from '../helpers/package-sets.js';
import { requireTool } from '../helpers/tools.js';

describe('package source: a local path', () => {
  let work: string;
  const start = demoServersOfBlock();

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'nixyard-path-test-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('editing the directory is a new image after the TTL; an unchanged directory is served from cache', async () => {
    const dir = join(work, 'pkgs');
    await writeDemoSet(dir, 'Hello from the path!');
    const env = { NIXERY_PKGS_PATH: dir, STORAGE_PATH: join(work, 'storage') };
    const nix = countingNix();
    const registry = await start({ ...env, NIXYARD_SOURCE_TTL: '0' }, { nix });

    const original = await pullImage(registry.url, 'hello', 'latest');
    expect(original.status, original.body).toBe(200);
    expect(original.text).toContain('Hello from the path!');
    expect((await pullImage(registry.url, 'hello', 'latest')).digest).toBe(original.digest);
    expect(nix.builds).toBe(1);
    const steady = await start({ ...env, NIXYARD_SOURCE_TTL: '3600' }, { nix: forbiddenNix });
    expect((await pullImage(steady.url, 'hello', 'latest')).digest).toBe(original.digest);

    await setGreeting(dir, 'Hello, edited!');
    const edited = await pullImage(registry.url, 'hello', 'latest');
    expect(edited.status, edited.body).toBe(200);
    expect(edited.digest).not.toBe(original.digest);
    expect(edited.text).toContain('Hello, edited!');
    expect(nix.builds).toBe(2);
    // Within its TTL the other instance keeps the revision it read.
    expect((await pullImage(steady.url, 'hello', 'latest')).digest).toBe(original.digest);

    // Undoing the edit is the first revision again: served from cache.
    await setGreeting(dir, 'Hello from the path!');
    expect((await pullImage(registry.url, 'hello', 'latest')).digest).toBe(original.digest);
    expect(nix.builds).toBe(2);
  });

  it('a clean git checkout is keyed by its commit, a dirty one by a hash of its contents', async () => {
    await requireTool('git', 'apt-get install -y git');
    const dir = join(work, 'checkout');
    await writeDemoSet(dir, 'Hello from a checkout!');
    const git = async (...args: string[]) => (await execa('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args])).stdout;
    await git('init', '--quiet');
    await writeFile(join(dir, '.gitignore'), 'ignored\n');
    await git('add', '--all');
    await git('commit', '--quiet', '-m', 'one');
    const source = new PathSource(dir, 0);
    const revision = async () => (await source.resolve('latest')).revision;

    expect(await revision()).toBe(`path:git:${await git('rev-parse', 'HEAD')}:{}`);
    await writeFile(join(dir, 'ignored'), 'not part of the set');
    expect(await revision()).toBe(`path:git:${await git('rev-parse', 'HEAD')}:{}`);

    await setGreeting(dir, 'Hello, uncommitted!');
    const dirty = await revision();
    expect(dirty).toMatch(/^path:sha256:[0-9a-f]{64}:\{\}$/);
    await git('commit', '--quiet', '--all', '-m', 'two');
    expect(await revision()).toBe(`path:git:${await git('rev-parse', 'HEAD')}:{}`);

    await writeFile(join(dir, 'untracked.nix'), '{ }');
    expect(await revision()).toMatch(/^path:sha256:/);
    await rm(join(dir, 'untracked.nix'));

    // A directory inside a checkout is hashed: the commit names more than the set.
    await mkdir(join(dir, 'sub'));
    await writeDemoSet(join(dir, 'sub', 'pkgs'), 'Hello from a subdirectory!');
    await git('add', '--all');
    await git('commit', '--quiet', '-m', 'three');
    expect((await new PathSource(join(dir, 'sub', 'pkgs'), 0).resolve('latest')).revision).toMatch(/^path:sha256:/);

    // The image: a clean checkout builds from the directory like any other.
    const registry = await start({ NIXERY_PKGS_PATH: dir, NIXYARD_SOURCE_TTL: '0' });
    const image = await pullImage(registry.url, 'hello', 'latest');
    expect(image.status, image.body).toBe(200);
    expect(image.text).toContain('Hello, uncommitted!');
  });

  it('a directory that cannot be read is 503 UNAVAILABLE naming it', async () => {
    const gone = join(work, 'no-such-dir');
    const registry = await start({ NIXERY_PKGS_PATH: gone }, { nix: forbiddenNix });
    const res = await request(registry.url).get('/v2/hello/manifests/latest');
    expect(res.status, res.text).toBe(503);
    expect(res.body.errors[0].code).toBe('UNAVAILABLE');
    expect(res.body.errors[0].message).toContain(gone);
  });
});
