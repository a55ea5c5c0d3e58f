/**
 * The source repository of an app: its URL checked (and its credentials hidden), a ref pinned
 * to a commit, and exactly that commit fetched into a work directory.
 *
 * URLs: `https://`, `http://`, `ssh://`, `git://` and scp-style `user@host:path`; `file://` and
 * local paths only when the operator allows them (they would let an API caller build images from
 * the server's own disk). Credentials in a URL (`https://user:token@host/…`) are used by git but
 * shown as `https://***@host/…`; git's own messages are scrubbed of them. Git runs with the
 * server user's credential helper and SSH keys, and never waits for a password.
 *
 * Fetching: a ref's tip is fetched shallow by its ref (every server allows that); a commit that
 * is no ref's tip shallow by its id, and when the server refuses unadvertised objects, with the
 * whole history. `.git` is removed after the checkout: it is never part of an image.
 */
import { stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { RegistryError } from '../../errors.js';
import { parseLsRemoteHead, parseLsRemoteRefs, pinDefaultBranch, pinTag, type PinnedCommit } from '../../pkgsource/git-refs.js';
import { Secret } from '../../secret.js';

/** Longest one git command may take. */
export const GIT_TIMEOUT_MS = 5 * 60_000;

const REMOTE = /^(https?|ssh|git):\/\/[^/]/;
const SCP_STYLE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/\\]/;
const LOCAL = /^(file:\/\/\/|\/)/;

/** A repository URL as git gets it and as people see it. */
export type RepositoryUrl = Secret;

/** Checks a repository URL; `allowLocal` admits `file://` URLs and absolute paths. Throws `PARAMETER_INVALID`. */
export function parseRepositoryUrl(raw: string, allowLocal: boolean): RepositoryUrl {
  const url = raw.trim();
  if (LOCAL.test(url)) {
    if (!allowLocal) {
      throw new RegistryError('PARAMETER_INVALID', `source.repo ${JSON.stringify(url)} is a path on the registry's own disk: only https://, ssh://, git:// and user@host:path repositories are built (the operator can allow local ones with NIXYARD_SOURCE_ALLOW_LOCAL=1)`, { detail: { repo: url } });
    }
    return new Secret(url, url);
  }
  if (SCP_STYLE.test(url)) return new Secret(url, url);
  if (!REMOTE.test(url) || !URL.canParse(url)) {
    throw new RegistryError('PARAMETER_INVALID', `source.repo ${JSON.stringify(redact(url))} is not a repository URL: expected https://host/path.git, ssh://, git:// or user@host:path`, { detail: { repo: redact(url) } });
  }
  return new Secret(url, redact(url));
}

/**
 * The URL with its credentials replaced by `***`: a password, and over http(s) a user name too
 * (tokens are often given as one). An ssh user name (`git@`) is no secret and stays.
 */
function redact(url: string): string {
  if (!URL.canParse(url)) return url.replace(/\/\/[^/@]*@/, '//***@');
  const parsed = new URL(url);
  const secret = parsed.password !== '' || (parsed.username !== '' && /^https?:$/.test(parsed.protocol));
  return secret ? url.replace(/^([a-z]+:\/\/)[^/@]*@/i, '$1***@') : url;
}

/** The credential parts of a URL (user name, password, both decoded too), to scrub from git's messages. */
function credentialParts(repo: RepositoryUrl): string[] {
  const raw = repo.reveal();
  if (!URL.canParse(raw)) return [];
  const { username, password } = new URL(raw);
  return [username, password, decodeURIComponent(username), decodeURIComponent(password)].filter((part) => part !== '');
}

/** A ref of the request pinned to a commit. */
export interface PinnedRef extends PinnedCommit {
  /** The ref as the request named it (`main`, `v1.2.0`, a commit; the default branch when none). */
  name: string;
}

/** Runs git; failures become errors naming the repository without its credentials. */
async function git(repo: RepositoryUrl, args: readonly string[], options: { cwd?: string; signal?: AbortSignal } = {}): Promise<string> {
  const result = await (await import('execa')).execa('git', args, {
    cwd: options.cwd,
    reject: false,
    timeout: GIT_TIMEOUT_MS,
    cancelSignal: options.signal,
    stdin: 'ignore',
    env: { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true' },
  });
  if (result.isCanceled) throw options.signal?.reason ?? new Error('cancelled');
  if (result.exitCode !== 0) {
    const reason = result.timedOut ? `no answer within ${GIT_TIMEOUT_MS / 1000} s` : lastLines(result.stderr) || (result.message ?? `git ${args[0] ?? ""} failed`);
    throw new GitError(repo.scrub(reason, credentialParts(repo)));
  }
  return result.stdout;
}

/** A git command that failed, its message scrubbed of credentials. */
export class GitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitError';
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ').trim();
}

/** Pins `ref` (a branch, a tag or a full commit; the default branch when absent) to a commit. */
export async function pinRef(repo: RepositoryUrl, ref: string | undefined, signal?: AbortSignal): Promise<PinnedRef> {
  let listing: string;
  try {
    listing = await git(repo, ['ls-remote', '--symref', '--', repo.reveal()], { signal });
  } catch (error) {
    if (error instanceof GitError) throw new RegistryError('REPOSITORY_UNAVAILABLE', `could not read the repository ${repo}: ${error.message}`, { detail: { repo: repo.redacted } });
    throw error;
  }
  const refs = parseLsRemoteRefs(listing);
  const pinned = ref === undefined ? pinDefaultBranch(refs, parseLsRemoteHead(listing)) : pinTag(refs, ref);
  if (!pinned) {
    const what = ref === undefined ? 'its default branch (HEAD) has no commit' : `${JSON.stringify(ref)} is not one of its branches or tags, nor a full commit`;
    throw new RegistryError('REF_UNKNOWN', `cannot build ${repo}: ${what}`, { detail: { repo: repo.redacted, ref: ref ?? null } });
  }
  return { ...pinned, name: ref ?? (pinned.ref?.replace(/^refs\/heads\//, '') ?? 'HEAD') };
}

/**
 * Fetches exactly `pinned.commit` into `dir` (an empty directory) and checks it out, without
 * `.git`; returns the commit's time (ISO 8601). Throws `REPOSITORY_UNAVAILABLE` or `REF_UNKNOWN`.
 */
export async function fetchCommit(repo: RepositoryUrl, pinned: PinnedCommit, dir: string, signal?: AbortSignal): Promise<{ committedAt: string }> {
  const run = (args: readonly string[]) => git(repo, args, { cwd: dir, signal });
  try {
    await run(['init', '--quiet']);
    await run(['config', 'advice.detachedHead', 'false']);
    const shallow = pinned.ref ?? pinned.commit;
    const fetched = await run(['fetch', '--quiet', '--depth', '1', '--no-tags', '--', repo.reveal(), shallow]).then(
      () => true,
      () => false,
    );
    if (!fetched || (await run(['rev-parse', 'FETCH_HEAD'])).trim() !== pinned.commit) {
      // The server does not give out unadvertised commits (or the ref has moved): all of it.
      await run(['fetch', '--quiet', '--no-tags', '--', repo.reveal(), '+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*']);
    }
    const exists = await run(['cat-file', '-e', `${pinned.commit}^{commit}`]).then(
      () => true,
      () => false,
    );
    if (!exists) throw new RegistryError('REF_UNKNOWN', `the repository ${repo} has no commit ${pinned.commit}`, { detail: { repo: repo.redacted, commit: pinned.commit } });
    await run(['checkout', '--quiet', '--detach', pinned.commit]);
    const seconds = Number((await run(['show', '-s', '--format=%ct', pinned.commit])).trim());
    await (await import('execa')).execa('rm', ['-rf', join(dir, '.git')]);
    return { committedAt: new Date(seconds * 1000).toISOString() };
  } catch (error) {
    if (error instanceof GitError) throw new RegistryError('REPOSITORY_UNAVAILABLE', `could not fetch ${pinned.commit} from ${repo}: ${error.message}`, { detail: { repo: repo.redacted, commit: pinned.commit } });
    throw error;
  }
}

/**
 * Checks the app's directory inside the repository: a relative path without `..`, naming a
 * directory. Returns it normalised (`''` for the top). Throws `PARAMETER_INVALID` for a bad path.
 */
export function checkAppDir(dir: string | undefined): string {
  if (dir === undefined || dir === '' || dir === '.' || dir === '/') return '';
  const cleaned = normalize(dir.replace(/^\/+|\/+$/g, ''));
  if (cleaned.startsWith('..') || cleaned.split('/').includes('..') || cleaned.startsWith('/') || !/^[A-Za-z0-9._\-/@+]+$/.test(cleaned)) {
    throw new RegistryError('PARAMETER_INVALID', `source.dir ${JSON.stringify(dir)} is not a directory inside the repository: expected a relative path such as services/web`, { detail: { dir } });
  }
  return cleaned;
}

/** Fails with `SOURCE_DIR_UNKNOWN` unless `dir` is a directory of the checkout. */
export async function requireAppDir(checkout: string, dir: string, repo: RepositoryUrl, commit: string): Promise<void> {
  const found = await stat(join(checkout, dir)).catch(() => undefined);
  if (!found?.isDirectory()) {
    throw new RegistryError('SOURCE_DIR_UNKNOWN', `the repository ${repo} has no directory ${JSON.stringify(dir)} at ${commit}: give the app's directory relative to the repository's top`, { detail: { dir, commit } });
  }
}

