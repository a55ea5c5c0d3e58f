/**
 * bench/support: what bench/pull.ts needs around the measurements — child processes (nixyard,
 * docker-registry) that are always killed at the end, a keep-alive HTTP client, /proc readings,
 * wrk and curl runs, Nix store queries, and small statistics.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { execa } from 'execa';

/** Nix settings for every Nix call of the benchmark: offline, `nix path-info` enabled. */
export const NIX_CONFIG = 'substituters =\nexperimental-features = nix-command';
export const NIX_ENV = { ...process.env, NIX_CONFIG };

/** The exact commands run, printed at the end. */
export const commands: string[] = [];

/** Records a command line for the report (shell-quoted where needed). */
export function record(line: string): void {
  if (!commands.includes(line)) commands.push(line);
}

/** Shell-quotes one word for the printed commands. */
export function shq(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Runs a command and returns its stdout; throws with its stderr on failure. */
export async function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; log?: boolean } = {}): Promise<string> {
  if (options.log) record([cmd, ...args].map(shq).join(' '));
  const result = await execa(cmd, args, { env: options.env ?? NIX_ENV, input: options.input, reject: false, maxBuffer: 256 * 1024 * 1024 });
  if (result.exitCode !== 0) {
    throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} … failed (${result.exitCode}): ${String(result.stderr).slice(-2000)}`);
  }
  return String(result.stdout);
}

// ---------------------------------------------------------------- processes

/** A server started by the benchmark. */
export interface Service {
  name: string;
  pid: number;
  port: number;
  url: string;
  host: string;
  logPath: string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** Kills every child still running (by its pid): SIGTERM, then SIGKILL after `graceMs`. */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, graceMs)));
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return Promise.resolve();
  }
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** Synchronous last resort (process 'exit'): SIGKILL to every child still running. */
export function killAllNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `cmd` with stdout and stderr to `logPath`, waits until `GET /v2/` answers 200. */
export async function startService(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, port: number, logPath: string): Promise<Service> {
  const fd = openSync(logPath, 'a');
  const child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.add(child);
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before it answered; log ${logPath}:\n${tail(logPath)}`)));
    child.once('error', (error) => reject(error));
  });
  exited.catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await Promise.race([
      get(`${url}/v2/`).then(
        (response) => response.status === 200,
        () => false,
      ),
      exited,
    ]);
    if (ready) break;
    if (Date.now() > deadline) {
      await stopChild(child, 1000);
      throw new Error(`${name} did not answer on ${url} within 30 s; log ${logPath}:\n${tail(logPath)}`);
    }
    await sleep(100);
  }
  if (child.pid === undefined) throw new Error(`${name} has no pid`);
  return { name, pid: child.pid, port, url, host: `127.0.0.1:${port}`, logPath, stop: () => stopChild(child, 5000) };
}

/** The last lines of a log file. */
export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The reference registry: Debian's docker-registry, filesystem storage in `dir`, no auth. */
export async function startReferenceRegistry(dir: string, logPath: string): Promise<Service> {
  const port = await freePort();
  const configPath = `${dir}/config.yml`;
  // Debian's default config (inmemory blob descriptor cache), minus auth, access log off.
  await writeFile(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${dir}/storage`,
      '  delete:',
      '    enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  record(`/usr/bin/docker-registry serve ${configPath}   # filesystem storage, addr 127.0.0.1:${port}, no auth, access log off`);
  return startService('docker-registry', '/usr/bin/docker-registry', ['serve', configPath], { ...process.env }, port, logPath);
}

// ---------------------------------------------------------------- /proc

/** Clock ticks per second of /proc/<pid>/stat times. */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds of a process: its own (utime+stime) and its waited-for children's (cutime+cstime). */
export function cpuSeconds(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
  const at = (field: number) => Number(fields[field - 3]);
  return { self: (at(14) + at(15)) / CLK_TCK, children: (at(16) + at(17)) / CLK_TCK };
}

/** A `kB` line of /proc/<pid>/status (VmHWM, VmRSS) in MB. */
export function statusMB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

// ---------------------------------------------------------------- HTTP

export const MANIFEST_ACCEPT_DOCKER = 'application/vnd.docker.distribution.manifest.v2+json';
export const MANIFEST_ACCEPT_ALL = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

/** One keep-alive connection at a time for sequential measurements; many for concurrent ones. */
export const sequentialAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
export const concurrentAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  bytes: number;
}

/** GET `url`; the body is kept unless `discard` (then only counted). */
export function get(url: string, headers: Record<string, string> = {}, options: { agent?: http.Agent; discard?: boolean; timeoutMs?: number } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: options.agent ?? sequentialAgent }, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!options.discard) chunks.push(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), bytes }));
      response.on('error', reject);
    });
    request.setTimeout(options.timeoutMs ?? 120_000, () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/** GET that must answer 200; returns the response and its wall time in ms. */
export async function timedGet(url: string, headers: Record<string, string> = {}, options: { agent?: http.Agent; discard?: boolean; timeoutMs?: number } = {}): Promise<{ response: Response; ms: number }> {
  const started = process.hrtime.bigint();
  const response = await get(url, headers, options);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${response.body.toString('utf8').slice(0, 500)}`);
  return { response, ms };
}

/** Manifest JSON (layers and config) as served. */
export interface Manifest {
  mediaType: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

// ---------------------------------------------------------------- wrk and curl

export interface WrkResult {
  requestsPerSecond: number;
  latency: { p50: number; p99: number };
  requests: number;
  errors: string;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/** Runs wrk against `url` and reads requests/s, p50/p99 latency and any errors. */
export async function wrk(url: string, headers: Record<string, string>, threads: number, connections: number, seconds: number): Promise<WrkResult> {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const out = await run('wrk', args, { log: true, env: process.env });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const errors = [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx or 3xx responses:.*$/m.exec(out)?.[0]].filter(Boolean).join('; ');
  if (!rps || !p50 || !p99 || !total) throw new Error(`could not read wrk's output:\n${out}`);
  return {
    requestsPerSecond: Number(rps[1]),
    latency: { p50: toMs(p50[1] ?? '', p50[2] ?? ''), p99: toMs(p99[1] ?? '', p99[2] ?? '') },
    requests: Number(total[1]),
    errors,
  };
}

/** Downloads `url` `times` times over one curl connection (to /dev/null); returns MB/s (10^6 B). */
export async function curlThroughput(url: string, times: number, expectedSize: number, configPath: string): Promise<{ mbps: number; seconds: number }> {
  await writeFile(configPath, Array.from({ length: times }, () => `url = "${url}"\noutput = "/dev/null"\n`).join(''));
  record(`curl -sS --fail --config ${configPath}   # ${times}× "url = ${url}" + "output = /dev/null"`);
  const started = process.hrtime.bigint();
  const out = await run('curl', ['-sS', '--fail', '-w', '%{size_download}\\n', '--config', configPath], { env: process.env });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sizes = out.trim().split('\n').map(Number);
  if (sizes.length !== times || sizes.some((size) => size !== expectedSize)) throw new Error(`curl downloaded ${sizes.join(',')} bytes, expected ${times}× ${expectedSize}`);
  return { mbps: (times * expectedSize) / 1e6 / seconds, seconds };
}

// ---------------------------------------------------------------- Nix

/** Arguments of nix/prepare-image.nix for the demo set, as the server passes them. */
export function prepareImageArgs(demoPath: string, syntheticCount: number, packages: readonly string[]): string[] {
  const srcArgs = JSON.stringify(syntheticCount > 0 ? { path: demoPath, args: { syntheticCount } } : { path: demoPath });
  return ['--argstr', 'srcType', 'path', '--argstr', 'srcArgs', srcArgs, '--argstr', 'system', 'x86_64-linux', '--argstr', 'packages', JSON.stringify(packages)];
}

/** Store paths among `paths` that are not valid (not built). */
export async function invalidPaths(paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const out = await run('nix-store', ['--check-validity', '--print-invalid', ...paths]);
  return out.split('\n').filter((line) => line.startsWith('/'));
}

/** Every output of the build closure (all derivations Nix would build) of an image's packages. */
export async function buildClosureOutputs(prepareImage: string, args: string[]): Promise<string[]> {
  const drvs = (await run('nix-instantiate', [prepareImage, ...args])).split('\n').filter((line) => line.startsWith('/'));
  const closure = (await run('nix-store', ['-qR', ...drvs])).split('\n').filter((line) => line.endsWith('.drv'));
  return (await run('nix-store', ['-q', '--outputs', ...closure])).split('\n').filter((line) => line.startsWith('/'));
}

/** What {@link makeCold} left: outputs Nix will build, and those it could not delete. */
export interface ColdState {
  outputs: number;
  toBuild: number;
  /** The busybox base every demo path refers to, kept on purpose. */
  kept: number;
  /** Still valid although not kept: rooted elsewhere (someone's build or out-link). */
  alive: number;
}

/**
 * Makes a build cold: deletes from the store the outputs in `outputs` (and whatever refers to
 * them), except the shared busybox base every demo path refers to. Like nix-collect-garbage,
 * only dead paths go: a path rooted elsewhere (a build in progress, an out-link) stays.
 */
export async function makeCold(outputs: readonly string[]): Promise<ColdState> {
  const isBase = (path: string) => /-busybox(-binary)?$/.test(path);
  const invalid = new Set(await invalidPaths(outputs));
  const valid = outputs.filter((path) => !invalid.has(path) && !isBase(path));
  if (valid.length > 0) {
    // Live paths (reachable from any GC root) cannot go; whatever refers to a dead path is dead.
    const live = new Set((await run('nix-store', ['--gc', '--print-live'])).split('\n').filter((line) => line.startsWith('/')));
    const targets = (await run('nix-store', ['-q', '--referrers-closure', ...valid])).split('\n').filter((line) => line.startsWith('/') && !live.has(line));
    if (targets.length > 0) {
      await run('nix-store', ['--delete', ...targets]).catch(async () => {
        // A path became live meanwhile (someone's build started): once more without it.
        const liveNow = new Set((await run('nix-store', ['--gc', '--print-live'])).split('\n'));
        const rest = (await invalidPaths(targets).then((gone) => targets.filter((path) => !gone.includes(path)))).filter((path) => !liveNow.has(path));
        if (rest.length > 0) await run('nix-store', ['--delete', ...rest]).catch(() => {});
      });
    }
  }
  const missing = new Set(await invalidPaths(outputs));
  const kept = outputs.filter((path) => isBase(path) && !missing.has(path)).length;
  return { outputs: outputs.length, toBuild: missing.size, kept, alive: outputs.length - missing.size - kept };
}

/** "Nix built 3 of 8 paths (busybox base kept; 1 rooted elsewhere)". */
export function describeCold(state: ColdState): string {
  const extra = [state.kept > 0 ? 'busybox base kept' : '', state.alive > 0 ? `${state.alive} rooted elsewhere, not deleted` : ''].filter(Boolean).join('; ');
  return `Nix built ${state.toBuild} of ${state.outputs} paths${extra ? ` (${extra})` : ''}`;
}

// ---------------------------------------------------------------- statistics

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`;
}

export function fmtMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Runs a benchmark's `main`: every server it started is killed on exit, an error sets exit code 1. */
export function runBenchmark(main: () => Promise<void>): void {
  process.on('exit', killAllNow);
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

/** Stops every server, then removes the scratch directory unless BENCH_KEEP=1 keeps it for a look. */
export async function cleanUp(scratch: string): Promise<void> {
  await stopAll();
  if (process.env['BENCH_KEEP'] !== '1') await rm(scratch, { recursive: true, force: true });
}
