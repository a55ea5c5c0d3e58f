/**
 * `nixyard popcount --pkgs PATH`: the popularity of a local package set's packages, offline, the
 * same count as for a channel but from Nix instead of a binary cache:
 *
 *   1. `nix-instantiate --eval` of `nix/package-outputs.nix` lists the set's top-level
 *      derivations and their output paths (attributes that throw — broken, unfree, removed —
 *      are skipped, as Nixery's popcount skips what is not cached).
 *   2. `nix-build --keep-going` realises them; packages that fail to build (or take longer
 *      than `buildTimeoutSeconds`) are skipped and named.
 *   3. `nix path-info --json -r` of the outputs that exist gives the closure graph: every path of
 *      it counts its references (`popcount.ts`), as every path of a channel's list does.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parsePathInfo } from '../builder/nix.js';
import type { Popularity } from '../layers/types.js';
import { NIX_DIR } from '../paths.js';
import { countPopularity } from './popcount.js';

/** Settings of a package-set popcount. */
export interface PkgsPopcountOptions {
  /** Directory with a `default.nix` (or a `.nix` file) holding the package set. */
  pkgsPath: string;
  /** Arguments for the set's function (the demo set takes e.g. `{syntheticCount: 20}`). */
  args?: Record<string, unknown>;
  /** Longest one package's build may take (Nix's `--timeout`); 0 or undefined: no limit. */
  buildTimeoutSeconds?: number;
  /** Receives progress lines (the CLI writes them to stderr). */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

/** The outcome of a package-set popcount. */
export interface PkgsPopcountResult {
  popularity: Popularity;
  /** Top-level attributes whose outputs were counted. */
  packages: string[];
  /** Top-level attributes left out, with why. */
  skipped: { attr: string; reason: 'evaluation failed' | 'build failed' }[];
  /** Store paths in the closure that was counted. */
  closurePaths: number;
}

/** Nix or the package set failed; the message says which command and why. */
export class PkgsPopcountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PkgsPopcountError';
  }
}

interface PackageOutputs {
  packages: { attr: string; outputs: string[] }[];
  skipped: string[];
}

/** Computes the popularity of the package set at `options.pkgsPath`; throws `PkgsPopcountError`. */
export async function popcountPackageSet(options: PkgsPopcountOptions): Promise<PkgsPopcountResult> {
  const pkgsPath = resolve(options.pkgsPath);
  await stat(pkgsPath).catch(() => {
    throw new PkgsPopcountError(`--pkgs ${JSON.stringify(options.pkgsPath)}: no such file or directory (expected a package set: a directory with a default.nix)`);
  });
  const progress = options.onProgress ?? (() => {});
  const expression = join(NIX_DIR, 'package-outputs.nix');
  const sourceArgs = [
    '--argstr', 'srcType', 'path',
    '--argstr', 'srcArgs', JSON.stringify({ path: pkgsPath, ...(options.args && Object.keys(options.args).length > 0 ? { args: options.args } : {}) }),
  ];

  const evaluated = await run('nix-instantiate', ['--eval', '--strict', '--json', '-A', 'info', expression, ...sourceArgs], options.signal);
  if (evaluated.exitCode !== 0) throw new PkgsPopcountError(`cannot evaluate the package set ${pkgsPath}: ${lastLines(evaluated.stderr)}`);
  const info = JSON.parse(evaluated.stdout) as PackageOutputs;
  progress(`${info.packages.length} top-level packages in ${pkgsPath}${info.skipped.length ? `; not evaluable, skipped: ${info.skipped.join(', ')}` : ''}`);

  const timeout = options.buildTimeoutSeconds ?? 0;
  const built = await run('nix-build', ['--no-out-link', '--keep-going', '--timeout', String(timeout), '-A', 'drvs', expression, ...sourceArgs], options.signal);
  const allOutputs = [...new Set(info.packages.flatMap((pkg) => pkg.outputs))];
  let invalid = new Set<string>();
  if (built.exitCode !== 0) {
    const check = await run('nix-store', ['--check-validity', '--print-invalid', ...allOutputs], options.signal);
    if (check.exitCode !== 0) throw new PkgsPopcountError(`nix-store --check-validity failed: ${lastLines(check.stderr)}`);
    invalid = new Set(check.stdout.split('\n').filter((line) => line !== ''));
  }
  const failed = info.packages.filter((pkg) => pkg.outputs.some((path) => invalid.has(path))).map((pkg) => pkg.attr);
  if (failed.length > 0) progress(`did not build, skipped: ${failed.join(', ')}${timeout > 0 ? ` (build timeout ${timeout} s)` : ''}`);
  const counted = info.packages.filter((pkg) => !failed.includes(pkg.attr));
  const roots = [...new Set(counted.flatMap((pkg) => pkg.outputs))];
  if (roots.length === 0) throw new PkgsPopcountError(`the package set ${pkgsPath} has no package that builds: nothing to count${built.exitCode !== 0 ? ` (nix-build: ${lastLines(built.stderr)})` : ''}`);

  const closure = await run('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', '-r', ...roots], options.signal);
  if (closure.exitCode !== 0) throw new PkgsPopcountError(`nix path-info failed: ${lastLines(closure.stderr)}`);
  const graph = parsePathInfo(closure.stdout);
  progress(`counting the references of ${graph.length} store paths`);
  return {
    popularity: countPopularity(graph),
    packages: counted.map((pkg) => pkg.attr),
    skipped: [
      ...info.skipped.map((attr) => ({ attr, reason: 'evaluation failed' as const })),
      ...failed.map((attr) => ({ attr, reason: 'build failed' as const })),
    ],
    closurePaths: graph.length,
  };
}

async function run(command: string, args: string[], signal: AbortSignal | undefined) {
  const result = await (await import('execa')).execa(command, args, { reject: false, cancelSignal: signal, maxBuffer: 1024 * 1024 * 1024, forceKillAfterDelay: 2000 });
  if (result.isCanceled) throw signal?.reason ?? new PkgsPopcountError(`${command} was cancelled`);
  if (result.exitCode === undefined && /ENOENT/.test(String(result.message))) {
    throw new PkgsPopcountError(`${command} not found on PATH: install Nix (apt-get install -y nix-bin)`);
  }
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

function lastLines(text: string, count = 8): string {
  const lines = text.trim().split('\n');
  return lines.slice(-count).join('\n');
}
