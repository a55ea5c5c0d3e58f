/**
 * The Nix calls of a build, through execa: `nix-build nix/prepare-image.nix` realises the
 * image's packages (rooted by an out-link so garbage collection cannot remove them while they
 * are packed), then one `nix path-info --json -r` reads the whole closure with sizes. Both run
 * with a timeout and an AbortSignal, stdout and stderr read concurrently.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import type { NixSourceArgs } from '../pkgsource/types.js';
import type { StorePathInfo } from '../layers/types.js';
import { NIX_DIR } from '../paths.js';
import { classifyNixFailure } from './nix-errors.js';

/** One realisation request. */
export interface RealiseRequest {
  source: NixSourceArgs;
  /** Nix system (`x86_64-linux`). */
  system: string;
  packages: readonly string[];
  /** Out-link path; Nix adds `-2`, `-3` … for further outputs. */
  outLink: string;
}

/** Settings of the Nix calls. */
export interface NixOptions {
  timeoutSeconds: number;
}

/** What the builder needs from Nix; an interface so tests can give a failing one. */
export interface Nix {
  /**
   * Builds the packages; returns their output paths (the image's roots). Throws RegistryError.
   * `onLog` receives Nix's stderr as it comes (the build log).
   */
  realise(request: RealiseRequest, signal?: AbortSignal, onLog?: (text: string) => void): Promise<string[]>;
  /** The closure of `paths` with sizes and references. */
  closure(paths: readonly string[], signal?: AbortSignal): Promise<StorePathInfo[]>;
}

/** The real Nix, via the `nix-build` and `nix` commands on PATH. */
export function createNix(options: NixOptions): Nix {
  const timeout = options.timeoutSeconds * 1000;
  return {
    async realise(request, signal, onLog) {
      const args = [
        join(NIX_DIR, 'prepare-image.nix'),
        '--argstr', 'srcType', request.source.srcType,
        '--argstr', 'srcArgs', request.source.srcArgs,
        '--argstr', 'system', request.system,
        '--argstr', 'packages', JSON.stringify(request.packages),
        '--out-link', request.outLink,
      ];
      const child = execa('nix-build', args, { timeout, cancelSignal: signal, reject: false, forceKillAfterDelay: 2000 });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        stderr += text;
        onLog?.(text);
      });
      const result = await child;
      if (result.exitCode === 0 && !result.isCanceled) return result.stdout.split('\n').filter((line) => line.startsWith('/'));
      if (result.isCanceled) throw signal?.reason ?? new Error('build cancelled');
      if (result.exitCode === undefined && /ENOENT/.test(String(result.message))) {
        throw new Error('nix-build not found on PATH: install Nix (apt-get install -y nix-bin)');
      }
      throw classifyNixFailure(stderr, { timedOut: result.timedOut, timeoutSeconds: options.timeoutSeconds });
    },

    async closure(paths, signal) {
      const result = await execa('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', '-r', ...paths], {
        timeout,
        cancelSignal: signal,
        maxBuffer: 512 * 1024 * 1024,
      });
      return parsePathInfo(result.stdout);
    },
  };
}

/** Fails with an install hint unless `nix-build` and `nix` answer; returns Nix's version line. */
export async function checkNixInstalled(): Promise<string> {
  const version = await execa('nix-build', ['--version'], { reject: false, timeout: 30_000 });
  if (version.exitCode !== 0) {
    throw new Error(`nix-build does not run (${version.exitCode === undefined ? 'not found' : version.stderr.trim()}): install Nix, e.g. apt-get install -y nix-bin`);
  }
  return version.stdout.trim();
}

/** Parses `nix path-info --json` output: an array (Nix < 2.19) or an object keyed by path. */
export function parsePathInfo(json: string): StorePathInfo[] {
  const parsed = JSON.parse(json) as unknown;
  const entries = Array.isArray(parsed)
    ? (parsed as { path: string; narSize: number; references?: string[] }[])
    : Object.entries(parsed as Record<string, { narSize: number; references?: string[] }>).map(([path, info]) => ({ path, ...info }));
  return entries.map((entry) => ({ path: entry.path, narSize: entry.narSize, references: entry.references ?? [] }));
}
