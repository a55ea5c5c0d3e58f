/**
 * TEST HELPER: a real Prometheus (Debian's `prometheus`) on a loopback port with a private
 * config and data directory, scraping the given targets every second, and its HTTP query API.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, freePort } from './tools.js';

/** One sample of an instant query. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface RunningPrometheus {
  url: string;
  /** The instant vector of `query` (PromQL). */
  query(query: string): Promise<Sample[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (`host:port`, path `/metrics`) every second. */
export async function startPrometheus(targets: string[], options: { bearerToken?: string } = {}): Promise<RunningPrometheus> {
  const binary = await findTool('prometheus');
  if (!binary) throw new Error('prometheus not found: apt-get install -y prometheus (or run scripts/install-deps.sh)');
  const dir = await mkdtemp(join(tmpdir(), 'nixyard-prometheus-'));
  const auth = options.bearerToken ? `\n    authorization:\n      credentials: ${JSON.stringify(options.bearerToken)}` : '';
  await writeFile(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: nixyard\n    static_configs:\n      - targets: ${JSON.stringify(targets)}${auth}\n`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ResultPromise = execa(binary, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { reject: false, all: true });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((await fetch(`${url}/-/ready`).then((res) => res.ok, () => false)) === true) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`prometheus did not get ready on ${url}: ${String((await child).all ?? '').slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    query: async (query) => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error ?? res.status}`);
      return (body.data?.result ?? []).map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
    },
    stop: async () => {
      child.kill('SIGTERM');
      await child;
    },
  };
}
