/**
 * TEST HELPER: a git repository served over the git protocol on 127.0.0.1 (`git daemon`), with
 * a work tree to commit, branch, tag and push from. Refs reach the served (bare) repository
 * only when pushed, as on a real server.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTool } from './tools.js';

/** A served repository and its work tree. */
export interface GitServer {
  /** `git://127.0.0.1:PORT/pkgs.git`, for NIXERY_PKGS_REPO. */
  url: string;
  /** The bare repository that is served (also usable as a local NIXERY_PKGS_REPO). */
  bare: string;
  /** A clone of it: edit files here, then `commit` and `push`. */
  work: string;
  /** Runs git in the work tree; returns stdout. */
  git(...args: string[]): Promise<string>;
  /** Commits every change in the work tree; returns the commit id. */
  commit(message: string): Promise<string>;
  /** Pushes refs (`main`, `v1`, `--delete side` …) to the served repository. */
  push(...refs: string[]): Promise<void>;
  close(): Promise<void>;
}

const IDENTITY = ['-c', 'user.name=nixyard tests', '-c', 'user.email=tests@nixyard.invalid'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Waits until `url` answers `git ls-remote`, or the daemon exits, for at most `ms`. */
async function waitUntilServed(url: string, daemon: ResultPromise, ms: number): Promise<boolean> {
  let exited = false;
  daemon.then(() => (exited = true), () => (exited = true));
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !exited) {
    const probe = await execa('git', ['ls-remote', url], { reject: false, timeout: 5000 });
    if (probe.exitCode === 0) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Creates an empty repository (default branch `main`) with a work tree and serves it. Call
 * `close` to stop the daemon and remove both.
 */
export async function startGitServer(): Promise<GitServer> {
  await requireTool('git', 'apt-get install -y git');
  const root = await mkdtemp(join(tmpdir(), 'nixyard-git-'));
  const repos = join(root, 'repos');
  const bare = join(repos, 'pkgs.git');
  const work = join(root, 'work');
  await mkdir(repos);
  await execa('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  await execa('git', ['init', '--quiet', '--initial-branch=main', work]);
  await execa('git', ['-C', work, 'remote', 'add', 'origin', bare]);

  // git-daemon itself rather than `git daemon`, which would run it as a child process.
  const daemonPath = join((await execa('git', ['--exec-path'])).stdout.trim(), 'git-daemon');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const daemon = execa(daemonPath, ['--reuseaddr', '--export-all', '--informative-errors', `--base-path=${repos}`, '--listen=127.0.0.1', `--port=${port}`, repos], {
      reject: false,
      stdin: 'ignore',
    });
    const url = `git://127.0.0.1:${port}/pkgs.git`;
    if (await waitUntilServed(url, daemon, 10_000)) {
      const git = async (...args: string[]) => (await execa('git', ['-C', work, ...IDENTITY, ...args])).stdout;
      return {
        url,
        bare,
        work,
        git,
        commit: async (message) => {
          await git('add', '--all');
          await git('commit', '--quiet', '--allow-empty', '-m', message);
          return git('rev-parse', 'HEAD');
        },
        push: async (...refs) => void (await git('push', '--quiet', '--force', 'origin', ...refs)),
        close: async () => {
          daemon.kill('SIGTERM');
          await daemon;
          await rm(root, { recursive: true, force: true });
        },
      };
    }
    daemon.kill('SIGKILL');
    const result = await daemon;
    if (attempt >= 3) {
      await rm(root, { recursive: true, force: true });
      throw new Error(`git daemon did not serve ${url}: ${result.stderr || 'no answer within 10 s'}`);
    }
  }
}
