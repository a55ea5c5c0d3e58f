/**
 * The real nixpacks (1.41, `NIXYARD_NIXPACKS`), asked for a build plan of an app directory:
 * `nixpacks plan --format json`, offline, in milliseconds. It reads the app's `nixpacks.toml` or
 * `nixpacks.json` by itself. The request's overrides become its flags; extra packages go in as
 * the `NIXPACKS_PKGS` variable, because its `--pkgs` flag drops the plan's overlays.
 */
import type { SourceOverrides } from '../../builds/record.js';
import { RegistryError } from '../../errors.js';
import { versionOutput } from '../../version-check.js';

/** What a request may change in the plan. */
export type PlanOverrides = SourceOverrides;

/**
 * The providers nixpacks 1.41 knows (its documentation's list; it has no command that prints
 * them).
 */
export const NIXPACKS_PROVIDERS = [
  'clojure', 'cobol', 'crystal', 'csharp', 'dart', 'deno', 'elixir', 'fsharp', 'gleam', 'go', 'haskell', 'java',
  'lunatic', 'node', 'php', 'python', 'ruby', 'rust', 'scala', 'scheme', 'staticfile', 'swift', 'zig',
] as const;

/** nixpacks' arguments for planning `appDir` with `overrides` (pure). */
export function planArgs(appDir: string, overrides: PlanOverrides): string[] {
  const flag = (name: string, value: string | undefined) => (value === undefined ? [] : [name, value]);
  const env = Object.entries(overrides.env ?? {}).flatMap(([name, value]) => ['--env', `${name}=${value}`]);
  const pkgs = (overrides.pkgs ?? []).length > 0 ? ['--env', `NIXPACKS_PKGS=${(overrides.pkgs ?? []).join(' ')}`] : [];
  return ['plan', '--format', 'json', ...flag('--install-cmd', overrides.installCmd), ...flag('--build-cmd', overrides.buildCmd), ...flag('--start-cmd', overrides.startCmd), ...env, ...pkgs, appDir];
}

/** Runs nixpacks. */
export class Nixpacks {
  constructor(private readonly binary = 'nixpacks') {}

  /** nixpacks' version (`1.41.0`); throws `PLAN_UNAVAILABLE` with an install hint when it does not run. */
  async version(): Promise<string> {
    const result = await versionOutput(this.binary, 10_000);
    const version = /(\d+\.\d+\.\d+)/.exec(result.stdout)?.[1];
    if (result.exitCode !== 0 || !version) {
      throw new RegistryError('PLAN_UNAVAILABLE', `nixpacks (${this.binary}) does not run on this registry: install it with cargo install nixpacks --version 1.41.0 --locked (scripts/install-deps.sh does)`);
    }
    return version;
  }

  /** The plan of `appDir` as JSON; throws `PLAN_UNAVAILABLE` with nixpacks' message when it fails. */
  async plan(appDir: string, overrides: PlanOverrides, signal?: AbortSignal): Promise<string> {
    const result = await (await import('execa')).execa(this.binary, planArgs(appDir, overrides), { reject: false, timeout: 60_000, cancelSignal: signal, stdin: 'ignore', env: { PATH: process.env['PATH'] ?? '' }, extendEnv: false });
    if (result.isCanceled) throw signal?.reason ?? new Error('cancelled');
    if (result.exitCode !== 0) {
      const reason = result.exitCode === undefined ? `it does not run (${result.message})` : result.stderr.trim().split('\n').slice(-3).join(' ');
      throw new RegistryError('PLAN_UNAVAILABLE', `nixpacks could not plan the app: ${reason}`);
    }
    return result.stdout;
  }
}
