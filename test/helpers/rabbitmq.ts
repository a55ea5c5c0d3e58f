/**
 * TEST HELPER: a private RabbitMQ broker (Debian's rabbitmq-server) on loopback ports, with its
 * own node name, data and logs in a temporary directory, so tests never share a broker.
 */
import { connect } from 'amqplib';
import { execa, type ResultPromise } from 'execa';
import { constants } from 'node:fs';
import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './tools.js';

/** Where Debian's package puts the broker's start script (the one in /usr/sbin switches to the rabbitmq user). */
const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const START_TIMEOUT_MS = 60_000;

/** A running broker. */
export interface RabbitBroker {
  /** `amqp://guest:guest@127.0.0.1:PORT` (guest may log in from loopback). */
  url: string;
  /** Stops the broker and waits until it is gone. */
  stop(): Promise<void>;
}

/** Starts a broker; fails with an install hint when RabbitMQ is not installed. */
export async function startRabbitMq(): Promise<RabbitBroker> {
  try {
    await access(SERVER, constants.X_OK);
  } catch {
    throw new Error(`${SERVER} not found: install it with apt-get install -y rabbitmq-server (or run scripts/install-deps.sh)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'nixyard-rabbitmq-'));
  const [port, distPort] = [await freePort(), await freePort()];
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  const child: ResultPromise = execa(SERVER, [], {
    cwd: dir,
    detached: true,
    reject: false,
    all: true,
    env: {
      HOME: dir,
      RABBITMQ_NODENAME: `nixyard-test-${port}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
      RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    },
  });
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const killer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 15_000);
      await child;
      clearTimeout(killer);
    }
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const connection = await connect(url);
      await connection.close();
      return { url, stop };
    } catch {
      // not accepting connections yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`rabbitmq-server did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s: ${String((await child).all ?? '').slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
