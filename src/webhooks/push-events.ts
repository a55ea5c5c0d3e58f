/**
 * What a (verified) webhook delivery asks for: a push of a branch or tag to one commit, a ping,
 * or nothing to build. Pure: text in, a discriminated union out.
 *
 * Inputs: the forge, its event header (`X-GitHub-Event`, `X-Gitlab-Event`, `X-Gitee-Event`) and
 * the body text, in the forges' documented push payload shapes:
 *
 *   GitHub  push        {ref, before, after, created, deleted, head_commit: {id, …}, …}
 *   GitLab  Push Hook, Tag Push Hook
 *                       {object_kind, ref, before, after, checkout_sha, …}
 *   Gitee   Push Hook, Tag Push Hook
 *                       {hook_name, ref, before, after, created, deleted, head_commit, …}
 *
 * Algorithm:
 *
 *   event not a push (issues, Merge Request Hook …)  → ignored   (GitHub ping → ping)
 *   body not JSON, no ref, no commit id              → invalid
 *   ref not refs/heads/* or refs/tags/*              → ignored
 *   after = 000…0 or deleted: true                   → ignored   (a deletion: nothing to build)
 *   otherwise                                        → push {kind, name, commit, repository URLs,
 *                                                              default branch}
 *
 * The commit is the one the ref points to after the push, peeled: an annotated tag's `after`
 * is the tag object, so GitHub's and Gitee's `head_commit.id` and GitLab's `checkout_sha` come
 * first, `after` when they are absent.
 *
 * Watched refs ({@link isWatched}): `*` matches everything; a pattern starting with `refs/`
 * matches the full ref, any other the branch or tag name; `*` inside a pattern matches any run
 * of characters.
 *
 * Example:
 *
 *   github, push, {"ref":"refs/tags/v1","after":"t1…","head_commit":{"id":"c1…"}}
 *     → {kind:'push', push:{ref:'refs/tags/v1', kind:'tag', name:'v1', commit:'c1…'}}
 *   isWatched(['main','v*'], that push) → true
 */

/** The forges whose webhooks are accepted. */
export const FORGES = ['github', 'gitlab', 'gitee'] as const;
/** A forge. */
export type Forge = (typeof FORGES)[number];

/** Whether `name` is one of {@link FORGES}. */
export function isForge(name: string): name is Forge {
  return (FORGES as readonly string[]).includes(name);
}

/** The header naming the event, by forge (lowercase, as node gives headers). */
export const EVENT_HEADER: Record<Forge, string> = { github: 'x-github-event', gitlab: 'x-gitlab-event', gitee: 'x-gitee-event' };

/** Event header values that are pushes of branches or tags, by forge. */
export const PUSH_EVENTS: Record<Forge, readonly string[]> = {
  github: ['push'],
  gitlab: ['Push Hook', 'Tag Push Hook'],
  gitee: ['Push Hook', 'Tag Push Hook'],
};

/** A full commit id (SHA-1, as the git package source pins them). */
const COMMIT = /^[0-9a-f]{40}$/;
/** The `after` of a deleted ref. */
const DELETED = /^0{40}$/;

/** A branch or tag moved to a commit. */
export interface Push {
  /** The full ref, `refs/heads/main` or `refs/tags/v1`. */
  ref: string;
  kind: 'branch' | 'tag';
  /** The branch or tag name (`main`, `v1`). */
  name: string;
  /** The full commit the ref points to after the push (lowercase hex). */
  commit: string;
  /** The repository's URLs the payload names (clone, ssh, web), to match it with a connected app. */
  repository: string[];
  /** The repository's default branch, when the payload says it. */
  defaultBranch: string | undefined;
}

/** What a delivery asks for. */
export type Delivery =
  | { kind: 'push'; push: Push }
  | { kind: 'ping' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The commit a push moved its ref to, per forge (see the module comment), before validation. */
function pushedCommit(forge: Forge, payload: Json): string | undefined {
  const headCommit = isObject(payload['head_commit']) ? text(payload['head_commit']['id']) : undefined;
  const peeled = forge === 'gitlab' ? text(payload['checkout_sha']) : headCommit;
  return (peeled ?? text(payload['after']))?.toLowerCase();
}

/** Fields of the payload's repository (GitHub, Gitee: `repository`; GitLab: `project` and `repository`) that name its URL. */
const REPOSITORY_URL_FIELDS = ['clone_url', 'ssh_url', 'git_url', 'html_url', 'git_http_url', 'git_ssh_url', 'http_url', 'web_url', 'url', 'homepage'];

/** The repository URLs and default branch a push payload names. */
function repositoryOf(payload: Json): { repository: string[]; defaultBranch: string | undefined } {
  const parts = [payload['repository'], payload['project']].filter(isObject);
  const repository = [...new Set(parts.flatMap((part) => REPOSITORY_URL_FIELDS.map((field) => text(part[field])).filter((url): url is string => url !== undefined)))];
  const defaultBranch = parts.map((part) => text(part['default_branch'])).find((branch) => branch !== undefined);
  return { repository, defaultBranch };
}

/** Reads a push payload (the event is known to be a push). */
export function readPush(forge: Forge, payload: unknown): Delivery {
  if (!isObject(payload)) return { kind: 'invalid', reason: 'the push payload is not a JSON object' };
  const ref = text(payload['ref']);
  if (ref === undefined) return { kind: 'invalid', reason: 'the push payload has no "ref"' };
  const after = text(payload['after']);
  if (after === undefined) return { kind: 'invalid', reason: 'the push payload has no "after" commit' };
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  const tag = ref.startsWith('refs/tags/') ? ref.slice('refs/tags/'.length) : undefined;
  const name = branch ?? tag;
  if (name === undefined || name === '') return { kind: 'ignored', reason: `${ref} is not a branch or a tag: nothing to build` };
  if (DELETED.test(after) || payload['deleted'] === true) return { kind: 'ignored', reason: `${ref} was deleted: nothing to build` };
  const commit = pushedCommit(forge, payload);
  if (commit === undefined || !COMMIT.test(commit)) return { kind: 'invalid', reason: `the push of ${ref} names no full commit id (40 hex digits)` };
  return { kind: 'push', push: { ref, kind: branch !== undefined ? 'branch' : 'tag', name, commit, ...repositoryOf(payload) } };
}

/** Reads a delivery from its event header and body text. */
export function readDelivery(forge: Forge, event: string | undefined, body: string): Delivery {
  if (forge === 'github' && event === 'ping') return { kind: 'ping' };
  if (event === undefined || event === '') return { kind: 'ignored', reason: `no ${EVENT_HEADER[forge]} header: not a push, nothing to build` };
  if (!PUSH_EVENTS[forge].includes(event)) return { kind: 'ignored', reason: `event ${JSON.stringify(event)} is not a push: nothing to build` };
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return { kind: 'invalid', reason: 'the body is not JSON: set the webhook content type to application/json' };
  }
  return readPush(forge, payload);
}

function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(value);
}

/** Whether `push` moves a watched ref (`patterns` from `NIXYARD_WEBHOOK_REFS`, or an app's branches). */
export function isWatched(patterns: readonly string[], push: Pick<Push, 'ref' | 'name'>): boolean {
  return patterns.some((pattern) => globMatches(pattern, pattern.startsWith('refs/') ? push.ref : push.name));
}

/** The forge whose event header a delivery carries, if any (for endpoints that take every forge). */
export function forgeOf(header: (name: string) => string | undefined): Forge | undefined {
  return FORGES.find((forge) => (header(EVENT_HEADER[forge]) ?? '') !== '');
}
