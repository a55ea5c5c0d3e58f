/**
 * bench/source — builds of an image from application source (the node sample app of the
 * tests: a lockfile, a local `file:` dependency, a build step), through the API of a demo
 * registry, side by side with the floor a builder can reach: the app's install and build
 * commands run directly on the host (the reference), in the same run. Prints a markdown report:
 *
 *   npm run build && node dist/bench/source.js
 *
 * Measures: the cold build (empty registry storage and caches; the runtime's store paths
 * already in the Nix store), a rebuild after a dependency change, and BENCH_SOURCE_RUNS
 * (default 3) rebuilds after a one-line code change (median), each end to end (POST until the
 * record succeeded) with the bytes a client that has the previous image pulls for the new one;
 * and the bytes `docker pull HOST/nodejs_20` adds on a node that has the app image (the runtime's
 * layers are shared).
 */
import { execa } from 'execa';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildRecord } from '../src/builds/record.js';
import { PROJECT_ROOT } from '../src/paths.js';
import { startGitServer, type GitServer } from '../test/helpers/git-server.js';
import { writeNodeApp } from '../test/helpers/sample-apps.js';
import { formatBytes } from '../src/units.js';
import { cleanUp, fmtMs, freePort, median, NIX_CONFIG, runBenchmark, startService, type Service } from './support.js';

const RUNS = Number(process.env['BENCH_SOURCE_RUNS'] ?? 3);
const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const IMAGE = 'apps/bench/web';

interface Manifest {
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

const progress = (line: string) => process.stderr.write(`bench/source: ${line}\n`);

/** Builds `tag` through the API; the record and the milliseconds from the POST to `succeeded`. */
async function build(registry: Service, repo: GitServer, tag: string): Promise<{ record: BuildRecord; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${registry.url}/v1/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: IMAGE, tag, source: { repo: repo.url, ref: 'main' } }) });
  if (res.status !== 202) throw new Error(`POST /v1/builds: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as BuildRecord;
  for (;;) {
    const record = (await (await fetch(`${registry.url}/v1/builds/${id}`)).json()) as BuildRecord;
    if (record.status === 'succeeded') return { record, ms: performance.now() - started };
    if (record.status === 'failed' || record.status === 'cancelled') throw new Error(`build ${id} ${record.status}: ${record.error?.message}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

async function manifest(registry: Service, name: string, tag: string): Promise<Manifest> {
  return (await (await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as Manifest;
}

/** Bytes a client holding `previous` pulls for `next`: the config and the layers it does not have. */
function pulledBytes(next: Manifest, previous: Manifest | undefined): { bytes: number; total: number } {
  const have = new Set(previous?.layers.map((layer) => layer.digest) ?? []);
  const total = next.config.size + next.layers.reduce((sum, layer) => sum + layer.size, 0);
  const bytes = next.config.size + next.layers.filter((layer) => !have.has(layer.digest)).reduce((sum, layer) => sum + layer.size, 0);
  return { bytes, total };
}

/** The reference: the plan's install and build commands run directly on the host in a copy of the checkout. */
async function onHost(work: string, scratch: string): Promise<number> {
  const copy = await mkdtemp(join(scratch, 'host-'));
  await cp(work, copy, { recursive: true, filter: (source) => !source.includes('/.git') && !source.endsWith('/node_modules') });
  const env = { ...process.env, CI: 'true', NODE_ENV: 'production', NPM_CONFIG_PRODUCTION: 'false' };
  const started = performance.now();
  await execa('npm', ['ci'], { cwd: copy, env });
  await execa('npm', ['run', 'build'], { cwd: copy, env });
  const ms = performance.now() - started;
  await rm(copy, { recursive: true, force: true });
  return ms;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'nixyard-bench-source-'));
  const repo = await startGitServer();
  try {
    await writeNodeApp(repo.work, 'hello');
    await repo.commit('app');
    await repo.push('main');
    const port = await freePort();
    const registry = await startService('nixyard', process.execPath, [CLI, 'serve', '--demo'], { ...process.env, PORT: String(port), NIXYARD_HOST: '127.0.0.1', NIXYARD_DATA_DIR: join(tmp, 'data'), NIX_CONFIG }, port, join(tmp, 'nixyard.log'));
    const rows: string[] = [];

    progress('cold build');
    const cold = await build(registry, repo, 'cold');
    const coldHost = await onHost(repo.work, tmp);
    const coldManifest = await manifest(registry, IMAGE, 'cold');
    const coldPull = pulledBytes(coldManifest, undefined);
    rows.push(`| cold build (empty storage and caches) | ${fmtMs(cold.ms)} | ${fmtMs(coldHost)} | ${fmtMs(cold.ms - coldHost)} | ${formatBytes(coldPull.bytes)} of ${formatBytes(coldPull.total)} |`);

    progress('dependency change');
    await writeFile(join(repo.work, 'vendor/greet/index.js'), 'module.exports = (what) => `${what}, greeted v2 from node ${process.versions.node.split(".")[0]}`;\n');
    const pkg = JSON.parse(await readFile(join(repo.work, 'vendor/greet/package.json'), 'utf8')) as { version: string };
    await writeFile(join(repo.work, 'vendor/greet/package.json'), `${JSON.stringify({ ...pkg, version: '2.0.0' })}\n`);
    await execa('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: repo.work });
    await repo.commit('dependency');
    await repo.push('main');
    const dependency = await build(registry, repo, 'dependency');
    const dependencyHost = await onHost(repo.work, tmp);
    const dependencyManifest = await manifest(registry, IMAGE, 'dependency');
    const dependencyPull = pulledBytes(dependencyManifest, coldManifest);
    rows.push(`| rebuild after a dependency change | ${fmtMs(dependency.ms)} | ${fmtMs(dependencyHost)} | ${fmtMs(dependency.ms - dependencyHost)} | ${formatBytes(dependencyPull.bytes)} of ${formatBytes(dependencyPull.total)} (${((100 * dependencyPull.bytes) / dependencyPull.total).toFixed(2)} %) |`);

    progress(`${RUNS} code-only changes`);
    const times: number[] = [];
    let lastCode: BuildRecord | undefined;
    const hostTimes: number[] = [];
    const pulls: number[] = [];
    let previous = dependencyManifest;
    let total = 0;
    for (let run = 1; run <= RUNS; run += 1) {
      await writeFile(join(repo.work, 'server.js'), (await readFile(join(repo.work, 'server.js'), 'utf8')).replace(/"hello[^"]*"/, `"hello, change ${run}"`));
      await repo.commit(`code ${run}`);
      await repo.push('main');
      const code = await build(registry, repo, `code-${run}`);
      times.push(code.ms);
      lastCode = code.record;
      hostTimes.push(await onHost(repo.work, tmp));
      const next = await manifest(registry, IMAGE, `code-${run}`);
      const pull = pulledBytes(next, previous);
      pulls.push(pull.bytes);
      total = pull.total;
      previous = next;
    }
    rows.push(`| rebuild after a one-line code change (median of ${RUNS}) | ${fmtMs(median(times))} | ${fmtMs(median(hostTimes))} | ${fmtMs(median(times) - median(hostTimes))} | ${formatBytes(median(pulls))} of ${formatBytes(total)} (${((100 * median(pulls)) / total).toFixed(2)} %) |`);

    const runtime = await manifest(registry, 'nodejs_20', 'latest');
    const runtimePull = pulledBytes(runtime, previous);
    console.log(`## bench/source: the node sample app built from source

| measure | nixyard, POST → succeeded | reference: npm ci && npm run build on the host | nixyard's overhead | a client that has the previous image pulls |
| --- | --- | --- | --- | --- |
${rows.join('\n')}

\`docker pull HOST/nodejs_20\` on a node that has the app image pulls ${formatBytes(runtimePull.bytes)} of ${formatBytes(runtimePull.total)}: the runtime's layers are the app image's.

Phases of the last code-only build: ${lastCode?.phases.map((phase) => phase.status).join(' → ')}.
Machine: ${cpus().length} cores, node ${process.version}. Registry log: ${registry.logPath}`);
  } finally {
    await repo.close();
    await cleanUp(tmp);
  }
}

runBenchmark(main);
