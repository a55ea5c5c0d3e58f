/**
 * `NIXERY_PKGS_PATH`: a package set in a local directory. Its revision is the git commit when
 * the directory is a clean git checkout, otherwise a hash of its contents, so editing it
 * invalidates cached images. The revision is recomputed at most once per `ttlMs`.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryError } from '../errors.js';
import { Expiring, type Clock } from './expiring.js';
import type { PackageSource, ResolvedSource } from './types.js';

/** Nix out-links (`result`, `result-dev`), skipped when they are symbolic links. */
const OUT_LINK = /^result(-.*)?$/;

/**
 * Hash of a directory tree (or of one file), from what Nix reads when it imports it: relative
 * paths, file types, the executable bit, file contents and symlink targets; not times, owners
 * or other mode bits. `.git` (anywhere) and `result*` symlinks (Nix out-links) are left out.
 * Entries go in sorted order, so the hash is the same for equal trees in any place on any machine.
 */
export async function hashDirectory(root: string): Promise<string> {
  const hash = createHash('sha256');
  const add = async (path: string, rel: string): Promise<void> => {
    const info = await lstat(path);
    if (info.isDirectory()) {
      hash.update(`d ${JSON.stringify(rel)}\n`);
      for (const name of (await readdir(path)).sort()) {
        if (name === '.git') continue;
        const child = join(path, name);
        if (OUT_LINK.test(name) && (await lstat(child)).isSymbolicLink()) continue;
        await add(child, rel === '' ? name : `${rel}/${name}`);
      }
    } else if (info.isSymbolicLink()) {
      hash.update(`l ${JSON.stringify(rel)} ${JSON.stringify(await readlink(path))}\n`);
    } else if (info.isFile()) {
      hash.update(`f ${JSON.stringify(rel)} ${info.mode & 0o111 ? 'x' : '-'} ${info.size}\n`);
      hash.update(await readFile(path));
    }
  };
  await add(root, '');
  return hash.digest('hex');
}

/**
 * The commit checked out in `dir` when `dir` is the top of a git work tree with no changes
 * (untracked files count as changes; ignored ones do not), else `undefined`.
 */
export async function cleanGitCommit(dir: string): Promise<string | undefined> {
  const { execa } = await import('execa');
  const git = (args: string[]) => execa('git', ['-C', dir, ...args], { reject: false, timeout: 60_000, stdin: 'ignore' });
  const head = await git(['rev-parse', '--show-toplevel', 'HEAD']);
  if (head.exitCode !== 0) return undefined;
  const [toplevel, commit] = head.stdout.split('\n');
  if (toplevel === undefined || commit === undefined || (await realpath(toplevel)) !== (await realpath(dir))) return undefined;
  const status = await git(['status', '--porcelain', '--untracked-files=all']);
  return status.exitCode === 0 && status.stdout.trim() === '' ? commit : undefined;
}

/** A package source reading a local directory. */
export class PathSource implements PackageSource {
  readonly description: string;
  private readonly revision: Expiring<string>;

  /** `args` are passed to the package set's function (e.g. `{syntheticCount: 300}` for the demo). */
  constructor(
    private readonly path: string,
    ttlMs: number,
    private readonly args: Record<string, unknown> = {},
    now?: Clock,
  ) {
    this.description = `local path ${path}`;
    this.revision = new Expiring(() => this.readRevision(), ttlMs, now);
  }

  private async readRevision(): Promise<string> {
    try {
      const commit = await cleanGitCommit(this.path);
      return commit ? `path:git:${commit}` : `path:sha256:${await hashDirectory(this.path)}`;
    } catch (error) {
      throw new RegistryError('UNAVAILABLE', `could not read the package set at ${this.path}: ${(error as Error).message}`, { detail: { path: this.path }, cause: error });
    }
  }

  async resolve(_tag: string): Promise<ResolvedSource> {
    const revision = await this.revision.get();
    const srcArgs: Record<string, unknown> = { path: this.path };
    if (Object.keys(this.args).length > 0) srcArgs['args'] = this.args;
    return { revision: `${revision}:${JSON.stringify(this.args)}`, nix: { srcType: 'path', srcArgs: JSON.stringify(srcArgs) } };
  }

  async tags(): Promise<string[]> {
    return ['latest'];
  }
}
