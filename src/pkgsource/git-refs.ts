/**
 * Pure part of the git source: reading `git ls-remote` output and pinning an image tag to a
 * commit.
 *
 * Inputs: the output of `git ls-remote --heads --tags` (branches and tags, each annotated tag
 * followed by its peeled commit, `refs/tags/v1^{}`) and of `git ls-remote --symref <repo> HEAD`
 * (the default branch, or a commit when the remote's HEAD is detached).
 *
 * Algorithm: a tag is pinned as
 *
 *   latest                      → the default branch's commit, fetched as refs/heads/<default>
 *   40 hex digits               → that commit; when it is the tip of branches or tags, fetched by
 *                                 the first of those refs in sorted order, else with all refs (it
 *                                 may be anywhere in the history)
 *   v1 (a tag, peeled)          → refs/tags/v1^{}  (tags before branches, as git resolves names)
 *   main (a branch)             → refs/heads/main
 *   anything else               → not found
 *
 * Example:
 *
 *   ref: refs/heads/main	HEAD                 latest → c1 (refs/heads/main)
 *   c1	HEAD                                     v1     → c0 (refs/tags/v1, annotated)
 *   c1	refs/heads/main                          c0…    → c0 (refs/tags/v1)
 *   t1	refs/tags/v1
 *   c0	refs/tags/v1^{}
 */
import { isValidTag } from '../image/grammar.js';

/** A full SHA-1 commit id, as git prints it. */
export const COMMIT = /^[0-9a-f]{40}$/;

/** Branches and tags of a repository, by short name; tags hold the commit they point to (peeled). */
export interface GitRefs {
  branches: Map<string, string>;
  tags: Map<string, string>;
}

/** The remote's HEAD: a branch (`refs/heads/main`) or, when detached, only a commit. */
export interface GitHead {
  /** The full ref HEAD points to, when it is a symbolic ref. */
  ref: string | undefined;
  /** HEAD's commit; `undefined` when HEAD names a branch without commits. */
  commit: string | undefined;
}

/** A tag pinned to a commit, with the ref Nix should fetch to find it (none: fetch all refs). */
export interface PinnedCommit {
  commit: string;
  ref: string | undefined;
}

function lines(output: string): [string, string][] {
  return output
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((fields): fields is [string, string] => fields.length === 2 && fields[0] !== '' && fields[1] !== '');
}

/** Parses `git ls-remote --heads --tags` output; other refs and malformed lines are ignored. */
export function parseLsRemoteRefs(output: string): GitRefs {
  const branches = new Map<string, string>();
  const tags = new Map<string, string>();
  const peeled = new Map<string, string>();
  for (const [commit, ref] of lines(output)) {
    if (!COMMIT.test(commit)) continue;
    if (ref.startsWith('refs/heads/')) branches.set(ref.slice('refs/heads/'.length), commit);
    else if (ref.startsWith('refs/tags/') && ref.endsWith('^{}')) peeled.set(ref.slice('refs/tags/'.length, -'^{}'.length), commit);
    else if (ref.startsWith('refs/tags/')) tags.set(ref.slice('refs/tags/'.length), commit);
  }
  // An annotated tag points to a tag object; what gets built is the commit it peels to.
  for (const [name, commit] of peeled) tags.set(name, commit);
  return { branches, tags };
}

/** Parses `git ls-remote --symref <repo> HEAD` output. */
export function parseLsRemoteHead(output: string): GitHead {
  let ref: string | undefined;
  let commit: string | undefined;
  for (const [first, name] of lines(output)) {
    if (name !== 'HEAD') continue;
    if (first.startsWith('ref: ')) ref = first.slice('ref: '.length).trim();
    else if (COMMIT.test(first)) commit = first;
  }
  return { ref, commit };
}

/**
 * Pins an image tag (not `latest`, see {@link pinDefaultBranch}) to a commit: a full commit as
 * is, else a tag, else a branch; `undefined` when the tag names none of them.
 */
export function pinTag(refs: GitRefs, tag: string): PinnedCommit | undefined {
  const lower = tag.toLowerCase();
  if (COMMIT.test(lower)) {
    const tips = [...[...refs.branches].map(([name, commit]) => ({ ref: `refs/heads/${name}`, commit })), ...[...refs.tags].map(([name, commit]) => ({ ref: `refs/tags/${name}`, commit }))]
      .filter((candidate) => candidate.commit === lower)
      .map((candidate) => candidate.ref)
      .sort();
    return { commit: lower, ref: tips[0] };
  }
  const tagged = refs.tags.get(tag);
  if (tagged !== undefined) return { commit: tagged, ref: `refs/tags/${tag}` };
  const branch = refs.branches.get(tag);
  if (branch !== undefined) return { commit: branch, ref: `refs/heads/${tag}` };
  return undefined;
}

/**
 * Pins `latest`: the commit of the branch HEAD points to, read from `refs` (the fresher
 * listing); for a detached HEAD, HEAD's commit. `undefined` when that branch has no commit.
 */
export function pinDefaultBranch(refs: GitRefs, head: GitHead): PinnedCommit | undefined {
  if (head.ref === undefined) return head.commit === undefined ? undefined : { commit: head.commit, ref: undefined };
  if (!head.ref.startsWith('refs/heads/')) return undefined;
  const commit = refs.branches.get(head.ref.slice('refs/heads/'.length));
  return commit === undefined ? undefined : { commit, ref: head.ref };
}

/** The image tags that name something in `refs`: `latest`, then branches and tags that are valid image tags. */
export function imageTags(refs: GitRefs): string[] {
  return [...new Set(['latest', ...refs.branches.keys(), ...refs.tags.keys()])].filter(isValidTag);
}
