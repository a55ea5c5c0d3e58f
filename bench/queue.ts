/**
 * bench/queue — what the RabbitMQ queue costs an API build, side by side with the in-process
 * queue (the reference) in the same run. A script that prints a markdown report:
 *
 *   npm run build && node dist/bench/queue.js
 *
 * 1. latency: BENCH_QUEUE_BUILDS (default 30) sequential API builds of an image that is already
 *    built (POST /v1/builds until the record is `succeeded`), p50 and p95, in process vs through
 *    RabbitMQ with one replica;
 * 2. throughput: as many builds submitted at once, one replica in process vs two replicas on
 *    RabbitMQ, and how the jobs spread over the two (in process, requests for an image whose
 *    build is running join it, so there are fewer records than requests).
 *
 * Starts a private broker (Debian's rabbitmq-server, loopback ports) and the registries on the
 * demo set (127.0.0.1), and stops them at the end.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildRecord } from '../src/builds/record.js';
import { PROJECT_ROOT } from '../src/paths.js';
import { startRabbitMq } from '../test/helpers/rabbitmq.js';
import { cleanUp, fmtMs, freePort, NIX_CONFIG, percentile, runBenchmark, startService, type Service } from './support.js';

const BUILDS = Number(process.env['BENCH_QUEUE_BUILDS'] ?? 30);
const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const IMAGES = ['hello', 'shell/hello'];

let tmp = '';

async function startRegistry(label: string, storage: string, env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const dataDir = join(tmp, label);
  await mkdir(dataDir, { recursive: true });
  return startService(
    `nixyard (${label})`,
    process.execPath,
    [CLI, 'serve', '--demo'],
    { ...process.env, PORT: String(port), NIXYARD_HOST: '127.0.0.1', NIXYARD_DATA_DIR: dataDir, STORAGE_PATH: storage, NIX_CONFIG, ...env },
    port,
    join(tmp, `${label}.log`),
  );
}

/** Submits an API build and polls its record (every 5 ms) until it ends; returns the record and the milliseconds. */
async function build(registry: Service, image: string): Promise<{ record: BuildRecord; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${registry.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image, tag: 'latest' }) });
  if (res.status !== 202) throw new Error(`POST /v1/builds ${image}: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as BuildRecord;
  for (;;) {
    const record = (await (await fetch(`${registry.url}/v1/builds/${id}`)).json()) as BuildRecord;
    if (record.status === 'succeeded') return { record, ms: performance.now() - started };
    if (record.status === 'failed' || record.status === 'cancelled') throw new Error(`build ${id} of ${image} ${record.status}: ${record.error?.message}`);
    await new Promise((done) => setTimeout(done, 5));
  }
}

async function latency(registry: Service): Promise<string> {
  for (const image of IMAGES) await build(registry, image); // built once: the rest find the image in storage
  const times: number[] = [];
  for (let i = 0; i < BUILDS; i += 1) times.push((await build(registry, IMAGES[i % IMAGES.length] as string)).ms);
  times.sort((x, y) => x - y);
  return `p50 ${fmtMs(percentile(times, 50))}, p95 ${fmtMs(percentile(times, 95))}`;
}

async function throughput(submitTo: Service): Promise<{ text: string; instances: Map<string, number> }> {
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: BUILDS }, (_, i) => build(submitTo, IMAGES[i % IMAGES.length] as string)));
  const seconds = (performance.now() - started) / 1000;
  const instances = new Map<string, number>();
  for (const { record } of results) instances.set(record.instance, (instances.get(record.instance) ?? 0) + 1);
  // In process, requests for an image whose build is running join it: fewer records than requests.
  const records = new Set(results.map(({ record }) => record.id)).size;
  return { text: `${(BUILDS / seconds).toFixed(1)} requests/s (${BUILDS} in ${seconds.toFixed(2)} s, ${records} records)`, instances };
}

async function main(): Promise<void> {
  tmp = await mkdtemp(join(tmpdir(), 'nixyard-bench-queue-'));
  const broker = await startRabbitMq();
  try {
    const local = await startRegistry('in-process', join(tmp, 'storage-local'), {});
    const queueStorage = join(tmp, 'storage-queue');
    const replicaA = await startRegistry('rabbitmq-a', queueStorage, { NIXYARD_AMQP_URL: broker.url });
    const latencyLocal = await latency(local);
    const latencyQueue = await latency(replicaA);
    const replicaB = await startRegistry('rabbitmq-b', queueStorage, { NIXYARD_AMQP_URL: broker.url });
    const throughputLocal = await throughput(local);
    const throughputQueue = await throughput(replicaA);
    const spread = [...throughputQueue.instances.values()].join(' + ');
    console.log(`## bench/queue: API builds of built images, ${BUILDS} per measure

| measure | RabbitMQ | in process (reference) |
| --- | --- | --- |
| latency, sequential, submit → succeeded | ${latencyQueue} | ${latencyLocal} |
| throughput, ${BUILDS} submitted at once | ${throughputQueue.text}, 2 replicas (${spread} jobs) | ${throughputLocal.text}, 1 instance |

Machine: ${(await import('node:os')).cpus().length} cores. Replica B log: ${replicaB.logPath}`);
  } finally {
    await cleanUp(tmp);
    await broker.stop();
  }
}

runBenchmark(main);
