/**
 * bench/cold — assembling an image whose store paths are built but whose layers are not stored
 * yet, side by side with the classic tools in the same run. Prints a markdown report:
 *
 *   npm run build && node dist/bench/cold.js
 *
 * 1. packing: the closure of `shell/hello` (many small files and symlinks) and of a 16-app
 *    synthetic image packed into layers by nixyard's package builder (Nix already answered: only
 *    the packing is timed, into an empty filesystem storage), against
 *    `tar --sort=name -cf - <the same store paths> | gzip -6 > /dev/null` (one core);
 * 2. first pull end to end: `GET /v2/<name>/manifests/latest` of both images on a running
 *    registry (warmed up on another image) whose storage is empty, so it evaluates with Nix,
 *    packs and stores; with SBOMs (the default) and without (NIXYARD_SBOMS=0) in the same
 *    rounds, and the sizes of the SBOMs;
 * 3. a new combination of known packages: `hello/nano` after `shell/hello` was built, with the
 *    closure cache (no Nix evaluation) and without it (closures removed, a restarted process).
 *
 * BENCH_COLD_RUNS (default 5) rounds each, medians. Servers listen on 127.0.0.1 and are killed at
 * the end.
 */
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFilesystemStorage } from '../storage/filesystem.js';
import type { Nix } from '../src/builder/nix.js';
import { PackageBuilder } from '../src/builder/package-builder.js';
import { BUILD_STATUSES } from '../src/builds/record.js';
import { parseImageName } from '../src/image/image-name.js';
import type { StorePathInfo } from '../src/layers/types.js';
import { silentLogger } from '../src/log.js';
import { DEMO_PKGS_PATH, NIX_DIR, PROJECT_ROOT } from '../src/paths.js';
import { DEMO_POPULARITY_PATH, loadPopularity } from '../src/popularity/load.js';
import { cleanUp, fmtMs, freePort, MANIFEST_ACCEPT_ALL, median, NIX_CONFIG, prepareImageArgs, run, runBenchmark, startService, timedGet, type Service } from './support.js';

const RUNS = Number(process.env['BENCH_COLD_RUNS'] ?? 5);
const SYNTHETIC = 2000;
const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const PREPARE_IMAGE = join(NIX_DIR, 'prepare-image.nix');
/**
 * The 16-app image: sixteen synthetic apps of the demo set (NIXYARD_DEMO_SYNTHETIC=2000) whose
 * closure is about 30 MB (156 paths, nearly incompressible data), the size of the image the
 * issue measured: the first apps in order, skipping those that would put the closure ahead of a
 * 30 MB pace.
 */
const APPS_16 = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 19, 20, 21].map((n) => `synth-app-${String(n).padStart(4, '0')}`).join('/');
/** The image a warm-up pull builds before each measured one (it shares no package but the base). */
const WARM_UP = 'synth-app-0999';

const progress = (line: string) => process.stderr.write(`bench/cold: ${line}\n`);

interface Closure {
  name: string;
  roots: string[];
  graph: StorePathInfo[];
}

/** Builds the image's packages with Nix (rooted in `dir`) and reads their closure. */
async function closureOf(name: string, dir: string): Promise<Closure> {
  const { packages } = parseImageName(name, 'latest');
  const args = prepareImageArgs(DEMO_PKGS_PATH, SYNTHETIC, packages);
  const link = join(await mkdtemp(join(dir, 'roots-')), 'result');
  const roots = (await run('nix-build', [PREPARE_IMAGE, ...args, '--out-link', link], { env: { ...process.env, NIX_CONFIG } })).split('\n').filter((line) => line.startsWith('/'));
  const infos = JSON.parse(await run('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', '-r', ...roots])) as { path: string; narSize: number; references: string[] }[];
  return { name, roots, graph: infos.map(({ path, narSize, references }) => ({ path, narSize, references })) };
}

/** Milliseconds nixyard's package builder takes to pack `closure` into an empty storage. */
async function packOnce(closure: Closure, scratch: string): Promise<number> {
  const storage = await createFilesystemStorage(await mkdtemp(join(scratch, 'pack-')));
  const answered: Nix = { realise: async () => ({ roots: closure.roots, packages: {}, licenses: {} }), closure: async () => closure.graph, root: async () => undefined, version: async () => 'answered' };
  const popularity = (await loadPopularity(DEMO_POPULARITY_PATH, silentLogger)).popularity;
  const builder = new PackageBuilder({ storage, nix: answered, popularity: () => popularity, layerBudget: 94, log: silentLogger });
  const { packages } = parseImageName(closure.name, 'latest');
  const started = performance.now();
  await builder.buildLayers({ packages, arch: 'amd64', hasShell: true, source: { revision: 'bench', nix: { srcType: 'path', srcArgs: '{}' } } });
  return performance.now() - started;
}

/** Milliseconds of `tar --sort=name -cf - <paths> | gzip -6 > /dev/null`. */
async function tarGzip(closure: Closure): Promise<number> {
  const paths = closure.graph.map((info) => info.path).sort();
  const started = performance.now();
  await execa('sh', ['-c', 'tar --sort=name -cf - "$@" | gzip -6 > /dev/null', 'sh', ...paths]);
  return performance.now() - started;
}

/** A registry on a fresh data dir, warmed up by a pull of an unrelated image. */
async function warmRegistry(scratch: string, label: string, dataDir?: string, extraEnv: Record<string, string> = {}): Promise<Service & { dataDir: string }> {
  const dir = dataDir ?? (await mkdtemp(join(scratch, `${label}-`)));
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), NIXYARD_HOST: '127.0.0.1', NIXYARD_DATA_DIR: dir, NIX_CONFIG, NIXYARD_DEMO_SYNTHETIC: String(SYNTHETIC), ...extraEnv };
  const service = await startService(`nixyard-${label}`, process.execPath, [CLI, 'serve', '--demo'], env, port, join(dir, 'nixyard.log'));
  await pullManifest(service, WARM_UP);
  await settled(service);
  return { ...service, dataDir: dir };
}

/** Statuses of builds still running. */
const RUNNING = BUILD_STATUSES.filter((status) => !['succeeded', 'failed', 'cancelled'].includes(status)).join(',');

/**
 * Waits until a registry has done what a pull leaves for after its answer (the build record's
 * last write, the log, the SBOMs), so that a measured pull does not share the machine with it.
 */
async function settled(service: Service): Promise<void> {
  for (let tries = 0; ; tries++) {
    const running = JSON.parse((await timedGet(`${service.url}/v1/builds?status=${RUNNING}`)).response.body.toString('utf8')) as { builds: unknown[] };
    if (running.builds.length === 0) break;
    if (tries > 100) throw new Error(`builds still running after 10 s: ${JSON.stringify(running.builds).slice(0, 300)}`);
    await sleep(100);
  }
  const manifest = await timedGet(`${service.url}/v2/${WARM_UP}/manifests/latest`, { Accept: 'application/vnd.oci.image.manifest.v1+json' });
  // This instance answers an image's referrers once their writes are done.
  await timedGet(`${service.url}/v2/${WARM_UP}/referrers/${String(manifest.response.headers['docker-content-digest'] ?? '')}`);
  // The build's log is written just after its record.
  await sleep(200);
}

/** Empties a running registry's storage but for `keep` (and `staging/`, which it writes through). */
async function emptyStorage(dataDir: string, keep: readonly string[] = []): Promise<void> {
  const storage = join(dataDir, 'storage');
  for (const entry of await readdir(storage)) {
    if (entry !== 'staging' && !keep.includes(entry)) await rm(join(storage, entry), { recursive: true, force: true });
  }
  if (!keep.includes('closures')) await rm(join(storage, '.meta', 'closures'), { recursive: true, force: true });
}

async function pullManifest(service: Service, name: string): Promise<number> {
  const { response, ms } = await timedGet(`${service.url}/v2/${name}/manifests/latest`, { Accept: MANIFEST_ACCEPT_ALL }, { timeoutMs: 300_000 });
  if (response.status !== 200) throw new Error(`GET ${name}: ${response.status} ${response.body.toString('utf8').slice(0, 300)}`);
  return ms;
}

const ratio = (ours: number, reference: number) => `${(ours / reference).toFixed(2)}×`;

/** The bytes of each SBOM attached to `name`'s image, by artifact type. */
async function sbomSizes(service: Service, name: string): Promise<Record<string, number>> {
  const manifest = await timedGet(`${service.url}/v2/${name}/manifests/latest`, { Accept: 'application/vnd.oci.image.manifest.v1+json' });
  const subject = String(manifest.response.headers['docker-content-digest'] ?? '');
  const index = JSON.parse((await timedGet(`${service.url}/v2/${name}/referrers/${subject}`, {})).response.body.toString('utf8')) as { manifests: { digest: string; artifactType: string }[] };
  const sizes: Record<string, number> = {};
  for (const entry of index.manifests) {
    const artifact = JSON.parse((await timedGet(`${service.url}/v2/${name}/manifests/${entry.digest}`, { Accept: 'application/vnd.oci.image.manifest.v1+json' })).response.body.toString('utf8')) as { layers: { size: number }[] };
    sizes[entry.artifactType] = artifact.layers[0]?.size ?? 0;
  }
  return sizes;
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'nixyard-bench-cold-'));
  try {
    progress('building the store paths of both images');
    const closures = [await closureOf('shell/hello', scratch), await closureOf(APPS_16, scratch)];
    await closureOf(WARM_UP, scratch);
    await closureOf('hello/nano', scratch);
    const rows: string[] = [];

    for (const closure of closures) {
      progress(`packing ${closure.name.slice(0, 40)}…`);
      const ours: number[] = [];
      const reference: number[] = [];
      for (let round = 0; round < RUNS; round++) {
        ours.push(await packOnce(closure, scratch));
        reference.push(await tarGzip(closure));
      }
      const bytes = closure.graph.reduce((sum, info) => sum + info.narSize, 0);
      rows.push(`| packing ${closure.name.length > 30 ? `16 apps (${closure.name.length}-character name)` : `\`${closure.name}\``}: ${closure.graph.length} paths, ${(bytes / 1e6).toFixed(1)} MB | ${fmtMs(median(ours))} | ${fmtMs(median(reference))} | ${ratio(median(ours), median(reference))} |`);
    }

    progress('first pulls end to end, with and without SBOMs');
    const sbomNotes: string[] = [];
    for (const closure of closures) {
      const times: number[] = [];
      const withoutSboms: number[] = [];
      const reference: number[] = [];
      let sizes: Record<string, number> = {};
      for (let round = 0; round < RUNS; round++) {
        for (const [sboms, into] of [['1', times], ['0', withoutSboms]] as const) {
          const registry = await warmRegistry(scratch, 'first', undefined, { NIXYARD_SBOMS: sboms });
          await emptyStorage(registry.dataDir);
          into.push(await pullManifest(registry, closure.name));
          if (sboms === '1') sizes = await sbomSizes(registry, closure.name);
          await registry.stop();
        }
        reference.push(await tarGzip(closure));
      }
      const label = closure.name.length > 30 ? 'the 16-app image' : `\`${closure.name}\``;
      rows.push(`| first pull of ${label}, empty storage, store paths built (Nix evaluates) | ${fmtMs(median(times))} | ${fmtMs(median(reference))} | ${ratio(median(times), median(reference))} |`);
      rows.push(`| the same without SBOMs (NIXYARD_SBOMS=0) | ${fmtMs(median(withoutSboms))} | | SBOMs add ${(((median(times) - median(withoutSboms)) / median(withoutSboms)) * 100).toFixed(1)} % |`);
      sbomNotes.push(`${label}: ${Object.entries(sizes).map(([type, bytes]) => `${type} ${(bytes / 1024).toFixed(1)} KiB`).join(', ')}`);
    }

    progress('a new combination of known packages, with and without the closure cache');
    const withCache: number[] = [];
    const withoutCache: number[] = [];
    for (let round = 0; round < RUNS; round++) {
      for (const [keepClosures, times] of [[true, withCache], [false, withoutCache]] as const) {
        const server = await warmRegistry(scratch, 'known');
        await pullManifest(server, 'shell/hello');
        await server.stop();
        await emptyStorage(server.dataDir, keepClosures ? ['closures'] : []);
        const restarted = await warmRegistry(scratch, 'known', server.dataDir);
        times.push(await pullManifest(restarted, 'hello/nano'));
        await restarted.stop();
      }
    }
    rows.push(`| first pull of \`hello/nano\` after \`shell/hello\` (its packages known), with the closure cache | ${fmtMs(median(withCache))} | | |`);
    rows.push(`| the same without the closure cache (Nix evaluates) | ${fmtMs(median(withoutCache))} | | |`);

    console.log(`## bench/cold: assembling images whose store paths are built

| measure (median of ${RUNS}) | nixyard | reference: tar --sort=name \\| gzip -6 | ratio |
| --- | --- | --- | --- |
${rows.join('\n')}

Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}. First pulls: each round a new registry process, warmed up by a pull of \`${WARM_UP}\`, its storage then emptied (no layer, record or closure left); with and without SBOMs alternate within each round. SBOM sizes: ${sbomNotes.join('; ')}.`);
  } finally {
    await cleanUp(scratch);
  }
}

runBenchmark(main);
