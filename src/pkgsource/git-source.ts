/**
 * `NIXERY_PKGS_REPO`: a git repository of a package set. The image tag names a branch, a tag
 * or a full commit; `latest` means the default branch. Tags are pinned to commits (see
 * `git-refs.ts`) before anything is built, so every image is keyed and cached by the commit it
 * was built from, and Nix fetches exactly that commit (`builtins.fetchGit` with `rev`).
 *
 * Two listings, both through `git ls-remote` with the git credentials and SSH keys of the
 * server's user:
 *   - branches and tags (`--heads --tags`; protocol v2 servers send only those, not e.g.
 *     GitHub's `refs/pull/*`), re-read after `ttlMs`;
 *   - the default branch's name (`--symref … HEAD`, which lists every ref of the remote), read
 *     again after `max(ttlMs, DEFAULT_BRANCH_TTL_MS)` or when that branch has disappeared. Its
 *     commit comes from the first listing, so `latest` is never older than `ttlMs` either. A
 *     detached HEAD's commit is trusted for `ttlMs` only.
 * A full commit is pinned without waiting for either listing to succeed, so its cached images
 * are served while the repository is unreachable.
 *
 * Nix fetches a branch or tag by its ref (only that ref is transferred); a commit that is no
 * ref's tip with `allRefs`, since it may be anywhere in the repository's history.
 */
import { RegistryError } from '../errors.js';
import { Expiring, type Clock } from './expiring.js';
import { COMMIT, imageTags, parseLsRemoteHead, parseLsRemoteRefs, pinDefaultBranch, pinTag, type GitHead, type GitRefs, type PinnedCommit } from './git-refs.js';
import type { PackageSource, ResolvedSource } from './types.js';

/** Longest the name of the default branch is trusted (it changes very rarely). */
export const DEFAULT_BRANCH_TTL_MS = 5 * 60_000;

/** Longest one `git ls-remote` may take. */
export const LS_REMOTE_TIMEOUT_MS = 60_000;

/** A package source following refs of a git repository. */
export class GitSource implements PackageSource {
  readonly description: string;
  private readonly refs: Expiring<GitRefs>;
  private readonly head: Expiring<GitHead>;

  constructor(
    private readonly repository: string,
    ttlMs: number,
    now?: Clock,
  ) {
    this.description = `git repository ${repository}`;
    this.refs = new Expiring(async () => parseLsRemoteRefs(await this.lsRemote(['--heads', '--tags'])), ttlMs, now);
    this.head = new Expiring(
      async () => parseLsRemoteHead(await this.lsRemote(['--symref'], ['HEAD'])),
      (head) => (head.ref === undefined ? ttlMs : Math.max(ttlMs, DEFAULT_BRANCH_TTL_MS)),
      now,
    );
  }

  private async lsRemote(options: string[], patterns: string[] = []): Promise<string> {
    const result = await (await import('execa')).execa('git', ['ls-remote', ...options, '--', this.repository, ...patterns], {
      reject: false,
      timeout: LS_REMOTE_TIMEOUT_MS,
      // Never wait for a password on a terminal: fail, and say so.
      env: { GIT_TERMINAL_PROMPT: '0' },
      stdin: 'ignore',
    });
    if (result.exitCode !== 0) {
      const reason = result.timedOut ? `no answer within ${LS_REMOTE_TIMEOUT_MS / 1000} s` : lastLine(result.stderr) || `git ls-remote failed (${result.message})`;
      throw new RegistryError('UNAVAILABLE', `could not list the refs of the package repository ${this.repository}: ${reason}`, { detail: { repository: this.repository } });
    }
    return result.stdout;
  }

  private async pinLatest(): Promise<PinnedCommit | undefined> {
    const [refs, head] = await Promise.all([this.refs.get(), this.head.get()]);
    const pinned = pinDefaultBranch(refs, head);
    if (pinned !== undefined || head.ref === undefined) return pinned;
    // The default branch may have been renamed since HEAD was read: read it again once.
    this.head.invalidate();
    return pinDefaultBranch(refs, await this.head.get());
  }

  /**
   * A full commit needs no listing to be pinned, so an image cached for it is served while the
   * repository is unreachable; the listing only tells Nix which ref to fetch it by.
   */
  private async pinCommit(tag: string): Promise<PinnedCommit | undefined> {
    const refs = await this.refs.get().catch(() => ({ branches: new Map<string, string>(), tags: new Map<string, string>() }));
    return pinTag(refs, tag);
  }

  async resolve(tag: string): Promise<ResolvedSource> {
    const pinned = tag === 'latest' ? await this.pinLatest() : COMMIT.test(tag.toLowerCase()) ? await this.pinCommit(tag) : pinTag(await this.refs.get(), tag);
    if (pinned === undefined) {
      const what = tag === 'latest' ? 'the default branch (HEAD) has no commit' : `tag ${JSON.stringify(tag)} is not a branch, a tag or a full commit`;
      throw new RegistryError('MANIFEST_UNKNOWN', `${what} in the package repository ${this.repository}`, { detail: { tag, repository: this.repository } });
    }
    const srcArgs: Record<string, string> = { url: this.repository, rev: pinned.commit };
    if (pinned.ref !== undefined) srcArgs['ref'] = pinned.ref;
    return { revision: `git:${pinned.commit}`, nix: { srcType: 'git', srcArgs: JSON.stringify(srcArgs) } };
  }

  async tags(): Promise<string[]> {
    return imageTags(await this.refs.get());
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}
