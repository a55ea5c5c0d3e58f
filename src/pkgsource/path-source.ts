/**
 * `NIXERY_PKGS_PATH`: a package set in a local directory. Its revision is the git commit when
 * the directory is a clean git checkout, otherwise a hash of its contents, so editing it
 * invalidates cached images. The revision is recomputed at most once per `ttlMs`.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { PackageSource, ResolvedSource } from './types.js';

/** Names skipped when hashing a directory: VCS data and Nix out-links. */
const SKIPPED = /^(\.git|result(-.*)?)$/;

/** Hash of a directory tree: relative paths, modes, file contents and symlink targets. */
export async function hashDirectory(root: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string, relative: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      if (SKIPPED.test(name)) continue;
      const path = join(dir, name);
      const rel = relative ? `${relative}/${name}` : name;
      const info = await lstat(path);
      if (info.isDirectory()) {
        hash.update(`d ${rel}\n`);
        await walk(path, rel);
      } else if (info.isSymbolicLink()) {
        hash.update(`l ${rel} ${await readlink(path)}\n`);
      } else if (info.isFile()) {
        hash.update(`f ${rel} ${info.mode & 0o111 ? 'x' : '-'} ${info.size}\n`);
        hash.update(await readFile(path));
      }
    }
  };
  await walk(root, '');
  return hash.digest('hex');
}

async function cleanGitCommit(dir: string): Promise<string | undefined> {
  const head = await execa('git', ['-C', dir, 'rev-parse', '--show-toplevel', 'HEAD'], { reject: false });
  if (head.exitCode !== 0) return undefined;
  const [toplevel, commit] = head.stdout.split('\n');
  if (toplevel !== dir.replace(/\/+$/, '')) return undefined;
  const status = await execa('git', ['-C', dir, 'status', '--porcelain'], { reject: false });
  return status.exitCode === 0 && status.stdout.trim() === '' ? commit : undefined;
}

/** A package source reading a local directory. */
export class PathSource implements PackageSource {
  readonly description: string;
  private readonly revisions: LRUCache<string, string>;

  /** `args` are passed to the package set's function (e.g. `{syntheticCount: 300}` for the demo). */
  constructor(
    private readonly path: string,
    ttlMs: number,
    private readonly args: Record<string, unknown> = {},
  ) {
    this.description = `local path ${path}`;
    this.revisions = new LRUCache<string, string>({
      max: 1,
      ttl: Math.max(1, ttlMs),
      fetchMethod: async () => {
        const commit = await cleanGitCommit(this.path);
        return commit ? `path:git:${commit}` : `path:sha256:${await hashDirectory(this.path)}`;
      },
    });
  }

  async resolve(_tag: string): Promise<ResolvedSource> {
    const revision = await this.revisions.fetch('revision');
    if (revision === undefined) throw new Error(`could not read the package set at ${this.path}`);
    const srcArgs: Record<string, unknown> = { path: this.path };
    if (Object.keys(this.args).length > 0) srcArgs['args'] = this.args;
    return { revision: `${revision}:${JSON.stringify(this.args)}`, nix: { srcType: 'path', srcArgs: JSON.stringify(srcArgs) } };
  }

  async tags(): Promise<string[]> {
    return ['latest'];
  }
}
