// The closure cache with real Nix on a copy of the demo set: once Nix has evaluated packages at a
// revision, a new combination of them is built without nix-build (only rooted), into the same
// image bytes as a registry that evaluates it; a changed revision evaluates again; another
// instance on the same storage uses what the first one learnt.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../src/builds/record.js';
import type { BuildPage } from '../../src/builds/types.js';
import { demoServersOfBlock } from '../helpers/demo-server.js';
import { countingNix, pullImage, setGreeting, writeDemoSet } from '../helpers/package-sets.js';

describe('closure cache: known packages at a revision skip Nix evaluation (real Nix)', () => {
  let work: string;
  const start = demoServersOfBlock();
  const logOf = async (url: string, image: string) => {
    const page = (await (await fetch(`${url}/v1/builds?image=${image}&limit=1`)).json()) as BuildPage;
    const record = page.builds[0] as BuildRecord;
    return (await fetch(`${url}/v1/builds/${record.id}/logs`)).text();
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'nixyard-closures-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds a new combination of known packages without nix-build, into the bytes Nix would give', async () => {
    const dir = join(work, 'pkgs');
    await writeDemoSet(dir, 'Hello from the closure cache!');
    const storage = join(work, 'storage');
    const nix = countingNix();
    const registry = await start({ NIXERY_PKGS_PATH: dir, STORAGE_PATH: storage, NIXYARD_SOURCE_TTL: '0' }, { nix });

    expect((await pullImage(registry.url, 'shell/hello', 'latest')).status).toBe(200);
    expect(nix.builds).toBe(1);
    expect((await readdir(join(storage, 'closures'), { recursive: true })).filter((name) => name.includes('/'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^[0-9a-f]{64}\/hello$/), expect.stringMatching(/^[0-9a-f]{64}\/nano$/), expect.stringMatching(/^[0-9a-f]{64}\/bashInteractive$/)]),
    );

    // hello and nano (with cacert and iana-etc, which every image gets) were all in shell/hello.
    const known = await pullImage(registry.url, 'hello/nano', 'latest');
    expect(known.status, known.body).toBe(200);
    expect(known.text).toContain('Hello from the closure cache!');
    expect(nix.builds).toBe(1);
    expect(await logOf(registry.url, 'hello/nano')).toMatch(/nix: cacert hello iana-etc nano known at this revision, \d+ store paths in the store: no evaluation/);

    // A registry with its own storage evaluates the same combination: the same image.
    const evaluating = countingNix();
    const fresh = await start({ NIXERY_PKGS_PATH: dir, STORAGE_PATH: join(work, 'fresh-storage') }, { nix: evaluating });
    expect((await pullImage(fresh.url, 'hello/nano', 'latest')).digest).toBe(known.digest);
    expect(evaluating.builds).toBe(1);

    // Another instance on the first storage knows them too.
    const replica = countingNix();
    const second = await start({ NIXERY_PKGS_PATH: dir, STORAGE_PATH: storage }, { nix: replica });
    expect((await pullImage(second.url, 'shell/nano', 'latest')).status).toBe(200);
    expect(replica.builds).toBe(0);

    // A package not evaluated yet at this revision: Nix evaluates the whole combination.
    expect((await pullImage(registry.url, 'hello/coreutils/git', 'latest')).status).toBe(404);
    expect(nix.builds).toBe(2);

    // A changed revision is evaluated again, even for known names.
    await setGreeting(dir, 'Hello, another revision!');
    const changed = await pullImage(registry.url, 'hello/nano', 'latest');
    expect(changed.text).toContain('Hello, another revision!');
    expect(nix.builds).toBe(3);
  });
});
