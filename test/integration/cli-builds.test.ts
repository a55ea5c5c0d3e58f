/**
 * The built `nixyard builds` command against a real demo registry (real Nix): create and follow,
 * a failing build, list/show/stats as text and JSON, cancel, retry, credentials, and the exit
 * codes (0 ok, 1 followed build failed, 2 usage, 3 registry error, 4 unreachable).
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../src/builds/record.js';
import type { BuildPage, BuildStats } from '../../src/builds/types.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const UNKNOWN_ID = '20200101T000000000Z-00000000';
const BUILD_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

type DemoServer = Awaited<ReturnType<typeof startDemoServer>>;

/** Runs `nixyard builds ARGS` with only PATH and `env` in its environment. */
function builds(args: string[], env: Record<string, string> = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
  return execa('node', [CLI, 'builds', ...args], { reject: false, timeout: 110_000, env: { PATH: process.env['PATH'] ?? '', ...env }, extendEnv: false });
}

/** A port on 127.0.0.1 nothing listens on (taken, then given back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('nixyard builds: usage and an unreachable registry (no server)', () => {
  it.each([
    [[], /no command given/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['show'], /show needs a build id/],
    [['show', 'a', 'b'], /show takes a build id only, not "a" "b"/],
    [['list', '--follow'], /--follow cannot be used with list/],
    [['list', '--limit', '0'], /--limit "0" is not allowed: expected an integer from 1 to 100/],
    [['list', '--status', 'done'], /unknown status done; known: queued, fetching, planning, evaluating/],
    [['logs', 'x', '--bogus'], /Unknown option '--bogus'/],
    [['create', 'hello:'], /"hello:" is not IMAGE\[:TAG\]/],
    [['create', '--repo', 'https://git.example/app.git'], /--repo needs --image/],
    [['create', 'hello', '--ref', 'main'], /--ref go with --repo/],
    [['create', '--repo', 'https://git.example/app.git', '--image', 'apps/x', '--env', 'NOEQUALS'], /--env "NOEQUALS" is not K=V/],
    [['builders', 'x'], /builders takes no arguments/],
    [['stats', '--registry', 'ftp://x'], /registry "ftp:\/\/x" is not an http\(s\) URL/],
  ])('%j exits 2 with the problem and the usage', async (args, message) => {
    const result = await builds(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('usage: nixyard builds');
    expect(result.stdout).toBe('');
  });

  it('exits 2 when only one of NIXYARD_USERNAME and NIXYARD_PASSWORD is set', async () => {
    const result = await builds(['stats'], { NIXYARD_USERNAME: 'alice' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('set both NIXYARD_USERNAME and NIXYARD_PASSWORD');
  });

  it('prints the help with the exit codes, for every command too, and exits 0', async () => {
    const all = await builds(['--help']);
    expect(all.exitCode).toBe(0);
    expect(all.stdout).toContain('usage: nixyard builds <command> [options]');
    expect(all.stdout).toMatch(/exit codes:\n {2}0 {2}success.*\n {2}1 {2}the followed build failed or was cancelled\n {2}2 {2}usage error/);
    const list = await builds(['list', '--help']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toContain('usage: nixyard builds list [--status S[,S...]]');
    expect((await builds(['help', 'logs'])).stdout).toContain('usage: nixyard builds logs ID [--follow]');
  });

  it('exits 4 naming the URL when the registry cannot be reached, from --registry or NIXYARD_REGISTRY', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const flag = await builds(['list', '--registry', url]);
    expect(flag.exitCode).toBe(4);
    expect(flag.stderr).toContain(`nixyard: cannot reach the registry at ${url} (ECONNREFUSED)`);
    expect(flag.stderr).toContain('--registry URL');
    const env = await builds(['show', UNKNOWN_ID], { NIXYARD_REGISTRY: `${url}/` });
    expect(env.exitCode).toBe(4);
    expect(env.stderr).toContain(`cannot reach the registry at ${url} `);
  });
});

describe('nixyard builds against a demo registry', () => {
  let server: DemoServer;
  let env: Record<string, string>;
  let failedId: string | undefined;

  beforeAll(async () => {
    server = await startDemoServer();
    env = { NIXYARD_REGISTRY: server.url };
  });
  afterAll(async () => server?.close());

  const record = async (id: string): Promise<BuildRecord> => {
    const show = await builds(['show', id, '--json'], env);
    expect(show.exitCode, show.stderr).toBe(0);
    return JSON.parse(show.stdout) as BuildRecord;
  };

  /** The id of a failed build of failing-demo, made (and followed to its end) once. */
  const failedBuild = async (): Promise<string> => {
    if (failedId !== undefined) return failedId;
    const create = await builds(['create', 'failing-demo', '--follow'], env);
    expect(create.exitCode, create.stderr).toBe(1);
    failedId = create.stdout.split('\n')[0] as string;
    expect(failedId).toMatch(BUILD_ID);
    expect(create.stderr).toContain(`build ${failedId} (failing-demo:latest) failed after`);
    expect(create.stderr).toContain('NIX_BUILD_FAILED');
    return failedId;
  };

  it('create hello prints the id; logs --follow prints the log and a final succeeded line and exits 0', async () => {
    const create = await builds(['create', 'hello'], env);
    expect(create.exitCode, create.stderr).toBe(0);
    const id = create.stdout.trim();
    expect(id).toMatch(BUILD_ID);

    const follow = await builds(['logs', id, '--follow'], env);
    expect(follow.exitCode, follow.stderr).toBe(0);
    expect(follow.stderr).toMatch(new RegExp(`^build ${id} \\(hello:latest\\) succeeded in .+: manifest sha256:[0-9a-f]{64}$`, 'm'));
    // the whole log, as the registry then holds it (hello may already be built: its content is not asserted)
    const log = await builds(['logs', id], env);
    expect(log.exitCode).toBe(0);
    expect(follow.stdout).toBe(log.stdout);
    expect((await record(id)).status).toBe('succeeded');
  });

  it('create --follow of a failing build shows the log and NIX_BUILD_FAILED and exits 1', async () => {
    const id = await failedBuild();
    const failed = await record(id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('NIX_BUILD_FAILED');
    const log = await builds(['logs', id], env);
    expect(log.stdout.length).toBeGreaterThan(0);
    // following a build that has ended replays its log and its outcome
    const again = await builds(['logs', id, '--follow'], env);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('NIX_BUILD_FAILED');
  });

  it('create --follow --json prints the final record as JSON on stdout, the log on stderr', async () => {
    const result = await builds(['create', 'hello:latest', '--follow', '--json'], env);
    expect(result.exitCode, result.stderr).toBe(0);
    const final = JSON.parse(result.stdout) as BuildRecord;
    expect(final).toMatchObject({ image: 'hello', tag: 'latest', status: 'succeeded' });
    expect(result.stderr).toContain(`build ${final.id} (hello:latest) succeeded in`);
  });

  it('list, show and stats as text and as JSON contain the builds', async () => {
    const failed = await failedBuild();
    const create = await builds(['create', 'hello', '--json'], env);
    expect(create.exitCode, create.stderr).toBe(0);
    const hello = JSON.parse(create.stdout) as BuildRecord;
    expect(hello).toMatchObject({ image: 'hello', tag: 'latest', trigger: 'api' });
    await builds(['logs', hello.id, '--follow'], env);

    const json = await builds(['list', '--json'], env);
    expect(json.exitCode, json.stderr).toBe(0);
    const page = JSON.parse(json.stdout) as BuildPage;
    expect(page.builds.map((build) => build.id)).toEqual(expect.arrayContaining([hello.id, failed]));

    const text = await builds(['list'], env);
    expect(text.exitCode).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^ID +STATUS +IMAGE +ARCH +TRIGGER +CREATED \(UTC\) +DURATION$/);
    expect(text.stdout).toMatch(new RegExp(`^${failed} +failed +failing-demo:latest +\\S+ +api +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +\\S`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^${hello.id} +succeeded +hello:latest `, 'm'));

    const onlyFailed = JSON.parse((await builds(['list', '--status', 'failed,cancelled', '--json'], env)).stdout) as BuildPage;
    expect(onlyFailed.builds.map((build) => build.id)).toContain(failed);
    expect(onlyFailed.builds.every((build) => build.status === 'failed' || build.status === 'cancelled')).toBe(true);
    const onlyHello = JSON.parse((await builds(['list', '--image', 'hello', '--json'], env)).stdout) as BuildPage;
    expect(onlyHello.builds.every((build) => build.image === 'hello')).toBe(true);

    const first = await builds(['list', '--limit', '1'], env);
    expect(first.exitCode).toBe(0);
    const hint = first.stdout.match(/^more builds: nixyard builds list --limit 1 --cursor (\S+)$/m);
    expect(hint, first.stdout).not.toBeNull();
    const second = JSON.parse((await builds(['list', '--limit', '1', '--cursor', hint?.[1] as string, '--json'], env)).stdout) as BuildPage;
    expect(second.builds).toHaveLength(1);
    expect(second.builds[0]?.id).not.toBe(hint?.[1]);

    const show = await builds(['show', hello.id], env);
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toContain(`build     ${hello.id}\nstatus    succeeded\nimage     hello:latest\n`);
    expect(show.stdout).toMatch(/^packages +.*hello/m);
    expect(show.stdout).toMatch(/^phases +queued +\S+$/m);
    expect(show.stdout).toMatch(/^ +total +\S+$/m);
    expect(show.stdout).toMatch(/^layers +\d+(\.\d)? (B|KiB|MiB) +sha256:[0-9a-f]{64}$/m);
    expect(show.stdout).toMatch(/^manifest +sha256:[0-9a-f]{64}$/m);
    const showFailed = await builds(['show', failed], env);
    expect(showFailed.stdout).toMatch(/^error +NIX_BUILD_FAILED: /m);

    const stats = await builds(['stats', '--json'], env);
    expect(stats.exitCode).toBe(0);
    const numbers = JSON.parse(stats.stdout) as BuildStats;
    expect(numbers.succeeded).toBeGreaterThanOrEqual(1);
    expect(numbers.failed).toBeGreaterThanOrEqual(1);
    const statsText = await builds(['stats'], env);
    expect(statsText.stdout).toMatch(/^builds +the last \d+: \d+ queued, \d+ running, \d+ succeeded, \d+ failed, \d+ cancelled$/m);
    expect(statsText.stdout).toMatch(/^instance +\S+: \d+ of \d+ build slots? busy, \d+ waiting$/m);
  });

  it('show of an unknown id exits 3 with BUILD_UNKNOWN', async () => {
    const result = await builds(['show', UNKNOWN_ID], env);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/^nixyard: BUILD_UNKNOWN: /m);
    expect(result.stdout).toBe('');
    expect((await builds(['logs', UNKNOWN_ID, '--follow'], env)).exitCode).toBe(3);
  });

  it('cancel stops slow-demo: exit 0, the record is cancelled, a second cancel is 409 BUILD_FINISHED (exit 3)', async () => {
    const create = await builds(['create', 'slow-demo'], env);
    expect(create.exitCode, create.stderr).toBe(0);
    const id = create.stdout.trim();
    const cancel = await builds(['cancel', id], env);
    expect(cancel.exitCode, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`build ${id} (slow-demo:latest): `);
    const follow = await builds(['logs', id, '--follow'], env);
    expect(follow.exitCode).toBe(1);
    expect(follow.stderr).toContain(`build ${id} (slow-demo:latest) cancelled after`);
    expect((await record(id)).status).toBe('cancelled');
    const again = await builds(['cancel', id], env);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/^nixyard: BUILD_FINISHED: /m);
  });

  it('retry of the failed build prints a new id whose record has retryOf; retry of a succeeded one exits 3', async () => {
    const failed = await failedBuild();
    const retry = await builds(['retry', failed], env);
    expect(retry.exitCode, retry.stderr).toBe(0);
    const id = retry.stdout.trim();
    expect(id).toMatch(BUILD_ID);
    expect(id).not.toBe(failed);
    expect(await record(id)).toMatchObject({ retryOf: failed, image: 'failing-demo' });
    expect((await builds(['show', id], env)).stdout).toContain(`(retry of ${failed})`);
    expect((await builds(['logs', id, '--follow'], env)).exitCode).toBe(1);

    const hello = (await builds(['create', 'hello'], env)).stdout.trim();
    expect((await builds(['logs', hello, '--follow'], env)).exitCode).toBe(0);
    const refused = await builds(['retry', hello], env);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/^nixyard: BUILD_NOT_RETRYABLE: /m);
  });
});

describe('nixyard builds against a registry with access control', () => {
  let server: DemoServer;

  beforeAll(async () => {
    server = await startDemoServer({ NIXYARD_AUTH: 'token', NIXYARD_HTPASSWD: await writeHtpasswd({ alice: 'secret' }) });
  });
  afterAll(async () => server?.close());

  it('exits 3 with UNAUTHORIZED and a hint without credentials, or with wrong ones', async () => {
    const none = await builds(['stats', '--registry', server.url]);
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toMatch(/^nixyard: UNAUTHORIZED: /m);
    expect(none.stderr).toContain('set NIXYARD_TOKEN, or NIXYARD_USERNAME and NIXYARD_PASSWORD');
    const wrong = await builds(['stats', '--registry', server.url], { NIXYARD_USERNAME: 'alice', NIXYARD_PASSWORD: 'wrong' });
    expect(wrong.exitCode).toBe(3);
  });

  it('sends NIXYARD_USERNAME/NIXYARD_PASSWORD as Basic and NIXYARD_TOKEN as Bearer', async () => {
    const basic = await builds(['list', '--json', '--registry', server.url], { NIXYARD_USERNAME: 'alice', NIXYARD_PASSWORD: 'secret' });
    expect(basic.exitCode, basic.stderr).toBe(0);
    expect(JSON.parse(basic.stdout)).toHaveProperty('builds');
    const answer = await fetch(`${server.url}/token?service=nixyard`, { headers: { authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` } });
    expect(answer.status).toBe(200);
    const { token } = (await answer.json()) as { token: string };
    const bearer = await builds(['stats', '--json', '--registry', server.url], { NIXYARD_TOKEN: token });
    expect(bearer.exitCode, bearer.stderr).toBe(0);
    expect(JSON.parse(bearer.stdout)).toHaveProperty('instance');
  });
});
