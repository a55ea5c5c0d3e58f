/**
 * bench/pull — how fast nixyard serves pulls, side by side with Debian's reference registry
 * (docker-registry) serving the same images. A script that prints a markdown report, not a
 * timed test:
 *
 *   npm run build && node dist/bench/pull.js
 *
 * 1. cold build: first manifest request of demo images in a fresh data dir, their store paths
 *    deleted first (so Nix really builds them);
 * 2. assemble: manifest request of a ~300-path / ~60 MB closure whose store paths are built,
 *    in a fresh storage dir (Nix evaluates, nothing to build; layers are packed), and whether
 *    packing used more than one core;
 * 3. warm manifest by tag: sequential p50/p99 and wrk requests/s, both registries;
 * 4. blob throughput of the image's largest layer, both registries;
 * 5. 50 concurrent pulls of one uncached image: all succeed, one build, peak RSS;
 * 6. versions, machine, and the exact commands.
 *
 * Environment: BENCH_SYNTHETIC (NIXYARD_DEMO_SYNTHETIC of every server, default 2000),
 * BENCH_CPU_PROF=<dir> (run nixyard with `node --cpu-prof` into <dir>), BENCH_KEEP=1 (keep the
 * temporary directory). Servers listen on 127.0.0.1 only and are killed at the end.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseImageName } from '../src/image/image-name.js';
import { DEMO_PKGS_PATH, NIX_DIR, PROJECT_ROOT } from '../src/paths.js';
import {
  buildClosureOutputs,
  commands,
  concurrentAgent,
  cpuSeconds,
  curlThroughput,
  describeCold,
  fmtMB,
  fmtMs,
  freePort,
  get,
  invalidPaths,
  killAllNow,
  makeCold,
  MANIFEST_ACCEPT_ALL,
  MANIFEST_ACCEPT_DOCKER,
  median,
  NIX_CONFIG,
  percentile,
  prepareImageArgs,
  record,
  run,
  shq,
  startReferenceRegistry,
  startService,
  statusMB,
  stopAll,
  timedGet,
  wrk,
  type Manifest,
  type Service,
} from './support.js';

const SYNTHETIC = Number(process.env['BENCH_SYNTHETIC'] ?? 2000);
const CPU_PROF_DIR = process.env['BENCH_CPU_PROF'];
const KEEP = process.env['BENCH_KEEP'] === '1';
const SEQUENTIAL_REQUESTS = 2000;
const WRK_SECONDS = 10;
const ASSEMBLE_REPEATS = 3;
const CONCURRENT_PULLS = 50;
/** Target of the assemble measurement: a closure of about this many paths and bytes. */
const ASSEMBLE_PATHS = 300;
const ASSEMBLE_BYTES = 60e6;

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const PREPARE_IMAGE = join(NIX_DIR, 'prepare-image.nix');

interface Row {
  measure: string;
  nixyard: string;
  reference: string;
  target: string;
  verdict: '' | 'ok' | 'MISS' | 'ERROR';
}

const rows: Row[] = [];
const notes: string[] = [];
let failed = false;

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function verdict(ok: boolean): 'ok' | 'MISS' {
  return ok ? 'ok' : 'MISS';
}

// ---------------------------------------------------------------- nixyard servers

let tmp = '';
let serverCount = 0;

async function startNixyard(label: string, extraEnv: Record<string, string> = {}): Promise<Service & { dataDir: string }> {
  serverCount += 1;
  const dataDir = join(tmp, `nixyard-${serverCount}-${label}`);
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), NIXYARD_HOST: '127.0.0.1', NIXYARD_DATA_DIR: dataDir, NIXYARD_DEMO_SYNTHETIC: String(SYNTHETIC), NIX_CONFIG, ...extraEnv };
  const nodeArgs = CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=nixyard-${serverCount}-${label}.cpuprofile`] : [];
  record(
    `PORT=<free port> NIXYARD_HOST=127.0.0.1 NIXYARD_DATA_DIR=<fresh dir> NIXYARD_DEMO_SYNTHETIC=${SYNTHETIC} NIX_CONFIG=$'substituters =\\nexperimental-features = nix-command'` +
      `${Object.entries({ NIXYARD_LAYER_BUDGET: process.env['NIXYARD_LAYER_BUDGET'], ...extraEnv }).filter(([, value]) => value).map(([key, value]) => ` ${key}=${value}`).join('')} node ${nodeArgs.map(shq).join(' ')}${nodeArgs.length ? ' ' : ''}dist/src/cli.js serve --demo 2>server.log`,
  );
  const service = await startService(`nixyard (${label})`, process.execPath, [...nodeArgs, CLI, 'serve', '--demo'], env, port, join(tmp, `nixyard-${serverCount}-${label}.log`));
  return { ...service, dataDir };
}

function manifestUrl(service: Service, name: string): string {
  return `${service.url}/v2/${name}/manifests/latest`;
}

/** The events of a nixyard log (JSON lines) with message `msg`. */
function logEvents(logPath: string, msg: string): Record<string, unknown>[] {
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((event) => event['msg'] === msg);
}

/** Fields of the last `packed layers` event of a nixyard log (paths, layers, nixMs, packMs). */
function packedLayers(logPath: string): Record<string, number> {
  return (logEvents(logPath, 'packed layers').at(-1) ?? {}) as Record<string, number>;
}

function countLines(logPath: string, msg: string): number {
  return logEvents(logPath, msg).length;
}

function layerBytes(manifest: Manifest): number {
  return manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
}

// ---------------------------------------------------------------- synthetic images

interface SyntheticInfo {
  [name: string]: { size: number; deps: string[] };
}

/** The demo set's synthetic packages (sizes and dependencies), read with `nix eval`. */
async function syntheticInfo(): Promise<SyntheticInfo> {
  const expr = `(import ${DEMO_PKGS_PATH} { syntheticCount = ${SYNTHETIC}; }).syntheticInfo`;
  return JSON.parse(await run('nix', ['eval', '--json', '--impure', '--expr', expr])) as SyntheticInfo;
}

/**
 * Chooses apps whose closure has about ASSEMBLE_PATHS paths and ASSEMBLE_BYTES bytes, within
 * the 255-character repository name: greedily, each step the app that best keeps bytes per
 * path on target while adding paths. Deterministic for a given demo set.
 */
function chooseAssembleApps(info: SyntheticInfo): string[] {
  const memo = new Map<string, Set<string>>();
  const closure = (name: string): Set<string> => {
    const known = memo.get(name);
    if (known) return known;
    const set = new Set([name]);
    for (const dep of info[name]?.deps ?? []) for (const path of closure(dep)) set.add(path);
    memo.set(name, set);
    return set;
  };
  const apps = Object.keys(info)
    .filter((name) => name.startsWith('synth-app-'))
    .sort();
  const maxApps = Math.floor(256 / ((apps[0]?.length ?? 13) + 1));
  const target = ASSEMBLE_PATHS - 10; // the base packages (cacert, iana-etc, busybox …) add a few
  const chosen: string[] = [];
  const union = new Set<string>();
  let bytes = 0;
  while (union.size < target && chosen.length < maxApps) {
    let best: string | undefined;
    let bestScore = Infinity;
    for (const app of apps) {
      if (chosen.includes(app)) continue;
      let paths = 0;
      let added = 0;
      for (const path of closure(app)) {
        if (union.has(path)) continue;
        paths += 1;
        added += info[path]?.size ?? 0;
      }
      if (paths === 0) continue;
      const score = Math.abs(((union.size + paths) / target) * ASSEMBLE_BYTES - (bytes + added)) / ASSEMBLE_BYTES - paths / target;
      if (score < bestScore) {
        bestScore = score;
        best = app;
      }
    }
    if (!best) break;
    chosen.push(best);
    for (const path of closure(best)) {
      if (!union.has(path)) bytes += info[path]?.size ?? 0;
      union.add(path);
    }
  }
  return chosen.sort();
}

// ---------------------------------------------------------------- phases

/** 1. First manifest request of images whose store paths were deleted, each in a fresh data dir. */
async function coldBuilds(images: { label: string; name: string }[]): Promise<void> {
  for (const image of images) {
    progress(`cold build of ${image.label}`);
    const packages = parseImageName(image.name, 'latest').packages;
    const outputs = await buildClosureOutputs(PREPARE_IMAGE, prepareImageArgs(DEMO_PKGS_PATH, SYNTHETIC, packages));
    const cold = await makeCold(outputs);
    const server = await startNixyard('cold');
    try {
      const { response, ms } = await timedGet(manifestUrl(server, image.name), { Accept: MANIFEST_ACCEPT_ALL }, { timeoutMs: 300_000 });
      const manifest = JSON.parse(response.body.toString('utf8')) as Manifest;
      const packed = packedLayers(server.logPath);
      rows.push({
        measure: `cold build: \`${image.label}\``,
        nixyard: `${fmtMs(ms)} (${describeCold(cold)}; ${packed['paths'] ?? '?'} paths → ${manifest.layers.length} layers, ${fmtMB(layerBytes(manifest))}; Nix ${fmtMs(packed['nixMs'] ?? NaN)}, packing ${fmtMs(packed['packMs'] ?? NaN)})`,
        reference: 'n/a',
        target: '',
        verdict: '',
      });
    } finally {
      await server.stop();
    }
  }
}

interface AssembleResult {
  server: Service;
  name: string;
  manifest: Manifest;
}

/** 2. Pre-built store paths, fresh storage: time the manifest request (Nix eval + layering + packing). */
async function assemble(apps: string[]): Promise<AssembleResult> {
  const name = apps.join('/');
  const packages = parseImageName(name, 'latest').packages;
  const args = prepareImageArgs(DEMO_PKGS_PATH, SYNTHETIC, packages);
  const outputs = await buildClosureOutputs(PREPARE_IMAGE, args);
  const missing = (await invalidPaths(outputs)).length;
  progress(`pre-building ${apps.length} synthetic apps (${missing} of ${outputs.length} store paths to build)`);
  const outLink = join(tmp, 'prebuild', 'result');
  await mkdir(join(tmp, 'prebuild'), { recursive: true });
  const started = Date.now();
  const roots = (await run('nix-build', [PREPARE_IMAGE, ...args, '--out-link', outLink], { log: true })).split('\n').filter((line) => line.startsWith('/'));
  const prebuildMs = Date.now() - started;
  const info = JSON.parse(await run('nix', ['path-info', '--json', '-r', '-S', ...roots], { log: true })) as { path: string; narSize: number }[] | Record<string, { narSize: number }>;
  const entries = Array.isArray(info) ? info : Object.values(info);
  const closurePaths = entries.length;
  const closureBytes = entries.reduce((sum, entry) => sum + entry.narSize, 0);
  notes.push(
    `assemble image: \`${name}\` (NIXYARD_DEMO_SYNTHETIC=${SYNTHETIC}); closure from \`nix path-info -r -S\`: ${closurePaths} paths, ${fmtMB(closureBytes)} (NAR); pre-built with nix-build in ${fmtMs(prebuildMs)} (${missing} paths built), out-link rooted until the blob measurements end.`,
  );

  const times: number[] = [];
  const cpuRatios: number[] = [];
  const cpuRatiosWithNix: number[] = [];
  const packMs: number[] = [];
  const nixMs: number[] = [];
  let last: AssembleResult | undefined;
  for (let repeat = 0; repeat < ASSEMBLE_REPEATS; repeat += 1) {
    progress(`assemble ${repeat + 1}/${ASSEMBLE_REPEATS} in a fresh storage dir`);
    if (last) await last.server.stop();
    const server = await startNixyard('assemble');
    const before = cpuSeconds(server.pid);
    const { response, ms } = await timedGet(manifestUrl(server, name), { Accept: MANIFEST_ACCEPT_ALL }, { timeoutMs: 300_000 });
    const after = cpuSeconds(server.pid);
    const manifest = JSON.parse(response.body.toString('utf8')) as Manifest;
    const packed = packedLayers(server.logPath);
    if (countLines(server.logPath, 'building image') !== 1) throw new Error('assemble request did not build exactly one image');
    times.push(ms);
    cpuRatios.push((after.self - before.self) / (ms / 1000));
    cpuRatiosWithNix.push((after.self - before.self + after.children - before.children) / (ms / 1000));
    packMs.push(packed['packMs'] ?? NaN);
    nixMs.push(packed['nixMs'] ?? NaN);
    if (packed['paths'] !== undefined && packed['paths'] !== closurePaths) notes.push(`the server packed ${packed['paths']} paths, nix path-info listed ${closurePaths}.`);
    last = { server, name, manifest };
  }
  if (!last) throw new Error('no assemble run');
  const layers = last.manifest.layers;
  const largest = Math.max(...layers.map((layer) => layer.size));
  const time = median(times);
  rows.push({
    measure: `assemble, no Nix build: ${closurePaths} paths, ${fmtMB(closureBytes)} closure (median of ${ASSEMBLE_REPEATS}, each a fresh storage dir)`,
    nixyard: `${fmtMs(time)} (runs ${times.map(fmtMs).join(', ')}; Nix eval+path-info ${fmtMs(median(nixMs))}, packing ${fmtMs(median(packMs))} = ${(closureBytes / 1e6 / (median(packMs) / 1000)).toFixed(0)} MB/s; ${layers.length} layers, ${fmtMB(layerBytes(last.manifest))}, largest ${fmtMB(largest)})`,
    reference: 'n/a',
    target: '< 1 s',
    verdict: verdict(time < 1000),
  });
  const ratio = median(cpuRatios);
  rows.push({
    measure: 'assemble: CPU time / wall time of the nixyard process (utime+stime)',
    nixyard: `${ratio.toFixed(2)} (with its Nix child processes ${median(cpuRatiosWithNix).toFixed(2)}; ${availableParallelism()} cores)`,
    reference: 'n/a',
    target: '> 1 (both cores)',
    verdict: verdict(ratio > 1),
  });
  return last;
}

/** Sequential GETs of a manifest over one keep-alive connection; latencies in ms. */
async function sequentialLatency(url: string, count: number): Promise<number[]> {
  const headers = { Accept: MANIFEST_ACCEPT_DOCKER };
  for (let i = 0; i < 200; i += 1) await timedGet(url, headers);
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) times.push((await timedGet(url, headers)).ms);
  return times.sort((a, b) => a - b);
}

/** 3. Warm manifest by tag on both registries. */
async function warmManifests(nixyard: Service, reference: Service): Promise<void> {
  const name = 'shell/hello';
  progress(`warm manifest: sequential ${SEQUENTIAL_REQUESTS} requests each`);
  const nixUrl = manifestUrl(nixyard, name);
  const refUrl = manifestUrl(reference, name);
  const nixDoc = (await timedGet(nixUrl, { Accept: MANIFEST_ACCEPT_DOCKER })).response;
  const refDoc = (await timedGet(refUrl, { Accept: MANIFEST_ACCEPT_DOCKER })).response;
  notes.push(
    `warm manifest: \`${name}\` with \`Accept: ${MANIFEST_ACCEPT_DOCKER}\`; nixyard answers ${nixDoc.headers['content-type']} (${nixDoc.bytes} B), docker-registry ${refDoc.headers['content-type']} (${refDoc.bytes} B, copied with skopeo --format v2s2). Sequential: node http client, one keep-alive connection, 200 warm-up requests then ${SEQUENTIAL_REQUESTS}.`,
  );
  const nixTimes = await sequentialLatency(nixUrl, SEQUENTIAL_REQUESTS);
  const refTimes = await sequentialLatency(refUrl, SEQUENTIAL_REQUESTS);
  const nixP50 = percentile(nixTimes, 50);
  rows.push({
    measure: `warm manifest by tag, sequential: p50 (${SEQUENTIAL_REQUESTS} requests)`,
    nixyard: fmtMs(nixP50),
    reference: fmtMs(percentile(refTimes, 50)),
    target: '< 2 ms',
    verdict: verdict(nixP50 < 2),
  });
  rows.push({
    measure: 'warm manifest by tag, sequential: p99 / max',
    nixyard: `${fmtMs(percentile(nixTimes, 99))} / ${fmtMs(nixTimes.at(-1) ?? NaN)}`,
    reference: `${fmtMs(percentile(refTimes, 99))} / ${fmtMs(refTimes.at(-1) ?? NaN)}`,
    target: '',
    verdict: '',
  });
  progress(`warm manifest: wrk -t2 -c16 -d${WRK_SECONDS}s on each`);
  const nixWrk = await wrk(nixUrl, { Accept: MANIFEST_ACCEPT_DOCKER }, 2, 16, WRK_SECONDS);
  const refWrk = await wrk(refUrl, { Accept: MANIFEST_ACCEPT_DOCKER }, 2, 16, WRK_SECONDS);
  const errors = (result: typeof nixWrk) => (result.errors ? ` (${result.errors})` : '');
  rows.push({
    measure: `warm manifest by tag: requests/s (wrk -t2 -c16 -d${WRK_SECONDS}s)`,
    nixyard: `${nixWrk.requestsPerSecond.toFixed(0)}${errors(nixWrk)}`,
    reference: `${refWrk.requestsPerSecond.toFixed(0)}${errors(refWrk)}`,
    target: '≥ reference',
    verdict: verdict(nixWrk.requestsPerSecond >= refWrk.requestsPerSecond && !nixWrk.errors),
  });
  rows.push({
    measure: 'warm manifest by tag under wrk: latency p50 / p99',
    nixyard: `${fmtMs(nixWrk.latency.p50)} / ${fmtMs(nixWrk.latency.p99)}`,
    reference: `${fmtMs(refWrk.latency.p50)} / ${fmtMs(refWrk.latency.p99)}`,
    target: '',
    verdict: '',
  });
}

/** A layer served by nixyard and, after skopeo copy, by the reference registry. */
interface BlobTarget {
  label: string;
  server: Service;
  name: string;
  layer: { digest: string; size: number };
}

/** The largest layer of a manifest. */
function largestLayer(manifest: Manifest): { digest: string; size: number } {
  const layer = [...manifest.layers].sort((a, b) => b.size - a.size)[0];
  if (!layer) throw new Error('the image has no layers');
  return layer;
}

/** 4. Download a layer repeatedly from both registries: one connection (curl), then four (wrk). */
async function blobThroughput(reference: Service, target: BlobTarget): Promise<void> {
  const { layer } = target;
  const path = `/v2/${target.name}/blobs/${layer.digest}`;
  const check = await get(`${reference.url}${path}`, {}, { discard: true });
  if (check.status !== 200 || check.bytes !== layer.size) throw new Error(`docker-registry does not serve ${layer.digest} (${check.status}, ${check.bytes} B)`);
  const times = Math.min(400, Math.max(8, Math.ceil(500e6 / layer.size)));
  progress(`blob throughput: ${target.label} (${fmtMB(layer.size)}), ${times}× per curl run, 3 rounds`);
  const nixRuns: number[] = [];
  const refRuns: number[] = [];
  for (let round = 0; round < 3; round += 1) {
    refRuns.push((await curlThroughput(`${reference.url}${path}`, times, layer.size, join(tmp, 'curl-ref.cfg'))).mbps);
    nixRuns.push((await curlThroughput(`${target.server.url}${path}`, times, layer.size, join(tmp, 'curl-nixyard.cfg'))).mbps);
  }
  const nix = median(nixRuns);
  const ref = median(refRuns);
  rows.push({
    measure: `blob download, one connection: ${target.label} (${fmtMB(layer.size)}) ×${times} with curl, median of 3 (MB = 10^6 B)`,
    nixyard: `${nix.toFixed(0)} MB/s (${((100 * nix) / ref).toFixed(0)} %)`,
    reference: `${ref.toFixed(0)} MB/s`,
    target: '≥ 90 % of reference',
    verdict: verdict(nix >= 0.9 * ref),
  });
  progress(`blob throughput: ${target.label}, wrk -t2 -c4 -d5s on each`);
  const nixWrk = await wrk(`${target.server.url}${path}`, {}, 2, 4, 5);
  const refWrk = await wrk(`${reference.url}${path}`, {}, 2, 4, 5);
  const nixMBps = (nixWrk.requestsPerSecond * layer.size) / 1e6;
  const refMBps = (refWrk.requestsPerSecond * layer.size) / 1e6;
  rows.push({
    measure: `blob download, 4 connections: ${target.label} (wrk -t2 -c4 -d5s; requests/s × size)`,
    nixyard: `${nixMBps.toFixed(0)} MB/s (${((100 * nixMBps) / refMBps).toFixed(0)} %)${nixWrk.errors ? ` (${nixWrk.errors})` : ''}`,
    reference: `${refMBps.toFixed(0)} MB/s${refWrk.errors ? ` (${refWrk.errors})` : ''}`,
    target: '≥ 90 % of reference',
    verdict: verdict(nixMBps >= 0.9 * refMBps && !nixWrk.errors),
  });
}

/** One pull with the node client: manifest, then config and every layer, bytes counted. */
async function pull(service: Service, name: string, onManifest: () => void): Promise<{ manifestMs: number; ms: number; bytes: number }> {
  const started = process.hrtime.bigint();
  const { response, ms: manifestMs } = await timedGet(manifestUrl(service, name), { Accept: MANIFEST_ACCEPT_ALL }, { agent: concurrentAgent, timeoutMs: 300_000 });
  onManifest();
  const manifest = JSON.parse(response.body.toString('utf8')) as Manifest;
  let bytes = response.bytes;
  for (const blob of [manifest.config, ...manifest.layers]) {
    const got = await timedGet(`${service.url}/v2/${name}/blobs/${blob.digest}`, {}, { agent: concurrentAgent, discard: true });
    if (got.response.bytes !== blob.size) throw new Error(`blob ${blob.digest}: ${got.response.bytes} B, manifest says ${blob.size}`);
    bytes += got.response.bytes;
  }
  return { manifestMs, ms: Number(process.hrtime.bigint() - started) / 1e6, bytes };
}

/** The reference registry's RSS (idle, median and peak) during the same concurrent pulls of `name`, copied from `from`. */
async function referenceUnderLoad(from: Service, name: string): Promise<{ idle: number; median: number; peak: number }> {
  const reference = await startReferenceRegistry(await mkdtemp(join(tmp, 'reference-load-')), join(tmp, 'docker-registry-load.log'));
  try {
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--format', 'v2s2', `docker://${from.host}/${name}`, `docker://${reference.host}/${name}`], { log: true, env: process.env });
    const idle = statusMB(reference.pid, 'VmRSS');
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(statusMB(reference.pid, 'VmRSS')), 50);
    const results = await Promise.allSettled(Array.from({ length: CONCURRENT_PULLS }, () => pull(reference, name, () => undefined)));
    clearInterval(sampler);
    const failures = results.filter((result) => result.status === 'rejected').length;
    if (failures > 0) notes.push(`concurrent pulls from docker-registry: ${failures} failed`);
    return { idle, median: median(samples), peak: statusMB(reference.pid, 'VmHWM') };
  } finally {
    await reference.stop();
  }
}

/** 5. 50 concurrent pulls of one image nobody has built (store paths deleted too). */
async function concurrentColdPulls(apps: string[]): Promise<void> {
  const name = apps.join('/');
  const packages = parseImageName(name, 'latest').packages;
  const outputs = await buildClosureOutputs(PREPARE_IMAGE, prepareImageArgs(DEMO_PKGS_PATH, SYNTHETIC, packages));
  const cold = await makeCold(outputs);
  const server = await startNixyard('concurrent');
  try {
    const idle = statusMB(server.pid, 'VmRSS');
    progress(`${CONCURRENT_PULLS} concurrent pulls of ${name} (Nix builds ${cold.toBuild} paths)`);
    // VmRSS sampled every 50 ms: its peak while the image builds, and once manifests are out.
    const rss = { building: 0, serving: 0 };
    const samples: number[] = [];
    let serving = false;
    const sampler = setInterval(() => {
      const now = statusMB(server.pid, 'VmRSS');
      samples.push(now);
      if (serving) rss.serving = Math.max(rss.serving, now);
      else rss.building = Math.max(rss.building, now);
    }, 50);
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: CONCURRENT_PULLS }, () => pull(server, name, () => (serving = true))));
    const wall = Date.now() - started;
    clearInterval(sampler);
    const peak = statusMB(server.pid, 'VmHWM');
    const ok = results.filter((result) => result.status === 'fulfilled');
    const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failures.length > 0) notes.push(`concurrent pulls: ${failures.length} failed, first: ${String(failures[0]?.reason)}`);
    const builds = countLines(server.logPath, 'building image');
    const manifestTimes = ok.map((result) => result.value.manifestMs).sort((a, b) => a - b);
    const bytes = ok.reduce((sum, result) => sum + result.value.bytes, 0);
    const packed = packedLayers(server.logPath);
    rows.push({
      measure: `${CONCURRENT_PULLS} concurrent cold pulls of \`${name}\` (manifest, config, every layer)`,
      nixyard: `${ok.length}/${CONCURRENT_PULLS} ok in ${fmtMs(wall)} (manifest ${fmtMs(manifestTimes[0] ?? NaN)}–${fmtMs(manifestTimes.at(-1) ?? NaN)}; ${describeCold(cold)}; ${packed['paths'] ?? '?'} paths → ${packed['layers'] ?? '?'} layers; ${fmtMB(bytes)} served)`,
      reference: 'n/a',
      target: 'all succeed',
      verdict: verdict(ok.length === CONCURRENT_PULLS),
    });
    rows.push({
      measure: 'image builds for those pulls (`building image` log lines)',
      nixyard: String(builds),
      reference: 'n/a',
      target: '1',
      verdict: verdict(builds === 1),
    });
    const reference = await referenceUnderLoad(server, name);
    rows.push({
      measure: `RSS during the ${CONCURRENT_PULLS} concurrent pulls (VmRSS every 50 ms): median / peak (VmHWM, from start-up); idle after start-up`,
      nixyard: `${median(samples).toFixed(0)} / ${peak.toFixed(0)} MB; idle ${idle.toFixed(0)} MB (sampled peaks: ${rss.building.toFixed(0)} MB while building, ${rss.serving.toFixed(0)} MB while serving the blobs)`,
      reference: `${reference.median.toFixed(0)} / ${reference.peak.toFixed(0)} MB; idle ${reference.idle.toFixed(0)} MB (the same ${CONCURRENT_PULLS} pulls of the image copied in)`,
      target: 'peak ≤ 128 MB, idle ≤ 70 MB',
      verdict: verdict(peak <= 128 && idle <= 70),
    });
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------- report

/** First line of a tool's version output (stdout or stderr; `wrk -v` exits 1). */
async function versionOf(cmd: string, args: string[]): Promise<string> {
  const result = await execa(cmd, args, { reject: false, all: true });
  return (String(result.all ?? '').split('\n')[0] ?? '').trim() || `${cmd}: unknown version`;
}

async function versions(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  const commit = (await versionOf('git', ['-C', PROJECT_ROOT, 'rev-parse', '--short', 'HEAD'])).trim();
  const status = await execa('git', ['-C', PROJECT_ROOT, 'status', '--porcelain', '--', 'src', 'storage', 'nix'], { reject: false });
  const dirty = String(status.stdout).trim() !== '';
  const wrkVersion = /wrk \S+/.exec(await versionOf('wrk', ['-v']))?.[0] ?? 'wrk';
  return [
    `nixyard ${pkg.version} at ${PROJECT_ROOT} (commit ${commit}${dirty ? ', uncommitted changes in src/storage/nix' : ''}), node ${process.version}`,
    `${await versionOf('nix', ['--version'])}; ${await versionOf('docker-registry', ['--version'])}; ${await versionOf('skopeo', ['--version'])}; ${wrkVersion}; ${(await versionOf('curl', ['--version'])).split(' ').slice(0, 2).join(' ')}`,
    `machine: ${availableParallelism()} cores (nproc), ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`,
    `layer budget: ${process.env['NIXYARD_LAYER_BUDGET'] ?? '94 (default)'}; NIXYARD_DEMO_SYNTHETIC=${SYNTHETIC}`,
  ];
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function printReport(header: string[], totalMs: number): void {
  const out: string[] = ['# nixyard pull benchmark', '', ...header.map((line) => `- ${line}`), ''];
  out.push('| measure | nixyard | docker-registry (reference) | target | |', '| --- | --- | --- | --- | --- |');
  for (const row of rows) out.push(`| ${cell(row.measure)} | ${cell(row.nixyard)} | ${cell(row.reference)} | ${cell(row.target)} | ${row.verdict} |`);
  out.push('', 'Notes:', '', ...notes.map((note) => `- ${note}`), '', `Total time ${fmtMs(totalMs)}.`, '', 'Commands:', '', '```');
  out.push(...commands, '```', '');
  process.stdout.write(`${out.join('\n')}\n`);
}

async function phase(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    failed = true;
    progress(`${name} failed: ${(error as Error).stack ?? String(error)}`);
    rows.push({ measure: name, nixyard: `error: ${String((error as Error).message ?? error).split('\n')[0]}`, reference: '', target: '', verdict: 'ERROR' });
  }
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  tmp = await mkdtemp('/tmp/nixyard-bench-');
  progress(`temporary directory ${tmp}`);
  const header = await versions();
  let assembled: AssembleResult | undefined;
  let reference: Service | undefined;
  try {
    const info = await syntheticInfo();
    const assembleApps = chooseAssembleApps(info);
    const allApps = Object.keys(info)
      .filter((name) => name.startsWith('synth-app-'))
      .sort();
    const coldApps = assembleApps.slice(0, 3);
    const pullApps = allApps.filter((app) => !assembleApps.includes(app)).slice(0, 2);

    await phase('cold builds', () =>
      coldBuilds([
        { label: 'hello', name: 'hello' },
        { label: 'shell/hello', name: 'shell/hello' },
        { label: `${coldApps.join('/')}`, name: coldApps.join('/') },
      ]),
    );
    await phase('assemble', async () => {
      assembled = await assemble(assembleApps);
    });
    const blobTargets: BlobTarget[] = [];
    let bigLayerServer: Service | undefined;
    await phase('reference registry', async () => {
      if (!assembled) throw new Error('no nixyard server with the assembled image');
      await timedGet(manifestUrl(assembled.server, 'shell/hello'), { Accept: MANIFEST_ACCEPT_ALL }, { timeoutMs: 300_000 });
      reference = await startReferenceRegistry(await mkdtemp(join(tmp, 'reference-')), join(tmp, 'docker-registry.log'));
      blobTargets.push({ label: 'largest layer of the assembled image', server: assembled.server, name: assembled.name, layer: largestLayer(assembled.manifest) });
      // The same image packed into one layer (layer budget 2: store paths + symlinks), for a big blob.
      progress('the assembled image again with NIXYARD_LAYER_BUDGET=2 (one big layer)');
      bigLayerServer = await startNixyard('one-layer', { NIXYARD_LAYER_BUDGET: '2' });
      const big = await timedGet(manifestUrl(bigLayerServer, assembled.name), { Accept: MANIFEST_ACCEPT_ALL }, { timeoutMs: 300_000 });
      const bigManifest = JSON.parse(big.response.body.toString('utf8')) as Manifest;
      rows.push({
        measure: `assemble, the same closure in one layer (NIXYARD_LAYER_BUDGET=2, fresh storage)`,
        nixyard: `${fmtMs(big.ms)} (packing ${fmtMs(packedLayers(bigLayerServer.logPath)['packMs'] ?? NaN)}, one stream)`,
        reference: 'n/a',
        target: '',
        verdict: '',
      });
      blobTargets.push({ label: 'one-layer image\'s store layer', server: bigLayerServer, name: assembled.name, layer: largestLayer(bigManifest) });
      const copies: [Service, string][] = [
        [assembled.server, 'shell/hello'],
        [assembled.server, assembled.name],
        [bigLayerServer, assembled.name],
      ];
      for (const [from, name] of copies) {
        progress(`skopeo copy ${name} from ${from.name} to docker-registry`);
        await run(
          'skopeo',
          ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--format', 'v2s2', `docker://${from.host}/${name}`, `docker://${reference.host}/${name}`],
          { log: true, env: process.env },
        );
      }
    });
    await phase('warm manifest', async () => {
      if (!assembled || !reference) throw new Error('servers missing');
      await warmManifests(assembled.server, reference);
    });
    for (const target of blobTargets) {
      await phase(`blob throughput: ${target.label}`, async () => {
        if (!reference) throw new Error('docker-registry missing');
        await blobThroughput(reference, target);
      });
    }
    await assembled?.server.stop();
    await bigLayerServer?.stop();
    await reference?.stop();
    await rm(join(tmp, 'prebuild'), { recursive: true, force: true });
    await phase('concurrent cold pulls', () => concurrentColdPulls(pullApps));
  } finally {
    await stopAll();
    if (!KEEP) await rm(tmp, { recursive: true, force: true });
    else progress(`kept ${tmp}`);
  }
  printReport(header, Date.now() - startedAt);
  if (failed) process.exitCode = 1;
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping servers`);
    const exit = () => process.exit(130);
    stopAll(1000).then(exit, exit);
  });
}

main().catch((error: unknown) => {
  progress(`failed: ${(error as Error).stack ?? String(error)}`);
  killAllNow();
  process.exitCode = 1;
});
