/**
 * `NIXERY_PKGS_REPO`: a git repository of a package set. The image tag names a branch, a tag
 * or a full commit; `latest` means the default branch (HEAD). Refs are resolved to commits
 * with `git ls-remote` (cached for `ttlMs`), so every build is keyed by the commit it used.
 */
import { execa } from 'execa';
import { LRUCache } from 'lru-cache';
import { RegistryError } from '../errors.js';
import type { PackageSource, ResolvedSource } from './types.js';

const COMMIT = /^[0-9a-f]{40}$/;

/** A package source following refs of a git repository. */
export class GitSource implements PackageSource {
  readonly description: string;
  private readonly refs: LRUCache<string, Map<string, string>>;

  constructor(
    private readonly repository: string,
    ttlMs: number,
  ) {
    this.description = `git repository ${repository}`;
    this.refs = new LRUCache<string, Map<string, string>>({ max: 1, ttl: Math.max(1, ttlMs), fetchMethod: () => this.listRefs() });
  }

  private async listRefs(): Promise<Map<string, string>> {
    const result = await execa('git', ['ls-remote', '--symref', this.repository], { reject: false, timeout: 60_000, env: { GIT_TERMINAL_PROMPT: '0' } });
    if (result.exitCode !== 0) {
      throw new RegistryError('UNAVAILABLE', `could not list refs of ${this.repository}: ${result.stderr.trim().split('\n').pop() ?? 'git ls-remote failed'}`);
    }
    const refs = new Map<string, string>();
    for (const line of result.stdout.split('\n')) {
      const [commit, ref] = line.split('\t');
      if (!commit || !ref || !COMMIT.test(commit)) continue;
      refs.set(ref, commit);
      if (ref.startsWith('refs/heads/')) refs.set(ref.slice('refs/heads/'.length), commit);
      if (ref.startsWith('refs/tags/') && !ref.endsWith('^{}')) refs.set(ref.slice('refs/tags/'.length), commit);
    }
    // Annotated tags: the peeled commit is what gets built.
    for (const [ref, commit] of refs) if (ref.endsWith('^{}')) refs.set(ref.slice('refs/tags/'.length, -3), commit);
    return refs;
  }

  async resolve(tag: string): Promise<ResolvedSource> {
    let commit: string | undefined;
    if (COMMIT.test(tag)) commit = tag;
    else {
      const refs = await this.refs.fetch('refs');
      commit = refs?.get(tag === 'latest' ? 'HEAD' : tag);
    }
    if (!commit) {
      throw new RegistryError('MANIFEST_UNKNOWN', `tag ${JSON.stringify(tag)} is not a branch, tag or full commit of ${this.repository}`, { detail: { tag } });
    }
    return { revision: `git:${commit}`, nix: { srcType: 'git', srcArgs: JSON.stringify({ url: this.repository, rev: commit }) } };
  }

  async tags(): Promise<string[]> {
    const refs = (await this.refs.fetch('refs')) ?? new Map<string, string>();
    return ['latest', ...[...refs.keys()].filter((ref) => !ref.startsWith('refs/') && ref !== 'HEAD' && !ref.endsWith('^{}'))];
  }
}
