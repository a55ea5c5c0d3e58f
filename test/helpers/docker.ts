/**
 * TEST HELPER: a real Docker engine for e2e tests. `ensureDocker()` starts `dockerd` when none
 * answers (CI machines are fresh); the other helpers run the docker CLI with bounded time and
 * return its result instead of throwing, so tests can assert on failures too.
 */
import { expect } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type Result } from 'execa';
import { requireTool } from './tools.js';

/** How long `ensureDocker` waits for a daemon it started. */
export const DOCKERD_START_TIMEOUT_MS = 60_000;
/** Time limit of one docker CLI call (a pull of a local image takes seconds). */
export const DOCKER_COMMAND_TIMEOUT_MS = 180_000;
const DOCKER_HINT = 'apt-get install -y docker.io';

/** What a finished CLI call printed. */
export interface CommandResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** `stdout` and `stderr` interleaved, for messages. */
  all: string;
  /** True when the call did not exit with 0 (including timeouts). */
  failed: boolean;
}

function toCommandResult(result: Result): CommandResult {
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  const all = text(result.all);
  return { exitCode: result.exitCode, stdout: text(result.stdout), stderr: text(result.stderr), all: all || text(result.stderr), failed: result.failed };
}

/** Runs a command with a time limit, never throwing on a non-zero exit. */
export async function runTool(file: string, args: readonly string[], timeoutMs = DOCKER_COMMAND_TIMEOUT_MS): Promise<CommandResult> {
  const result = await execa(file, args, { reject: false, all: true, timeout: timeoutMs, stdin: 'ignore' });
  return toCommandResult(result);
}

/** Runs `docker <args>` with a time limit; the result tells whether it worked. */
export async function docker(args: readonly string[], timeoutMs = DOCKER_COMMAND_TIMEOUT_MS): Promise<CommandResult> {
  return runTool('docker', args, timeoutMs);
}

async function dockerAnswers(): Promise<boolean> {
  const result = await docker(['info', '--format', '{{.ServerVersion}}'], 15_000);
  return !result.failed && result.stdout.trim() !== '';
}

/**
 * Makes sure a Docker engine answers: when `docker info` fails, starts `dockerd` in the
 * background (detached, logging to a temporary file; it keeps running after the tests, like a
 * system service) and polls until it answers, at most {@link DOCKERD_START_TIMEOUT_MS}.
 * Throws with the tail of the daemon's log when it does not come up.
 */
export async function ensureDocker(): Promise<void> {
  await requireTool('docker', DOCKER_HINT);
  if (await dockerAnswers()) return;
  const dockerd = await requireTool('dockerd', DOCKER_HINT);
  const logFile = join(await mkdtemp(join(tmpdir(), 'nixyard-dockerd-')), 'dockerd.log');
  const fd = openSync(logFile, 'a');
  let exited: string | undefined;
  try {
    // node's spawn, not execa: a daemon must write straight to the log file descriptor (execa
    // pipes through this process) and outlive the test process.
    const daemon = spawn(dockerd, [], { detached: true, stdio: ['ignore', fd, fd] });
    daemon.once('error', (error) => {
      exited = `dockerd could not start: ${error.message}`;
    });
    daemon.once('exit', (code, signal) => {
      exited = `dockerd exited (${code ?? signal ?? 'unknown'})`;
    });
    daemon.unref();
    const deadline = Date.now() + DOCKERD_START_TIMEOUT_MS;
    while (Date.now() < deadline && exited === undefined) {
      if (await dockerAnswers()) return;
      await sleep(500);
    }
  } finally {
    closeSync(fd);
  }
  const log = await readFile(logFile, 'utf8').catch(() => '');
  const tail = log.split('\n').slice(-40).join('\n');
  throw new Error(`${exited ?? `dockerd did not answer within ${DOCKERD_START_TIMEOUT_MS / 1000} s`}; log ${logFile}:\n${tail}`);
}

/** `docker pull <reference>`. */
export async function dockerPull(reference: string): Promise<CommandResult> {
  return docker(['pull', reference]);
}

/** `docker run --rm <reference> <command…>` (the container is removed when it exits). */
export async function dockerRun(reference: string, command: readonly string[]): Promise<CommandResult> {
  return docker(['run', '--rm', reference, ...command]);
}

/** The image's first `RepoDigests` entry (`HOST/NAME@sha256:…`). */
export async function dockerRepoDigest(reference: string): Promise<string> {
  const result = await docker(['image', 'inspect', '--format', '{{index .RepoDigests 0}}', reference]);
  if (result.failed) throw new Error(`docker image inspect ${reference} failed:\n${result.all}`);
  return result.stdout.trim();
}

/** `docker rmi -f` of the references that exist, so the next run really pulls again. */
export async function dockerRemoveImages(references: readonly string[]): Promise<void> {
  if (references.length === 0) return;
  const result = await docker(['rmi', '-f', ...references]);
  // rmi -f reports missing images as errors; anything else is a real failure.
  const unexpected = result.all.split('\n').filter((line) => /error/i.test(line) && !/no such image/i.test(line));
  if (unexpected.length > 0) throw new Error(`docker rmi -f ${references.join(' ')} failed:\n${result.all}`);
}

/** Fails the test with everything the command printed, so a broken pull explains itself. */
export function expectSuccess(result: CommandResult, what: string): void {
  expect(result.failed, `${what} failed (exit ${String(result.exitCode)}):\n${result.all}`).toBe(false);
}

/** What `podman run` needs on these machines: limits the rootful runtime can set. */
export const PODMAN_LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
