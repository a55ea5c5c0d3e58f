/**
 * bench/push — pushes of an app image to another registry: nixyard's `pushing` phase against
 * `skopeo copy` of the same image between the same two registries (nixyard → a local
 * `docker-registry`), in the same run. Prints a markdown report:
 *
 *   npm run build && node dist/bench/push.js
 *
 * The image is the node sample app of the tests built from source. nixyard pushes it to one
 * target registry as part of each build (measured: its `pushing` phase, from the record); the
 * reference copies each built image with `skopeo copy --preserve-digests` from nixyard's
 * `/v2` to a second, equally empty target (measured: wall time). Rounds: the first push (the
 * target has nothing), then BENCH_PUSH_RUNS (default 3) pushes after a one-line code change
 * (median), each with the bytes that had to go to the target (the layers it lacked and the
 * config).
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildRecord } from '../src/builds/record.js';
import { PROJECT_ROOT } from '../src/paths.js';
import { formatBytes } from '../src/units.js';
import { startGitServer, type GitServer } from '../test/helpers/git-server.js';
import { writeNodeApp } from '../test/helpers/sample-apps.js';
import { cleanUp, fmtMs, freePort, median, NIX_CONFIG, runBenchmark, startReferenceRegistry, startService, type Service } from './support.js';

const RUNS = Number(process.env['BENCH_PUSH_RUNS'] ?? 3);
const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const IMAGE = 'apps/bench/web';

interface Manifest {
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

const progress = (line: string) => process.stderr.write(`bench/push: ${line}\n`);

/** Builds `tag` through the API with a push to `target`; the record once it succeeded. */
async function buildAndPush(registry: Service, repo: GitServer, tag: string, target: string): Promise<BuildRecord> {
  const body = { image: IMAGE, tag, source: { repo: repo.url, ref: 'main' }, push: [`${target}/bench/web`] };
  const res = await fetch(`${registry.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 202) throw new Error(`POST /v1/builds: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as BuildRecord;
  for (;;) {
    const record = (await (await fetch(`${registry.url}/v1/builds/${id}`)).json()) as BuildRecord;
    if (record.status === 'succeeded') return record;
    if (record.status === 'failed' || record.status === 'cancelled') throw new Error(`build ${id} ${record.status}: ${record.error?.message}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** Milliseconds of the record's `pushing` phase. */
function pushingMs(record: BuildRecord): number {
  const index = record.phases.findIndex((phase) => phase.status === 'pushing');
  const next = record.phases[index + 1];
  if (index < 0 || !next) throw new Error(`build ${record.id} has no pushing phase`);
  return Date.parse(next.at) - Date.parse(record.phases[index]?.at ?? next.at);
}

/** The reference: `skopeo copy` of `tag` from nixyard to `target`; its wall time. */
async function skopeoCopy(registry: Service, tag: string, target: string): Promise<number> {
  const started = performance.now();
  await execa('skopeo', ['copy', '--quiet', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${registry.host}/${IMAGE}:${tag}`, `docker://${target}/bench/web:${tag}`]);
  return performance.now() - started;
}

async function manifest(registry: Service, tag: string): Promise<Manifest> {
  return (await (await fetch(`${registry.url}/v2/${IMAGE}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as Manifest;
}

/** Bytes a target holding `previous` lacks of `next`: the config and the layers it does not have. */
function lackedBytes(next: Manifest, previous: Manifest | undefined): { bytes: number; total: number } {
  const have = new Set(previous?.layers.map((layer) => layer.digest) ?? []);
  const total = next.config.size + next.layers.reduce((sum, layer) => sum + layer.size, 0);
  return { bytes: next.config.size + next.layers.filter((layer) => !have.has(layer.digest)).reduce((sum, layer) => sum + layer.size, 0), total };
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'nixyard-bench-push-'));
  const repo = await startGitServer();
  try {
    await writeNodeApp(repo.work, 'hello');
    await repo.commit('app');
    await repo.push('main');
    const targets: Service[] = [];
    for (const name of ['nixyard-target', 'skopeo-target']) {
      await mkdir(join(tmp, name));
      targets.push(await startReferenceRegistry(join(tmp, name), join(tmp, `${name}.log`)));
    }
    const [nixyardTarget, skopeoTarget] = targets as [Service, Service];
    const port = await freePort();
    const env = { ...process.env, PORT: String(port), NIXYARD_HOST: '127.0.0.1', NIXYARD_DATA_DIR: join(tmp, 'data'), NIX_CONFIG, NIXYARD_PUSH_INSECURE: nixyardTarget.host };
    const registry = await startService('nixyard', process.execPath, [CLI, 'serve', '--demo'], env, port, join(tmp, 'nixyard.log'));

    progress('first push');
    const first = await buildAndPush(registry, repo, 'v0', nixyardTarget.host);
    const firstReference = await skopeoCopy(registry, 'v0', skopeoTarget.host);
    let previous = await manifest(registry, 'v0');
    const firstBytes = lackedBytes(previous, undefined);
    const rows = [
      `| first push (the target has nothing) | ${fmtMs(pushingMs(first))} | ${fmtMs(firstReference)} | ${fmtMs(pushingMs(first) - firstReference)} | ${formatBytes(first.pushes?.[0]?.bytesUploaded ?? 0)} | ${formatBytes(firstBytes.bytes)} of ${formatBytes(firstBytes.total)} |`,
    ];

    progress(`${RUNS} code-only changes`);
    const ours: number[] = [];
    const reference: number[] = [];
    const sent: number[] = [];
    const lacked: number[] = [];
    let total = 0;
    for (let run = 1; run <= RUNS; run += 1) {
      await writeFile(join(repo.work, 'server.js'), (await readFile(join(repo.work, 'server.js'), 'utf8')).replace(/"hello[^"]*"/, `"hello, change ${run}"`));
      await repo.commit(`code ${run}`);
      await repo.push('main');
      const record = await buildAndPush(registry, repo, `v${run}`, nixyardTarget.host);
      ours.push(pushingMs(record));
      reference.push(await skopeoCopy(registry, `v${run}`, skopeoTarget.host));
      sent.push(record.pushes?.[0]?.bytesUploaded ?? 0);
      const next = await manifest(registry, `v${run}`);
      const bytes = lackedBytes(next, previous);
      lacked.push(bytes.bytes);
      total = bytes.total;
      previous = next;
    }
    rows.push(
      `| re-push after a one-line code change (median of ${RUNS}) | ${fmtMs(median(ours))} | ${fmtMs(median(reference))} | ${fmtMs(median(ours) - median(reference))} | ${formatBytes(median(sent))} | ${formatBytes(median(lacked))} of ${formatBytes(total)} (${((100 * median(lacked)) / total).toFixed(2)} %) |`,
    );
    const { stdout: skopeoVersion } = await execa('skopeo', ['--version']);
    console.log(`## bench/push: the node sample app pushed to a local docker-registry

| push | nixyard's pushing phase | reference: skopeo copy nixyard → registry | difference | nixyard sent | the target lacked |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Both copy from nixyard to an empty \`docker-registry\` of their own on 127.0.0.1 (plain HTTP), digests preserved; "the target lacked" is the config and the layers the target did not have (what either has to send).
Machine: ${cpus().length} cores, node ${process.version}, ${skopeoVersion}. Registry log: ${registry.logPath}`);
  } finally {
    await repo.close();
    await cleanUp(tmp);
  }
}

runBenchmark(main);
