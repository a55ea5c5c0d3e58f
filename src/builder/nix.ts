/**
 * The Nix calls of a build: `nix-build` applies nix/prepare-image.nix to the request (a process
 * started ahead of it, `nix-build-starter.ts`) and realises the image's packages, rooted by
 * out-links so garbage collection cannot remove them while they are packed; then the long-lived
 * `nix-store --serve` of `nix-serve.ts` answers their closure with sizes and NAR hashes. Both
 * with a timeout and an AbortSignal.
 */
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../log.js';
import type { NixSourceArgs } from '../pkgsource/types.js';
import type { StorePathInfo } from '../layers/types.js';
import { NIX_DIR } from '../paths.js';
import { classifyNixFailure } from './nix-errors.js';
import { NixBuildStarter } from './nix-build-starter.js';
import { NixServe } from './nix-serve.js';
import { versionOutput } from '../version-check.js';

/** One realisation request. */
export interface RealiseRequest {
  source: NixSourceArgs;
  /** Nix system (`x86_64-linux`). */
  system: string;
  packages: readonly string[];
}

/** Settings of the Nix calls. */
export interface NixOptions {
  timeoutSeconds: number;
  /** Where realisations keep their out-links, a directory each (see {@link Realised.rootDir}). */
  rootsDir: string;
  /** Keep a `nix-build` started ahead of the next build (default on; NIXYARD_NIX_SPARE). */
  spare?: boolean;
  /** Told which root directories of a killed registry were removed at the start. */
  log?: Pick<Logger, 'info'>;
}

/** What a realisation gave. */
export interface Realised {
  /** The output paths, in the order asked, each once: the image's roots. */
  roots: string[];
  /** The output path each package name gave (names whose output did not evaluate are left out). */
  packages: Record<string, string>;
  /** The licenses each package name's `meta.license` states (SPDX ids where the set gives them). */
  licenses: Record<string, string[]>;
  /** The derivation and output that give each package name's output (names whose derivation did not evaluate are left out). */
  derivations?: Record<string, Derivation>;
  /**
   * The directory of the out-links that keep the roots from garbage collection, when Nix made
   * one: the caller removes it once they are packed.
   */
  rootDir?: string;
}

/** The derivation (`.drv` store path) and output name that give a store path. */
export interface Derivation {
  drv: string;
  output: string;
}

/** A known output: its store path and what gives it. */
export interface KnownOutput extends Derivation {
  path: string;
}

/** What the builder needs from Nix; an interface so tests can give a failing one. */
export interface Nix {
  /**
   * Builds the packages; returns their output paths. Throws RegistryError. `onLog` receives
   * Nix's stderr as it comes (the build log).
   */
  realise(request: RealiseRequest, signal?: AbortSignal, onLog?: (text: string) => void): Promise<Realised>;
  /** The closure of `paths` with sizes and references. */
  closure(paths: readonly string[], signal?: AbortSignal): Promise<StorePathInfo[]>;
  /**
   * Realises known outputs from their derivations, without evaluating any package set, and keeps
   * them from garbage collection by out-links in the directory it returns (the caller removes it
   * once they are packed); `undefined` when that cannot be done (a derivation is gone, a build
   * failed): then the packages must be evaluated. `onLog` receives Nix's stderr (an output that
   * is gone is built again from its derivation).
   */
  root(outputs: readonly KnownOutput[], signal?: AbortSignal, onLog?: (text: string) => void): Promise<string | undefined>;
  /** Nix's version line; throws, saying how to install it, when Nix does not run (start-up, `/readyz`). */
  version(): Promise<string>;
  /** Ends the processes kept for later calls (the registry is stopping). */
  close?(): void;
}

/** The lines prepare-image.nix traces (the output, derivation and licenses of each name), to leave out of logs and error messages. */
const TRACE_LINES = /^trace: nixyard-(?:roots|derivations|licenses): .*\n?/gm;

/** The JSON object traced as `nixyard-<what>: {…}` in Nix's stderr; `{}` when it is not there. */
function traced(stderr: string, what: 'roots' | 'derivations' | 'licenses'): Record<string, unknown> {
  const json = new RegExp(`^trace: nixyard-${what}: (\\{.*\\})$`, 'm').exec(stderr)?.[1];
  return json === undefined ? {} : (JSON.parse(json) as Record<string, unknown>);
}

/** The output of each name from Nix's stderr (see prepare-image.nix); `{}` when it is not there. */
export function tracedPackages(stderr: string): Record<string, string> {
  return Object.fromEntries(Object.entries(traced(stderr, 'roots')).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** The derivation and output of each name from Nix's stderr (see prepare-image.nix); `{}` when they are not there. */
export function tracedDerivations(stderr: string): Record<string, Derivation> {
  const isDerivation = (value: unknown): value is Derivation => {
    const { drv, output } = (value ?? {}) as Partial<Derivation>;
    return typeof drv === 'string' && drv.startsWith('/') && drv.endsWith('.drv') && typeof output === 'string' && output !== '';
  };
  return Object.fromEntries(Object.entries(traced(stderr, 'derivations')).filter((entry): entry is [string, Derivation] => isDerivation(entry[1])));
}

/** The licenses of each name from Nix's stderr (see prepare-image.nix); `{}` when they are not there. */
export function tracedLicenses(stderr: string): Record<string, string[]> {
  const isList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
  return Object.fromEntries(Object.entries(traced(stderr, 'licenses')).filter((entry): entry is [string, string[]] => isList(entry[1])));
}

/** A Nix string literal of `text` (`\\`, `"` and `${` escaped). */
export function nixString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${')}"`;
}

/** The expression `nix-build -` reads: prepare-image.nix applied to the request, as its command-line form passes it. */
export function prepareImageExpression(request: RealiseRequest): string {
  const args = { srcType: request.source.srcType, srcArgs: request.source.srcArgs, system: request.system, packages: JSON.stringify(request.packages) };
  return `import ${nixString(join(NIX_DIR, 'prepare-image.nix'))} { ${Object.entries(args).map(([name, value]) => `${name} = ${nixString(value)};`).join(' ')} }`;
}

/**
 * The expression `nix-build -` reads to realise known outputs without a package set: each a
 * derivation value made of its `.drv` (`builtins.storePath` fails when it is not in the store)
 * and output path, which nix-build realises (nothing to do when the output is there, a build
 * from the `.drv` when it is gone) and roots.
 */
export function knownOutputsExpression(outputs: readonly KnownOutput[]): string {
  const items = outputs.map(({ path, drv, output }) => `{ type = "derivation"; name = ${nixString(basename(path).replace(/^[^-]*-/, ''))}; drvPath = builtins.storePath ${nixString(drv)}; outPath = ${nixString(path)}; outputName = ${nixString(output)}; }`);
  return `[ ${items.join(' ')} ]`;
}

/** The real Nix, via the `nix-build` and `nix-store` commands on PATH. */
export function createNix(options: NixOptions): Nix {
  const timeout = options.timeoutSeconds * 1000;
  const serve = new NixServe({ timeoutMs: timeout });
  const builds = new NixBuildStarter({ rootsDir: options.rootsDir, spare: options.spare ?? true });
  const abandoned = builds.removeAbandoned();
  if (abandoned.length > 0) options.log?.info('removed the GC roots a registry left when it was killed', { rootsDir: options.rootsDir, directories: abandoned });
  /** Runs `expression` in a started nix-build, its log (without the traces) to `onLog`. */
  const build = async (expression: string, signal: AbortSignal | undefined, onLog: ((text: string) => void) | undefined) => {
    const started = builds.take();
    const result = await started.run(expression, {
      timeoutMs: timeout,
      signal,
      onStderr: (text) => {
        const shown = text.replace(TRACE_LINES, '');
        if (shown !== '') onLog?.(shown);
      },
    });
    if (result.exitCode !== 0 || result.canceled) await rm(started.rootDir, { recursive: true, force: true });
    if (result.canceled) throw signal?.reason ?? new Error('build cancelled');
    if (result.notFound) throw new Error('nix-build not found on PATH: install Nix (apt-get install -y nix-bin)');
    return { ...result, rootDir: started.rootDir };
  };
  return {
    async realise(request, signal, onLog) {
      const result = await build(prepareImageExpression(request), signal, onLog);
      const { stderr } = result;
      if (result.exitCode === 0) return { roots: outputPaths(result.stdout), packages: tracedPackages(stderr), licenses: tracedLicenses(stderr), derivations: tracedDerivations(stderr), rootDir: result.rootDir };
      throw classifyNixFailure(stderr.replace(TRACE_LINES, ''), { timedOut: result.timedOut, timeoutSeconds: options.timeoutSeconds });
    },

    async root(outputs, signal, onLog) {
      const result = await build(knownOutputsExpression(outputs), signal, onLog);
      if (result.exitCode !== 0) return undefined;
      if (outputPaths(result.stdout).join('\n') === [...new Set(outputs.map((output) => output.path))].join('\n')) return result.rootDir;
      await rm(result.rootDir, { recursive: true, force: true });
      return undefined;
    },

    version: checkNixInstalled,

    closure: (paths, signal) => serve.closure(paths, signal),

    close: () => {
      serve.close();
      builds.close();
    },
  };
}

/** The store paths nix-build printed, one per line. */
function outputPaths(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('/'));
}

/** Fails with an install hint unless `nix-build` and `nix` answer; returns Nix's version line. */
export async function checkNixInstalled(): Promise<string> {
  const version = await versionOutput('nix-build', 30_000);
  if (version.exitCode !== 0) {
    throw new Error(`nix-build does not run (${version.exitCode === undefined ? 'not found' : version.stderr.trim()}): install Nix, e.g. apt-get install -y nix-bin`);
  }
  return version.stdout.trim();
}

/** Parses `nix path-info --json` output: an array (Nix < 2.19) or an object keyed by path. */
export function parsePathInfo(json: string): StorePathInfo[] {
  const parsed = JSON.parse(json) as unknown;
  type Entry = { narSize: number; narHash?: string; references?: string[] };
  const entries = Array.isArray(parsed) ? (parsed as (Entry & { path: string })[]) : Object.entries(parsed as Record<string, Entry>).map(([path, info]) => ({ path, ...info }));
  return entries.map((entry) => ({ path: entry.path, narSize: entry.narSize, references: entry.references ?? [], ...(entry.narHash ? { narHash: entry.narHash } : {}) }));
}
