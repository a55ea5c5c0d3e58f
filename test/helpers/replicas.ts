/**
 * TEST HELPER: nixyard replicas as real `nixyard serve` processes on the demo set, sharing one
 * storage directory and one RabbitMQ broker, as a deployment runs them.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEMO_PKGS_PATH } from '../../src/paths.js';
import { listeningPort } from './cli-server.js';
import { OFFLINE_NIX_CONFIG } from './demo-server.js';
import type { RabbitBroker } from './rabbitmq.js';

const CLI = resolve('dist/src/cli.js');

/** A running replica. */
export interface Replica {
  url: string;
  /** The instance name in records. */
  instance: string;
  child: ResultPromise;
  /** Sends `signal` to the replica and every process it started (its Nix builds). */
  signal(signal: NodeJS.Signals): void;
  /** What it wrote so far (stdout and stderr), for failure messages. */
  output(): string;
}

/**
 * Starts `nixyard serve` on the demo set with `storagePath` and `broker`, and waits until it
 * listens. PORT=0 and the port read from its own log line: a port picked beforehand can be taken
 * by another test's server before the replica binds it, and that server would answer for it.
 * `demoRun` makes slow-demo and ticker-demo the same derivations on every replica.
 */
export async function startReplica(options: { broker: RabbitBroker; storagePath: string; demoRun: string; env?: Record<string, string> }): Promise<Replica> {
  const child = execa('node', [CLI, 'serve'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      NIX_CONFIG: OFFLINE_NIX_CONFIG,
      NIXYARD_DEMO_RUN: options.demoRun,
      NIXERY_PKGS_PATH: DEMO_PKGS_PATH,
      STORAGE_PATH: options.storagePath,
      NIXYARD_DATA_DIR: await mkdtemp(join(tmpdir(), 'nixyard-replica-')),
      NIXYARD_HOST: '127.0.0.1',
      PORT: '0',
      NIXYARD_AMQP_URL: options.broker.url,
      NIXYARD_MAX_BUILDS: '1',
      // Stopped replicas hand their builds back at once (no drain), as the queue tests expect.
      NIXYARD_DRAIN_SECONDS: '0',
      ...options.env,
    },
    extendEnv: false,
    detached: true,
    reject: false,
    all: true,
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  let port: string | undefined;
  while (!(port = listeningPort(output)?.toString())) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      await child;
      throw new Error(`nixyard serve did not start listening: ${output}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  const pid = child.pid as number;
  return {
    url: `http://127.0.0.1:${port}`,
    instance: `${hostname()}:${pid}`,
    child,
    output: () => output,
    signal: (signal) => {
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    },
  };
}

/** Stops a replica as a container runtime does (SIGTERM, then SIGKILL after 20 s). */
export async function stopReplica(replica: Replica | undefined): Promise<void> {
  if (!replica || replica.child.exitCode !== null) return;
  replica.signal('SIGTERM');
  const killer = setTimeout(() => replica.signal('SIGKILL'), 20_000);
  await replica.child;
  clearTimeout(killer);
}
