/** `nixyard popcount --pkgs` with real Nix, offline, against the demo package set. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_POPULARITY_PATH } from '../../src/popularity/load.js';
import { popcountPackageSet } from '../../src/popularity/pkgs.js';
import { DEMO_PKGS_PATH, PROJECT_ROOT } from '../../src/paths.js';
import { OFFLINE_NIX_CONFIG, requireNix } from '../helpers/demo-server.js';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
/** slow-demo sleeps for ten minutes while it builds: give up on it quickly. */
const BUILD_TIMEOUT = 3;

beforeAll(async () => {
  await requireNix();
  process.env['NIX_CONFIG'] ??= OFFLINE_NIX_CONFIG;
});

describe('popcount --pkgs (in process)', () => {
  it('counts the demo set: busybox, which every package refers to, is the most popular', async () => {
    const progress: string[] = [];
    const result = await popcountPackageSet({ pkgsPath: DEMO_PKGS_PATH, buildTimeoutSeconds: BUILD_TIMEOUT, onProgress: (line) => progress.push(line) });
    // Nearly every demo package runs busybox (cacert and iana-etc are plain files).
    expect(result.popularity['busybox']).toBeGreaterThanOrEqual(10);
    expect(result.popularity['busybox']).toBeLessThanOrEqual(result.closurePaths);
    expect(Math.max(...Object.values(result.popularity))).toBe(result.popularity['busybox']);
    expect(result.packages).toEqual(expect.arrayContaining(['hello', 'coreutils', 'bashInteractive', 'cacert', 'iana-etc']));
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { attr: 'broken-demo', reason: 'evaluation failed' },
        { attr: 'unfree-demo', reason: 'evaluation failed' },
        { attr: 'removed-demo', reason: 'evaluation failed' },
        { attr: 'failing-demo', reason: 'build failed' },
        { attr: 'slow-demo', reason: 'build failed' },
      ]),
    );
    expect(progress.join('\n')).toContain('did not build, skipped: failing-demo, slow-demo');

    // The data the server loads for the demo set is exactly this: regenerate it with
    //   node dist/src/cli.js popcount --pkgs nix/demo --build-timeout 5 --out nix/demo/popularity.json
    expect(JSON.parse(await readFile(DEMO_POPULARITY_PATH, 'utf8'))).toEqual(result.popularity);
  });

  it('counts synthetic libraries referred to by other packages', async () => {
    const result = await popcountPackageSet({ pkgsPath: DEMO_PKGS_PATH, args: { syntheticCount: 8 }, buildTimeoutSeconds: BUILD_TIMEOUT });
    expect(result.packages).toEqual(expect.arrayContaining(['synth-lib-001', 'synth-app-004']));
    // synth-lib-001 is in nearly every synthetic closure (see nix/demo/synthetic.nix).
    expect(result.popularity['synth-lib-001']).toBeGreaterThanOrEqual(3);
    expect(result.popularity['synth-app-001']).toBeUndefined(); // nothing refers to an app
  });

  it('names the package set when it does not evaluate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nixyard-bad-pkgs-'));
    await writeFile(join(dir, 'default.nix'), '{ system ? null }: { hello = ; }\n');
    await expect(popcountPackageSet({ pkgsPath: dir })).rejects.toThrow(new RegExp(`cannot evaluate the package set ${dir}: (.|\\n)*syntax error`));
  });

  it('fails when no package of the set builds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nixyard-empty-pkgs-'));
    await writeFile(join(dir, 'default.nix'), '{ system ? null }: { notAPackage = 1; }\n');
    await expect(popcountPackageSet({ pkgsPath: dir })).rejects.toThrow(`the package set ${dir} has no package that builds: nothing to count`);
  });
});

describe('nixyard popcount --pkgs (the built CLI)', () => {
  it('prints the demo set popularity as JSON on stdout, progress on stderr', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
    const result = await execa('node', [CLI, 'popcount', '--pkgs', DEMO_PKGS_PATH, '--build-timeout', String(BUILD_TIMEOUT)], { reject: false, timeout: 120_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(await readFile(DEMO_POPULARITY_PATH, 'utf8')));
    expect(result.stderr).toContain('not evaluable, skipped: broken-demo, removed-demo, unfree-demo');
    expect(result.stderr).toMatch(/popcount: \d+ packages? counted/);
  });
});
