/**
 * TEST HELPER: `nixyard serve` as a real process (the built CLI), on PORT=0: the port is read
 * from its "nixyard listening" log line (plain or JSON), so no other test can take it first.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/paths.js';
import { OFFLINE_NIX_CONFIG } from './demo-server.js';

export const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');

/** A running `nixyard serve`. */
export interface CliServer {
  url: string;
  port: number;
  child: ResultPromise;
  /** Everything it wrote so far (stdout and stderr). */
  output(): string;
  /** SIGTERM (SIGKILL `graceMs`, default 10 s, later; at once with `kill`); resolves when it exited. */
  stop(kill?: boolean): Promise<void>;
}

/** The port of the "nixyard listening" log line in `output` (readable or JSON); `undefined` until it is there. */
export function listeningPort(output: string): number | undefined {
  const match = /^\{[^\n]*"port":(\d+)[^\n]*"msg":"nixyard listening"|nixyard listening[^\n]*?\bport=(\d+)/m.exec(output);
  return match ? Number(match[1] ?? match[2]) : undefined;
}

/** Starts `nixyard serve --demo` with `env` added (offline Nix, a fresh data dir, 127.0.0.1). */
export async function startCliServer(env: Record<string, string>, options: { args?: string[]; timeoutMs?: number; graceMs?: number } = {}): Promise<CliServer> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
  const child = execa('node', [CLI, 'serve', ...(options.args ?? ['--demo'])], {
    reject: false,
    all: true,
    forceKillAfterDelay: options.graceMs ?? 10_000,
    env: { PORT: '0', NIXYARD_HOST: '127.0.0.1', NIXYARD_DATA_DIR: await mkdtemp(join(tmpdir(), 'nixyard-cli-')), NIX_CONFIG: OFFLINE_NIX_CONFIG, ...env },
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (kill = false) => {
    if (child.exitCode === null) child.kill(kill ? 'SIGKILL' : 'SIGTERM');
    await child;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let port: number | undefined;
  while ((port = listeningPort(output)) === undefined) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop(true);
      throw new Error(`nixyard serve did not start listening: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://127.0.0.1:${port}`, port, child, output: () => output, stop };
}
