/**
 * Example image names for the index page, from the package set this registry serves: the
 * well-known packages the set has (nixpkgs has them all; the demo set has hello and nano), found
 * by one Nix evaluation of `pkgs ? name` for each candidate.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { NIX_DIR } from '../paths.js';
import type { NixSourceArgs, PackageSource } from './types.js';

/** Packages worth showing, most telling first. */
export const EXAMPLE_CANDIDATES = ['git', 'htop', 'hello', 'curl', 'jq', 'python3', 'nodejs', 'nano'] as const;

/** Names to pull, from the candidates the set has (in candidate order): `shell/a` and `a/b`; `shell` when it has none. */
export function exampleNames(present: readonly string[]): string[] {
  const [first, second] = present;
  if (first === undefined) return ['shell'];
  return second === undefined ? [`shell/${first}`, first] : [`shell/${first}`, `${first}/${second}`];
}

/** Which of `names` are attributes of the package set (one `nix-instantiate --eval`). */
export async function presentPackages(source: NixSourceArgs, system: string, names: readonly string[], timeoutMs: number): Promise<string[]> {
  const expression = `{ srcType, srcArgs, system, names }: let pkgs = import ${join(NIX_DIR, 'load-pkgs.nix')} { inherit srcType srcArgs system; }; in builtins.filter (name: pkgs ? \${name}) (builtins.fromJSON names)`;
  const result = await (await import('execa')).execa(
    'nix-instantiate',
    ['--eval', '--json', '--strict', '-E', expression, '--argstr', 'srcType', source.srcType, '--argstr', 'srcArgs', source.srcArgs, '--argstr', 'system', system, '--argstr', 'names', JSON.stringify(names)],
    { timeout: timeoutMs },
  );
  return JSON.parse(result.stdout) as string[];
}

/**
 * The index page's examples, found once in the background: the page waits for them at most
 * `waitMs` (a channel may first have to be downloaded) and shows `shell` meanwhile, or when the
 * evaluation failed (tried again on a later visit).
 */
export function packageExamples(options: { source: PackageSource; system: string; waitMs: number; timeoutMs: number; log: Logger }): () => Promise<readonly string[]> {
  let found: Promise<string[]> | undefined;
  const find = async () => {
    const latest = await options.source.resolve('latest');
    return exampleNames(await presentPackages(latest.nix, options.system, EXAMPLE_CANDIDATES, options.timeoutMs));
  };
  return async () => {
    found ??= find().catch((error: unknown) => {
      options.log.warn('could not read example names from the package set', describeError(error));
      found = undefined;
      return ['shell'];
    });
    return (await Promise.race([found, sleep(options.waitMs).then(() => undefined)])) ?? ['shell'];
  };
}
