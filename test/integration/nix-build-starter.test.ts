// `nix-build -` processes started ahead of their build, against real Nix: the expression they are
// given builds what the command line would, their out-links land in their own directory, one
// spare waits (and is replaced when it died), timeouts, cancellation and a missing Nix end
// them with a result that says so, and the out-links a killed registry left are removed.
import { execa } from 'execa';
import { mkdtemp, readlink, readdir, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NixBuildStarter, rootDirPrefix } from '../../src/builder/nix-build-starter.js';
import { createNix, nixString, prepareImageExpression } from '../../src/builder/nix.js';
import { DEMO_PKGS_PATH, NIX_DIR } from '../../src/paths.js';
import { OFFLINE_NIX_CONFIG } from '../helpers/demo-server.js';

const request = { source: { srcType: 'path' as const, srcArgs: JSON.stringify({ path: DEMO_PKGS_PATH }) }, system: 'x86_64-linux', packages: ['hello', 'cacert'] };
let dir = '';
let expectedRoots: string[] = [];
const starters: NixBuildStarter[] = [];

/** A starter of its own directory (`rootsDir`) whose spare is ended after the test. */
function starter(options: { spare: boolean; command?: string }): NixBuildStarter & { rootsDir: string } {
  const rootsDir = join(dir, `roots-${starters.length}-${Date.now()}`);
  const made = new NixBuildStarter({ rootsDir, ...options });
  starters.push(made);
  return Object.assign(made, { rootsDir });
}

/** The pids of this process's `nix-build -` children. */
async function waitingBuilds(): Promise<number[]> {
  const { stdout } = await execa('pgrep', ['-P', String(process.pid), '-f', 'nix-build - --out-link'], { reject: false });
  return stdout.split('\n').filter((line) => line !== '').map(Number);
}

/** A derivation whose build sleeps (new each call, so Nix really builds it). */
function sleeping(seconds: number): string {
  return `derivation { name = "sleeping"; system = builtins.currentSystem; builder = "/bin/sleep"; args = [ "${seconds}" ]; nonce = "${Date.now()}-${Math.random()}"; }`;
}

beforeAll(async () => {
  process.env['NIX_CONFIG'] ??= OFFLINE_NIX_CONFIG;
  dir = await mkdtemp(join(tmpdir(), 'nixyard-starter-'));
  const args = ['--argstr', 'srcType', 'path', '--argstr', 'srcArgs', request.source.srcArgs, '--argstr', 'system', request.system, '--argstr', 'packages', JSON.stringify(request.packages)];
  const built = await execa('nix-build', [join(NIX_DIR, 'prepare-image.nix'), ...args, '--out-link', join(dir, 'expected')]);
  expectedRoots = built.stdout.split('\n').filter((line) => line.startsWith('/'));
  expect(expectedRoots).toHaveLength(2);
}, 120_000);

afterEach(() => {
  for (const made of starters.splice(0)) made.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NixBuildStarter', () => {
  it('builds the expression it is given as the command line does, out-links in its own directory', async () => {
    const builds = starter({ spare: false });
    const build = builds.take();
    const result = await build.run(prepareImageExpression(request), { timeoutMs: 60_000 });
    expect(result, result.stderr).toMatchObject({ exitCode: 0, timedOut: false, canceled: false, notFound: false });
    expect(result.stdout.split('\n').filter((line) => line.startsWith('/'))).toEqual(expectedRoots);
    expect(result.stderr).toMatch(/^trace: nixyard-roots: /m);
    expect(build.rootDir.startsWith(`${builds.rootsDir}/`)).toBe(true);
    expect(await readlink(join(build.rootDir, 'result'))).toBe(expectedRoots[0]);
    expect(await readlink(join(build.rootDir, 'result-2'))).toBe(expectedRoots[1]);
  });

  it('passes any text through nixString unchanged', async () => {
    const texts = ['plain', 'say "hi"', 'back\\slash', '${builtins.currentSystem}', '\\${x}', '$', 'a$', 'two\nlines', 'ünïcødé ✓', '{"path":"/a b/c"}'];
    const { stdout } = await execa('nix-instantiate', ['--eval', '--json', '-E', `[ ${texts.map(nixString).join(' ')} ]`]);
    expect(JSON.parse(stdout)).toEqual(texts);
  });

  it('keeps one spare started ahead, hands it out next and ends it on close', async () => {
    const builds = starter({ spare: true });
    const first = builds.take();
    expect(await first.run(prepareImageExpression(request), { timeoutMs: 60_000 })).toMatchObject({ exitCode: 0 });
    const waiting = await waitingBuilds();
    expect(waiting).toHaveLength(1);
    const second = builds.take();
    expect(second.pid).toBe(waiting[0]);
    expect(await second.run(prepareImageExpression(request), { timeoutMs: 60_000 })).toMatchObject({ exitCode: 0 });
    const spare = await waitingBuilds();
    expect(spare).toHaveLength(1);
    expect(spare[0]).not.toBe(second.pid);
    const spareDirs = (await readdir(builds.rootsDir)).map((name) => join(builds.rootsDir, name)).filter((path) => ![first.rootDir, second.rootDir].includes(path));
    expect(spareDirs).toHaveLength(1);
    builds.close();
    await expect.poll(waitingBuilds, { timeout: 10_000 }).toEqual([]);
    await expect(stat(spareDirs[0] as string)).rejects.toMatchObject({ code: 'ENOENT' });
    // It ended by itself: nix-build removed its temporary directory (a SIGKILL leaves it behind).
    await expect(stat(join(tmpdir(), `nix-build-${spare[0]}-0`))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('starts none ahead when the spare is off', async () => {
    const builds = starter({ spare: false });
    expect(await builds.take().run('1', { timeoutMs: 60_000 })).toMatchObject({ exitCode: 1 });
    expect(await waitingBuilds()).toEqual([]);
  });

  it('replaces a spare that ended while it waited', async () => {
    const builds = starter({ spare: true });
    expect(await builds.take().run(prepareImageExpression(request), { timeoutMs: 60_000 })).toMatchObject({ exitCode: 0 });
    const [killed] = await waitingBuilds();
    process.kill(killed as number, 'SIGKILL');
    await expect.poll(waitingBuilds, { timeout: 10_000 }).not.toContain(killed);
    const next = builds.take();
    expect(next.pid).not.toBe(killed);
    expect(await next.run(prepareImageExpression(request), { timeoutMs: 60_000 })).toMatchObject({ exitCode: 0 });
  });

  it('stops a build that runs past its timeout, and says so', async () => {
    const build = starter({ spare: false }).take();
    const result = await build.run(sleeping(60), { timeoutMs: 1_000 });
    expect(result).toMatchObject({ timedOut: true, canceled: false });
    expect(result.exitCode).not.toBe(0);
    expect(await waitingBuilds()).toEqual([]);
  });

  it('stops a build that is cancelled while it runs or before it starts', async () => {
    const builds = starter({ spare: false });
    const running = new AbortController();
    setTimeout(() => running.abort(new Error('cancelled by the test')), 500);
    expect(await builds.take().run(sleeping(60), { timeoutMs: 60_000, signal: running.signal })).toMatchObject({ canceled: true, timedOut: false });
    const before = new AbortController();
    before.abort(new Error('cancelled by the test'));
    const result = await builds.take().run(sleeping(60), { timeoutMs: 60_000, signal: before.signal });
    expect(result).toMatchObject({ canceled: true });
    expect(result.stderr).not.toMatch(/building/);
    expect(await waitingBuilds()).toEqual([]);
  });

  it('removes the out-links a killed registry of this host left, and no one else\'s', async () => {
    const builds = starter({ spare: false });
    const ended = execa('true');
    await ended;
    const sleeper = execa('sleep', ['60']);
    try {
      const left = `${rootDirPrefix({ host: hostname(), pid: ended.pid as number })}Killed`;
      const running = `${rootDirPrefix({ host: hostname(), pid: sleeper.pid as number })}Runnin`;
      const elsewhere = `${rootDirPrefix({ host: 'another-host', pid: ended.pid as number })}Shared`;
      for (const name of [left, running, elsewhere]) {
        await execa('nix-store', ['--realise', expectedRoots[0] as string, '--add-root', join(builds.rootsDir, name, 'result')]);
      }
      const roots = async () => (await execa('nix-store', ['--gc', '--print-roots'])).stdout;
      expect(await roots()).toContain(join(builds.rootsDir, left, 'result'));

      expect(builds.removeAbandoned()).toEqual([left]);
      expect((await readdir(builds.rootsDir)).sort()).toEqual([elsewhere, running].sort());
      const after = await roots();
      expect(after).not.toContain(join(builds.rootsDir, left, 'result'));
      expect(after).toContain(join(builds.rootsDir, running, 'result'));
      // What this process makes itself is never taken for a left-over.
      const mine = builds.take();
      expect(builds.removeAbandoned()).toEqual([]);
      expect((await stat(mine.rootDir)).isDirectory()).toBe(true);
      expect(await mine.run('[ ]', { timeoutMs: 30_000 })).toMatchObject({ exitCode: 0 });
    } finally {
      sleeper.kill();
      await sleeper.catch(() => undefined);
    }
  });

  it('says when nix-build is not on PATH', async () => {
    const result = await starter({ spare: true, command: 'nixyard-no-such-nix-build' }).take().run('1', { timeoutMs: 10_000 });
    expect(result).toMatchObject({ notFound: true, exitCode: undefined });
  });
});

describe('createNix: realising known outputs without the package set', () => {
  it('roots the outputs a realisation named, from their derivations, and gives up on a derivation that is gone', async () => {
    const rootsDir = join(dir, 'known');
    const nix = createNix({ timeoutSeconds: 60, rootsDir, spare: true });
    try {
      const realised = await nix.realise(request);
      expect(realised.roots).toEqual(expectedRoots);
      expect(Object.keys(realised.derivations ?? {}).sort()).toEqual(['cacert', 'hello']);
      const outputs = request.packages.map((name) => ({ path: realised.packages[name] as string, ...(realised.derivations?.[name] as { drv: string; output: string }) }));
      const rootDir = await nix.root(outputs);
      expect(rootDir).toBeDefined();
      expect(await readlink(join(rootDir as string, 'result'))).toBe(outputs[0]?.path);
      expect(await readlink(join(rootDir as string, 'result-2'))).toBe(outputs[1]?.path);
      const gone = { path: '/nix/store/00000000000000000000000000000000-gone', drv: '/nix/store/00000000000000000000000000000000-gone.drv', output: 'out' };
      const before = await readdir(rootsDir);
      expect(await nix.root([...outputs, gone])).toBeUndefined();
      // Its out-link directory is gone with it (the spare's new one aside).
      expect((await readdir(rootsDir)).filter((name) => !before.includes(name))).toHaveLength(1);
    } finally {
      nix.close?.();
    }
  });

  it('builds a known output again from its derivation when the output itself was deleted', async () => {
    const expression = `derivation { name = "known-output"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo again > $out" ]; nonce = "${Date.now()}-${Math.random()}"; }`;
    const drv = (await execa('nix-instantiate', ['-E', expression])).stdout.trim();
    const path = (await execa('nix-store', ['--realise', drv])).stdout.trim();
    await execa('nix-store', ['--delete', path]);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    const nix = createNix({ timeoutSeconds: 60, rootsDir: join(dir, 'rebuilt'), spare: false });
    const log: string[] = [];
    const rootDir = await nix.root([{ path, drv, output: 'out' }], undefined, (text) => log.push(text));
    expect(rootDir).toBeDefined();
    expect(await readlink(join(rootDir as string, 'result'))).toBe(path);
    expect((await execa('cat', [path])).stdout).toBe('again');
    expect(log.join('')).toContain(`building '${drv}'`);
  });
});
