/**
 * The builder of images from application source: fetch the commit → `nixpacks plan` → realise
 * the plan's packages (the package builder: same layering, layers shared with package images)
 * → run the plan's install and build phases in the sandbox with those packages → pack the
 * dependency and app layers → the image config (start command, environment, port, labels).
 *
 * Phases of the record: fetching, planning, evaluating (and building when Nix builds),
 * installing (the install phase), compiling (the build phase and any other), packing,
 * uploading. The whole build stops at the request's timeout (capped by the server's).
 *
 * Work directories (`<dataDir>/source/<random>`: the checkout, `/opt`, the home) are removed
 * when the build ends, whatever its outcome. Cache directories of the plan are kept per app
 * (`<dataDir>/source-cache/<app>`), emptied when they outgrow their bound.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Storage } from '../../../storage/types.js';
import type { BuildProgress } from '../../builds/build-runner.js';
import type { BuildPlan, BuildSource } from '../../builds/record.js';
import { RegistryError, toRegistryError } from '../../errors.js';
import type { AppConfig } from '../../image/manifest.js';
import type { ResolvedSource } from '../../pkgsource/types.js';
import { formatBytes, formatDuration } from '../../units.js';
import { packLayer } from '../pack-layer.js';
import type { BuiltImage, PackageLayers, SourceBuildRequest } from '../types.js';
import { APP_ENTRY, appEntries, dependencyEntries, ownedApp, type AppTree } from './app-layers.js';
import { NONROOT } from '../../image/users.js';
import type { Nixpacks, PlanOverrides } from './nixpacks.js';
import { imagePackages, SHELL_PACKAGE } from './packages.js';
import { describePlanProblem, readPlan, type AppPlan, type NixpacksPlan, type PlanPhase } from './plan.js';
import { fetchCommit, pinRef, requireAppDir } from './repository.js';
import type { AppDependency } from '../../sbom/lockfiles.js';
import { SANDBOX_UID, type Mount, type Sandbox, type SandboxOptions } from './sandbox.js';

/** Bump when a source build makes different images from the same inputs. */
export const SOURCE_BUILD_VERSION = 2;

/** What the source builder needs. */
export interface SourceBuilderDeps {
  packages: PackageLayers;
  storage: Storage;
  nixpacks: Nixpacks;
  sandbox: Sandbox;
  /** Parent of the builds' work directories. */
  workDir: string;
  /** Parent of the apps' cache directories. */
  cacheDir: string;
  /** Bytes an app's caches may hold before they are emptied. */
  cacheLimitBytes: number;
  /** Whether install and build commands may use the network. */
  network: boolean;
  /**
   * The package set at the nixpkgs commit a plan pins (`NIXYARD_SOURCE_NIXPKGS_ARCHIVE`, with a
   * nixpkgs channel); absent, the plan's packages come from the configured package set.
   */
  nixpkgsAt?: (commit: string) => ResolvedSource;
}

/** The plan's phases that install dependencies; the others compile. */
const INSTALL_PHASES: ReadonlySet<string> = new Set(['install']);
/** Commands' exit codes in the error: the end of the log says why. */
const LOG_TAIL_LINES = 30;

/** Builds images from application source. */
export class SourceBuilder {
  constructor(private readonly deps: SourceBuilderDeps) {}

  /** The build of `request`; reports through `progress` (its record is annotated with the source, the plan and the packages). */
  async build(request: SourceBuildRequest, progress: BuildProgress): Promise<BuiltImage> {
    const timeoutMs = request.timeoutSeconds * 1000;
    // The build's own signal, aborted by a cancel or at the timeout. (A timer of our own:
    // AbortSignal.any can lose an AbortSignal.timeout that nothing else references.)
    const stop = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop.abort(new Error('timed out'));
    }, timeoutMs);
    const cancel = () => stop.abort(progress.signal.reason);
    progress.signal.addEventListener('abort', cancel, { once: true });
    await mkdir(this.deps.workDir, { recursive: true });
    const work = await mkdtemp(join(this.deps.workDir, 'build-'));
    try {
      return await this.run(request, { ...progress, signal: stop.signal }, work);
    } catch (error) {
      if (timedOut && !progress.signal.aborted) throw new RegistryError('BUILD_TIMEOUT', `the build did not finish within ${formatDuration(timeoutMs)} (buildTimeout, at most NIXYARD_SOURCE_TIMEOUT): it was stopped`, { cause: error });
      throw error;
    } finally {
      clearTimeout(timer);
      progress.signal.removeEventListener('abort', cancel);
      await rm(work, { recursive: true, force: true });
    }
  }

  private async run(request: SourceBuildRequest, progress: BuildProgress, work: string): Promise<BuiltImage> {
    const { signal } = progress;
    const startedOn = new Date().toISOString();
    const checkout = join(work, 'checkout');
    await mkdir(checkout);

    progress.phase('fetching', `${request.repo} ${request.ref ?? '(default branch)'}`);
    const pinned = await pinRef(request.repo, request.ref, signal);
    const info: BuildSource = { repo: request.repo.redacted, ref: pinned.name, commit: pinned.commit, dir: request.dir, committedAt: null, overrides: request.overrides, timeoutSeconds: request.timeoutSeconds };
    progress.annotate({ source: info });
    const { committedAt } = await fetchCommit(request.repo, pinned, checkout, signal);
    await requireAppDir(checkout, request.dir, request.repo, pinned.commit);
    progress.annotate({ source: { ...info, committedAt } });
    progress.note(`fetched ${pinned.commit} (${pinned.name}), committed ${committedAt}`);

    progress.phase('planning', `nixpacks plan${request.dir ? ` of ${request.dir}` : ''}`);
    const appDir = join(checkout, request.dir);
    const [version, json] = await Promise.all([this.deps.nixpacks.version(), this.deps.nixpacks.plan(appDir, request.overrides, signal)]);
    const read = readPlan(json);
    if (read.kind === 'problem') throw new RegistryError('PLAN_UNAVAILABLE', describePlanProblem(read.problem), { detail: { problem: read.problem } });
    const { plan } = read;
    const packages = imagePackages(plan);
    const packageSet = plan.nixpkgsArchive && this.deps.nixpkgsAt ? this.deps.nixpkgsAt(plan.nixpkgsArchive) : request.source;
    if (packageSet !== request.source) {
      progress.annotate({ revision: packageSet.revision });
      progress.note(`packages from the nixpkgs commit the plan pins: ${plan.nixpkgsArchive}`);
    }
    progress.annotate({ packages, plan: planInfo(plan, read.raw, version) });
    progress.note(`plan (nixpacks ${version}): provider ${plan.provider ?? 'none'}, packages ${packages.join(' ')}, phases ${plan.phases.map((phase) => phase.name).join(' → ') || 'none'}, start ${JSON.stringify(plan.start)}`);

    const home = join(work, 'root');
    const opt = join(work, 'opt');
    await Promise.all([mkdir(home), mkdir(opt), this.writeEtc(join(work, 'etc'))]);
    const caches = await this.cacheMounts(request, plan);
    progress.phase('evaluating', `packages ${packages.join(' ')}`);
    const built = await this.deps.packages
      .build({ packages, arch: request.arch, hasShell: true, source: packageSet }, progress, async (roots) => {
        const env = await sandboxEnvironment(plan, request.overrides, roots);
        await this.runPhases(plan, { appDir, opt, home, etc: join(work, 'etc'), caches, roots, ...env }, progress);
        return env;
      })
      .catch((error: unknown) => {
        const failure = toRegistryError(error);
        // The plan's packages are names from nixpacks, looked up in nixyard's package set.
        if (failure.code === 'MANIFEST_UNKNOWN') throw new RegistryError('PACKAGE_UNKNOWN', `${failure.message} (the plan asks for ${packages.join(', ')}; give pkgs or a nixpacks.toml that names packages the set has)`, { detail: failure.detail, cause: error });
        throw error;
      });
    await this.boundCaches(caches.root);

    const tree: AppTree = { appDir, optDir: opt, leaveOut: new Set(caches.inApp.map((dir) => `${APP_ENTRY}/${dir}`)) };
    // Images from source run as nonroot unless the build asks for root; the app is theirs.
    const user = request.overrides.user ?? 'nonroot';
    const owner = user === 'nonroot' ? { uid: NONROOT.uid, gid: NONROOT.gid } : undefined;
    const dependencies = await packLayer(this.deps.storage, ownedApp(dependencyEntries(tree), owner));
    const app = await packLayer(this.deps.storage, ownedApp(appEntries(tree), owner));
    progress.note(`layer ${dependencies.digest}: dependencies, ${formatBytes(dependencies.size)}`);
    progress.note(`layer ${app.digest}: app, ${formatBytes(app.size)}`);
    const layers = [...built.layers, dependencies, app];
    const lockfiles = await readLockfiles(appDir);
    if (lockfiles.problems.length > 0) progress.note(`SBOM: lockfiles left out: ${lockfiles.problems.join('; ')}`);
    const contents = { ...built.contents, app: { repository: info.repo, commit: pinned.commit, dir: request.dir, dependencies: lockfiles.dependencies } };
    const provenance = { repository: info.repo, ref: request.ref ?? null, commit: pinned.commit, dir: request.dir, overrides: { ...request.overrides }, planDigest: `sha256:${createHash('sha256').update(json).digest('hex')}`, planner: `nixpacks ${version}`, packageSetRevision: packageSet.revision, startedOn };
    return { layers, config: { arch: request.arch, layers, hasShell: true, user, app: appConfig(plan, request, built.value.shell, { ...info, committedAt }) }, contents, provenance };
  }

  /** Runs the plan's phases one command at a time in the sandbox; a failing command fails the build with the log's tail. */
  private async runPhases(plan: AppPlan, where: PhaseMounts, progress: BuildProgress): Promise<void> {
    const paths: string[] = [];
    for (const phase of plan.phases) {
      progress.phase(INSTALL_PHASES.has(phase.name) ? 'installing' : 'compiling', `${phase.name}: ${phase.cmds.join(' && ')}`);
      paths.unshift(...phase.paths);
      for (const command of phase.cmds) {
        progress.note(`$ ${command}`);
        let tail = '';
        const options = this.sandboxOptions(where, phase, [...paths, where.variables['PATH'] ?? ''].filter((part) => part !== '').join(':'));
        const started = Date.now();
        const result = await this.deps.sandbox.run(command, options, {
          signal: progress.signal,
          timeoutMs: 24 * 3600_000,
          onOutput: (text) => {
            progress.output(text);
            tail = (tail + text).split('\n').slice(-LOG_TAIL_LINES).join('\n');
          },
        });
        progress.signal.throwIfAborted();
        if (result.kind !== 'ok') {
          const how = result.kind === 'failed' ? `exited with ${result.exitCode ?? 'a signal'}` : 'timed out';
          throw new RegistryError('BUILD_COMMAND_FAILED', `the ${phase.name} command ${JSON.stringify(command)} ${how} after ${formatDuration(Date.now() - started)}; its last lines: ${tail.trim().split('\n').slice(-5).join(' | ')}`, {
            detail: { phase: phase.name, command, tail },
          });
        }
      }
    }
  }

  private sandboxOptions(where: PhaseMounts, phase: PlanPhase, path: string): SandboxOptions {
    const cacert = where.roots.find((root) => /-cacert(-|$)/.test(root.split('/').pop() ?? ''));
    return {
      writable: [
        { host: where.appDir, path: '/app' },
        { host: where.opt, path: '/opt' },
        { host: where.home, path: '/root' },
        // A phase's cache directories are there for that phase only (as nixpacks' cache mounts): the
        // install phase may remove what a later phase caches inside it (`npm ci` and node_modules/.cache).
        ...where.caches.mounts.filter((mount) => phase.cacheDirectories.some((dir) => insidePath(dir) === mount.path)),
      ],
      readOnly: [
        { host: join(where.etc, 'passwd'), path: '/etc/passwd' },
        { host: join(where.etc, 'group'), path: '/etc/group' },
        ...(this.deps.network ? NETWORK_FILES.map((file) => ({ host: file, path: file })) : []),
      ],
      links: [
        { host: where.shell, path: '/bin/sh' },
        ...(where.envProgram ? [{ host: where.envProgram, path: '/usr/bin/env' }] : []),
        ...(cacert ? [{ host: `${cacert}/etc/ssl`, path: '/etc/ssl' }] : []),
      ],
      cwd: '/app',
      env: { ...where.variables, PATH: path },
      network: this.deps.network,
      shell: where.shell,
    };
  }

  /** `/etc/passwd` and `/etc/group` naming root and the sandbox's user (home `/root`, where caches are). */
  private async writeEtc(etc: string): Promise<void> {
    await mkdir(etc);
    await writeFile(join(etc, 'passwd'), `root:x:0:0:root:/root:/bin/sh\nnonroot:x:${SANDBOX_UID}:${SANDBOX_UID}:nonroot:/root:/bin/sh\n`);
    await writeFile(join(etc, 'group'), `root:x:0:\nnonroot:x:${SANDBOX_UID}:\n`);
  }

  /** The app's cache directories, bound at the plan's `cacheDirectories`. */
  private async cacheMounts(request: SourceBuildRequest, plan: AppPlan): Promise<CacheMounts> {
    const app = createHash('sha256').update(`${request.repo.redacted}\n${request.dir}`).digest('hex').slice(0, 32);
    const root = join(this.deps.cacheDir, app);
    const mounts: Mount[] = [];
    const inApp: string[] = [];
    for (const dir of [...new Set(plan.phases.flatMap((phase) => phase.cacheDirectories))].sort()) {
      const inside = insidePath(dir);
      if (inside.split('/').includes('..')) continue;
      const host = join(root, createHash('sha256').update(inside).digest('hex').slice(0, 16));
      await mkdir(host, { recursive: true });
      mounts.push({ host, path: inside });
      if (inside.startsWith('/app/')) inApp.push(inside.slice('/app/'.length));
    }
    return { root, mounts, inApp };
  }

  /** Empties an app's caches when they hold more than the bound. */
  private async boundCaches(root: string): Promise<void> {
    if ((await sizeOf(root)) > this.deps.cacheLimitBytes) await rm(root, { recursive: true, force: true });
  }
}

/** Where a plan's cache directory is inside the sandbox: absolute, or relative to the app. */
function insidePath(dir: string): string {
  return dir.startsWith('/') ? dir : `/app/${dir.replace(/^\.?\/+/, '')}`;
}

/** Host files the network needs inside the sandbox (name resolution). */
const NETWORK_FILES = ['/etc/resolv.conf', '/etc/hosts'];

interface CacheMounts {
  root: string;
  mounts: Mount[];
  /** Cache directories inside the app directory (relative), left out of the image. */
  inApp: string[];
}

interface PhaseMounts {
  appDir: string;
  opt: string;
  home: string;
  etc: string;
  caches: CacheMounts;
  roots: readonly string[];
  variables: Record<string, string>;
  shell: string;
  /** `env` of the packages, linked at `/usr/bin/env` for `#!/usr/bin/env` scripts. */
  envProgram: string | undefined;
}

/** The build's environment and the programs linked into the sandbox, from the realised packages. */
async function sandboxEnvironment(plan: AppPlan, overrides: PlanOverrides, roots: readonly string[]): Promise<{ variables: Record<string, string>; shell: string; envProgram: string | undefined }> {
  const bins: string[] = [];
  const libs: string[] = [];
  let shell: string | undefined;
  let envProgram: string | undefined;
  for (const root of roots) {
    const [bin, lib] = await Promise.all([isDirectory(join(root, 'bin')), isDirectory(join(root, 'lib'))]);
    if (bin) bins.push(join(root, 'bin'));
    // Library packages (nixLibs: a lib/ and no bin/) are on LD_LIBRARY_PATH, as nixpacks does.
    if (lib && !bin) libs.push(join(root, 'lib'));
    if (!shell && root.includes(`-${SHELL_PACKAGE_STORE_NAME}`) && (await exists(join(root, 'bin/sh')))) shell = join(root, 'bin/sh');
    if (!envProgram && (await exists(join(root, 'bin/env')))) envProgram = join(root, 'bin/env');
  }
  shell ??= await firstExisting(roots.map((root) => join(root, 'bin/sh')));
  if (!shell) throw new RegistryError('PACKAGE_UNKNOWN', `no package of the image has bin/sh: the start command needs a shell (${SHELL_PACKAGE})`);
  return {
    shell,
    envProgram,
    variables: {
      ...plan.variables,
      ...overrides.env,
      PATH: bins.join(':'),
      ...(libs.length > 0 ? { LD_LIBRARY_PATH: libs.join(':') } : {}),
      HOME: '/root',
      TMPDIR: '/tmp',
      SSL_CERT_FILE: '/etc/ssl/certs/ca-bundle.crt',
    },
  };
}

/** How bashInteractive's store path is named (`…-bash-interactive-5.2`). */
const SHELL_PACKAGE_STORE_NAME = 'bash-interactive';

/** The image config of a source image. */
function appConfig(plan: AppPlan, request: SourceBuildRequest, shell: string, source: BuildSource): AppConfig {
  const variables = { ...plan.variables, ...request.overrides.env };
  const port = Number(variables['PORT']);
  return {
    path: [...new Set(plan.phases.flatMap((phase) => phase.paths))],
    env: Object.entries(variables)
      .filter(([name]) => name !== 'PATH')
      .map(([name, value]) => `${name}=${value}`),
    cmd: [shell, '-c', plan.start],
    workingDir: '/app',
    exposedPorts: Number.isInteger(port) && port > 0 && port < 65536 ? [port] : [],
    labels: {
      'org.opencontainers.image.source': source.repo,
      'org.opencontainers.image.revision': source.commit ?? '',
      'org.opencontainers.image.created': source.committedAt ?? '',
    },
    created: source.committedAt ?? new Date(0).toISOString(),
  };
}

/** What the record keeps of a plan. */
function planInfo(plan: AppPlan, raw: NixpacksPlan, nixpacksVersion: string): BuildPlan {
  return {
    planner: `nixpacks ${nixpacksVersion}`,
    provider: plan.provider ?? null,
    phases: plan.phases.map(({ name, cmds }) => ({ name, cmds })),
    start: plan.start,
    variables: plan.variables,
    raw,
  };
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) if (await exists(path)) return path;
  return undefined;
}

/** Bytes of the files under `path` (0 when it is missing). */
async function sizeOf(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await sizeOf(join(path, entry));
  return total;
}

/** The dependencies the app's lockfiles state (those it has of `LOCKFILES`), for its SBOM. */
async function readLockfiles(appDir: string): Promise<{ dependencies: AppDependency[]; problems: string[] }> {
  // Loaded when first needed: its PURL library costs an instance that builds nothing megabytes.
  const { appDependencies, LOCKFILES } = await import('../../sbom/lockfiles.js');
  const files = await Promise.all(LOCKFILES.map(async (name) => [name, await readFile(join(appDir, name), 'utf8').catch(() => undefined)] as const));
  return appDependencies(Object.fromEntries(files.filter((entry): entry is readonly [(typeof LOCKFILES)[number], string] => entry[1] !== undefined)));
}
