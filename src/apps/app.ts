/**
 * Connected repositories ("apps"), pure: what one is, what the API shows of it, and what a push
 * to it builds.
 *
 * A push of a watched branch builds the pushed commit and tags the image `<branch>-<sha7>`, then
 * moves `<branch>`, and `latest` when it is the default branch; a push of a watched tag builds
 * `<tag>`. Branch and tag names become tag-safe: characters outside `[A-Za-z0-9_.-]` become `-`,
 * a leading `.` or `-` is dropped, and the name is cut so that the whole tag fits 128 characters.
 *
 *   branch main (default), commit 1a2b3c4d…  → tag main-1a2b3c4, moves main, latest
 *   branch release/1.2, commit 9f8e7d6c…     → tag release-1.2-9f8e7d6, moves release-1.2
 *   tag v1.2.3                               → tag v1.2.3, moves nothing
 *
 * Watched: `branches` are names or globs (`release/*`); empty means the default branch only.
 * `tags` builds every tag when true.
 *
 * Repositories are matched by host, port (unless the scheme's default) and path, whatever the
 * scheme, user and `.git` suffix:
 * `https://u:t@git.example.com/acme/shop.git`, `git@git.example.com:acme/shop` and
 * `ssh://git@git.example.com/acme/shop` are the same repository.
 */
import type { SourceOverrides } from '../builds/record.js';
import { isWatched, type Push } from '../webhooks/push-events.js';

/** What an app builds and where its images go: the fields the API shows as they are stored. */
export interface AppSettings {
  /** The image built, under the apps prefix. */
  image: string;
  /** The app's directory in the repository (`''`: the top). */
  dir: string;
  /** Branch names or globs whose pushes are built; empty: the default branch only. */
  branches: string[];
  /** Whether pushes of tags are built. */
  tags: boolean;
  /** The default branch when the forge does not say it (`null`: as the forge says). */
  defaultBranch: string | null;
  overrides: SourceOverrides;
  buildTimeout: number | null;
  /** Push targets of every build (`null`: the server's defaults). */
  push: string[] | null;
}

/** A connected repository as stored (secrets included: never sent as is). */
export interface StoredApp extends AppSettings {
  id: string;
  /** The repository URL, with its credentials. */
  repo: string;
  /** The URL as shown (credentials as `***`). */
  repoShown: string;
  /** The callback of every build, with its token. */
  callback: { url: string; token: string } | null;
  /** The secret the forge signs deliveries to this app with. */
  webhookSecret: string;
  createdAt: string;
  updatedAt: string;
}

/** The settings of `app`, without its id, repository, callback and secrets. */
export function settingsOf(app: AppSettings): AppSettings {
  const { image, dir, branches, tags, defaultBranch, overrides, buildTimeout, push } = app;
  return { image, dir, branches, tags, defaultBranch, overrides, buildTimeout, push };
}

/** The latest build of one branch or tag of an app. */
export interface AppRefBuild {
  /** `refs/heads/main`, `refs/tags/v1`. */
  ref: string;
  commit: string;
  build: string;
  /** The tag the build gives the image. */
  tag: string;
  /** When its push arrived (ms since 1970). */
  order: number;
  at: string;
}

/** An app as the API shows it: no credentials, no token, no webhook secret. */
export interface AppView extends AppSettings {
  id: string;
  repo: string;
  callback: { url: string } | null;
  /** Where the forge sends pushes (`POST`, signed with the app's webhook secret). */
  webhookUrl: string;
  createdAt: string;
  updatedAt: string;
  /** The latest build of each branch and tag pushed, newest first. */
  builds: AppRefBuild[];
}

/** What the API shows of `app`, with its latest builds. */
export function appView(app: StoredApp, builds: readonly AppRefBuild[]): AppView {
  return {
    id: app.id,
    repo: app.repoShown,
    ...settingsOf(app),
    callback: app.callback && { url: app.callback.url },
    webhookUrl: `/v1/apps/${app.id}/webhook`,
    createdAt: app.createdAt,
    updatedAt: app.updatedAt,
    builds: [...builds].sort((a, b) => b.order - a.order),
  };
}

/** Longest tag (the distribution spec's). */
const MAX_TAG = 128;

/** `name` made tag-safe, at most `max` characters. */
export function tagSafe(name: string, max = MAX_TAG): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '').slice(0, max).replace(/[.-]+$/, '');
  return safe === '' ? 'ref' : safe;
}

/** What a push to an app builds, or why it builds nothing. */
export type PushPlan = { build: true; tag: string; moves: string[] } | { build: false; reason: string };

/** What `push` builds for `app` (see the module comment). */
export function planPush(app: Pick<StoredApp, 'id' | 'branches' | 'tags' | 'defaultBranch'>, push: Push): PushPlan {
  if (push.kind === 'tag') {
    if (!app.tags) return { build: false, reason: `${push.ref} is a tag and app ${app.id} does not build tags (set "tags": true)` };
    return { build: true, tag: tagSafe(push.name), moves: [] };
  }
  const defaultBranch = app.defaultBranch ?? push.defaultBranch;
  const watched = app.branches.length > 0 ? isWatched(app.branches, push) : push.name === defaultBranch;
  if (!watched) {
    const which = app.branches.length > 0 ? `branches ${app.branches.join(', ')}` : `its default branch ${defaultBranch ?? '(unknown: set "defaultBranch" or "branches")'}`;
    return { build: false, reason: `${push.ref} is not watched by app ${app.id} (${which}): nothing to build` };
  }
  const sha7 = push.commit.slice(0, 7);
  const branch = tagSafe(push.name, MAX_TAG - sha7.length - 1);
  return { build: true, tag: `${branch}-${sha7}`, moves: push.name === defaultBranch ? [branch, 'latest'] : [branch] };
}

/** The storage-safe key of a ref (`refs/heads/release/1.2` → `heads.cmVsZWFzZS8xLjI`). */
export function refKey(push: Pick<Push, 'kind' | 'name'>): string {
  return `${push.kind === 'branch' ? 'heads' : 'tags'}.${Buffer.from(push.name).toString('base64url')}`;
}

/** A repository URL reduced to `host/path` (lowercase host, no user, scheme, port or `.git`), to compare repositories. */
export function repositoryIdentity(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, '').replace(/\.git$/, '');
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(trimmed);
  if (scp && !trimmed.includes('://')) return `${scp[1]?.toLowerCase()}/${scp[2]}`;
  if (!URL.canParse(trimmed)) return trimmed;
  const parsed = new URL(trimmed);
  const port = parsed.port === '' || parsed.port === DEFAULT_PORTS[parsed.protocol] ? '' : `:${parsed.port}`;
  return `${parsed.hostname.toLowerCase()}${port}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** Ports a scheme is reached at unless its URL says otherwise (they do not tell repositories apart). */
const DEFAULT_PORTS: Record<string, string> = { 'https:': '443', 'http:': '80', 'ssh:': '22', 'git:': '9418' };

/** Whether one of `urls` (a delivery's) names the repository `repo` (an app's). */
export function isSameRepository(repo: string, urls: readonly string[]): boolean {
  const identity = repositoryIdentity(repo);
  return urls.some((url) => repositoryIdentity(url) === identity);
}
