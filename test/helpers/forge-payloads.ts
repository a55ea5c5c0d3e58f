/**
 * TEST HELPER: push deliveries as GitHub, GitLab and Gitee send them (their documented payload
 * shapes, abridged), signed the way each forge signs with a shared secret.
 */
import { randomUUID } from 'node:crypto';
import { giteeSignature, githubSignature } from '../../src/webhooks/signatures.js';
import type { Forge } from '../../src/webhooks/push-events.js';

/** The `before`/`after` of a created or deleted ref. */
export const ZERO = '0000000000000000000000000000000000000000';

/** A ref update as a forge reports it: `after` is what the ref now holds (a tag object for an annotated tag), `commit` what it peels to. */
export interface RefUpdate {
  ref: string;
  before: string;
  after: string;
  commit: string | null;
  /** The repository's clone URL the payload names (default: an example repository). */
  repository?: string;
}

/** A delivery: the exact body bytes and the headers a forge sends with them. */
export interface Delivery {
  body: string;
  headers: Record<string, string>;
}

const commitOf = (id: string | null, message: string) =>
  id === null ? null : { id, message, timestamp: '2024-05-01T12:00:00+00:00', url: `https://forge.example/acme/pkgs/commit/${id}`, author: { name: 'nixyard tests', email: 'tests@nixyard.invalid' } };

/** GitHub's `push` payload (docs: webhook events and payloads, "push"). */
function githubPush(update: RefUpdate): Record<string, unknown> {
  const deleted = update.after === ZERO;
  return {
    ref: update.ref,
    before: update.before,
    after: update.after,
    repository: { id: 186853002, name: 'pkgs', full_name: 'acme/pkgs', private: false, default_branch: 'main', clone_url: update.repository ?? 'https://github.com/acme/pkgs.git' },
    pusher: { name: 'acme', email: 'tests@nixyard.invalid' },
    sender: { login: 'acme', id: 21031067, type: 'User' },
    created: update.before === ZERO,
    deleted,
    forced: false,
    base_ref: null,
    compare: `https://github.com/acme/pkgs/compare/${update.before.slice(0, 12)}...${update.after.slice(0, 12)}`,
    commits: update.commit && update.ref.startsWith('refs/heads/') ? [{ ...commitOf(update.commit, 'a change'), distinct: true, added: [], removed: [], modified: ['default.nix'] }] : [],
    head_commit: commitOf(deleted ? null : update.commit, 'a change'),
  };
}

/** GitLab's push and tag push payloads (docs: webhook events, "Push events", "Tag events"). */
function gitlabPush(update: RefUpdate): Record<string, unknown> {
  const kind = update.ref.startsWith('refs/tags/') ? 'tag_push' : 'push';
  return {
    object_kind: kind,
    event_name: kind,
    before: update.before,
    after: update.after,
    ref: update.ref,
    ref_protected: false,
    checkout_sha: update.after === ZERO ? null : update.commit,
    message: null,
    user_id: 4,
    user_name: 'John Smith',
    user_username: 'jsmith',
    user_email: 'john@example.com',
    user_avatar: null,
    project_id: 15,
    project: { id: 15, name: 'pkgs', web_url: 'http://example.com/acme/pkgs', git_http_url: update.repository ?? 'http://example.com/acme/pkgs.git', path_with_namespace: 'acme/pkgs', default_branch: 'main' },
    commits: kind === 'push' && update.commit ? [{ ...commitOf(update.commit, 'a change'), title: 'a change', added: [], modified: ['default.nix'], removed: [] }] : [],
    total_commits_count: kind === 'push' && update.commit ? 1 : 0,
    push_options: {},
    repository: { name: 'pkgs', url: 'git@example.com:acme/pkgs.git', homepage: 'http://example.com/acme/pkgs', git_http_url: update.repository ?? 'http://example.com/acme/pkgs.git', visibility_level: 0 },
  };
}

/** Gitee's Push / Tag Push payload (help: "WebHook 推送数据格式说明"). */
function giteePush(update: RefUpdate, auth: { password: string; timestamp: string; sign: string }): Record<string, unknown> {
  const deleted = update.after === ZERO;
  return {
    hook_name: update.ref.startsWith('refs/tags/') ? 'tag_push_hooks' : 'push_hooks',
    password: auth.password,
    hook_id: 1,
    hook_url: 'https://gitee.com/acme/pkgs/hooks/1/edit',
    timestamp: auth.timestamp,
    sign: auth.sign,
    ref: update.ref,
    before: update.before,
    after: update.after,
    created: update.before === ZERO,
    deleted,
    compare: `https://gitee.com/acme/pkgs/compare/${update.before}...${update.after}`,
    commits: update.commit && !deleted ? [{ ...commitOf(update.commit, 'a change'), tree_id: 'db78f3594ec0683f5d857ef731df0d860f14f2b2', distinct: true }] : [],
    head_commit: commitOf(deleted ? null : update.commit, 'a change'),
    total_commits_count: update.commit && !deleted ? 1 : 0,
    commits_more_than_ten: false,
    repository: { id: 120249025, name: 'pkgs', path: 'pkgs', full_name: 'acme/pkgs', default_branch: 'main', ...(update.repository ? { clone_url: update.repository } : {}) },
    project: { id: 120249025, name: 'pkgs', path: 'pkgs', full_name: 'acme/pkgs', default_branch: 'main' },
    user_id: 13,
    user_name: 'robot',
    pusher: { id: 13, name: 'robot', email: 'robot@gitee.com', username: 'robot' },
    enterprise: null,
  };
}

/** The push event name of each forge's header, for a branch or a tag. */
const pushEvent = (forge: Forge, ref: string) => (forge === 'github' ? 'push' : ref.startsWith('refs/tags/') ? 'Tag Push Hook' : 'Push Hook');

/** A delivery of `update` as `forge` signs it with `secret` (Gitee: signature mode unless `giteePassword`). */
export function signedPush(forge: Forge, update: RefUpdate, options: { secret: string; event?: string; giteePassword?: boolean; timestamp?: number }): Delivery {
  const secret = options.secret;
  const event = options.event ?? pushEvent(forge, update.ref);
  if (forge === 'github') {
    const body = JSON.stringify(githubPush(update));
    return { body, headers: { 'X-GitHub-Event': event, 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': githubSignature(secret, body), 'User-Agent': 'GitHub-Hookshot/044aadd' } };
  }
  if (forge === 'gitlab') {
    const body = JSON.stringify(gitlabPush(update));
    return { body, headers: { 'X-Gitlab-Event': event, 'X-Gitlab-Token': secret, 'X-Gitlab-Instance': 'https://gitlab.example', 'User-Agent': 'GitLab/17.0.0' } };
  }
  const timestamp = String(options.timestamp ?? Date.now());
  const token = options.giteePassword ? secret : encodeURIComponent(giteeSignature(secret, timestamp));
  const body = JSON.stringify(giteePush(update, options.giteePassword ? { password: secret, timestamp, sign: '' } : { password: '', timestamp, sign: giteeSignature(secret, timestamp) }));
  return { body, headers: { 'X-Gitee-Event': event, 'X-Gitee-Token': token, 'X-Gitee-Timestamp': timestamp, 'User-Agent': 'git-oschina-hook' } };
}

