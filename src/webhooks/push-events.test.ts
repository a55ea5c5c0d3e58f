import { describe, expect, it } from 'vitest';
import { forgeOf, isForge, isWatched, readDelivery, readPush, type Push } from './push-events.js';

const ZERO = '0000000000000000000000000000000000000000';

// Abridged from the forges' documented example payloads (fields the reader does not use cut).
const githubBranchPush = {
  ref: 'refs/heads/main',
  before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
  after: 'a'.repeat(40),
  created: false,
  deleted: false,
  forced: false,
  base_ref: null,
  compare: 'https://github.com/Codertocat/Hello-World/compare/6113728f27ae...aaaaaaaaaaaa',
  commits: [{ id: 'a'.repeat(40), message: 'Update README.md', distinct: true }],
  head_commit: { id: 'a'.repeat(40), tree_id: 'f9d2a07e9488b91af2641b26b9407fe22a451433', message: 'Update README.md' },
  repository: {
    full_name: 'Codertocat/Hello-World',
    html_url: 'https://github.com/Codertocat/Hello-World',
    git_url: 'git://github.com/Codertocat/Hello-World.git',
    ssh_url: 'git@github.com:Codertocat/Hello-World.git',
    clone_url: 'https://github.com/Codertocat/Hello-World.git',
    default_branch: 'main',
  },
  pusher: { name: 'Codertocat', email: 'codertocat@example.com' },
};
// An annotated tag: `after` is the tag object, `head_commit` the commit it points to.
const githubTagPush = {
  ref: 'refs/tags/simple-tag',
  before: ZERO,
  after: 'b'.repeat(40),
  created: true,
  deleted: false,
  forced: false,
  base_ref: 'refs/heads/main',
  commits: [],
  head_commit: { id: 'c'.repeat(40), message: 'Update README.md' },
};
const githubBranchDeletion = { ref: 'refs/heads/simple-branch', before: 'a'.repeat(40), after: ZERO, created: false, deleted: true, forced: false, commits: [], head_commit: null };

// GitLab's "Push events" and "Tag events" examples.
const gitlabPush = {
  object_kind: 'push',
  event_name: 'push',
  before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
  after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
  ref: 'refs/heads/master',
  checkout_sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
  user_name: 'John Smith',
  project_id: 15,
  project: {
    id: 15,
    web_url: 'http://example.com/mike/diaspora',
    git_ssh_url: 'git@example.com:mike/diaspora.git',
    git_http_url: 'http://example.com/mike/diaspora.git',
    default_branch: 'master',
  },
  repository: { name: 'Diaspora', url: 'git@example.com:mike/diaspora.git', homepage: 'http://example.com/mike/diaspora', git_http_url: 'http://example.com/mike/diaspora.git', git_ssh_url: 'git@example.com:mike/diaspora.git' },
  commits: [{ id: 'b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327' }, { id: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' }],
  total_commits_count: 4,
};
const gitlabTagPush = {
  object_kind: 'tag_push',
  event_name: 'tag_push',
  before: ZERO,
  after: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7',
  ref: 'refs/tags/v1.0.0',
  checkout_sha: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7',
  commits: [],
  total_commits_count: 0,
};
const gitlabTagDeletion = { ...gitlabTagPush, before: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7', after: ZERO, checkout_sha: null };

// Gitee's "Push / Tag Push" example.
const giteePush = {
  hook_name: 'push_hooks',
  password: 'pwd',
  hook_id: 1,
  timestamp: '1576754827988',
  sign: 'rLEHLuZRIQHuTPeXMib9Czoq9dVXO4TsQcmQQHtjXHA=',
  ref: 'refs/heads/change_commitlint_config',
  before: ZERO,
  after: '1cdcd819599cbb4099289dbbec762452f006cb40',
  created: true,
  deleted: false,
  commits: [{ id: '1cdcd819599cbb4099289dbbec762452f006cb40', tree_id: 'db78f3594ec0683f5d857ef731df0d860f14f2b2', message: 'Update README.md' }],
  head_commit: { id: '1cdcd819599cbb4099289dbbec762452f006cb40', message: 'Update README.md' },
  repository: { full_name: 'gitee/git-hooks', html_url: 'https://gitee.com/gitee/git-hooks', ssh_url: 'git@gitee.com:gitee/git-hooks.git', clone_url: 'https://gitee.com/gitee/git-hooks.git', default_branch: 'master' },
};

const json = (value: unknown) => JSON.stringify(value);

describe('readDelivery', () => {
  it('reads GitHub pushes of branches and (annotated) tags at the commit they point to', () => {
    const repository = ['https://github.com/Codertocat/Hello-World.git', 'git@github.com:Codertocat/Hello-World.git', 'git://github.com/Codertocat/Hello-World.git', 'https://github.com/Codertocat/Hello-World'];
    expect(readDelivery('github', 'push', json(githubBranchPush))).toEqual({ kind: 'push', push: { ref: 'refs/heads/main', kind: 'branch', name: 'main', commit: 'a'.repeat(40), repository, defaultBranch: 'main' } });
    expect(readDelivery('github', 'push', json(githubTagPush))).toEqual({ kind: 'push', push: { ref: 'refs/tags/simple-tag', kind: 'tag', name: 'simple-tag', commit: 'c'.repeat(40), repository: [], defaultBranch: undefined } });
    expect(readDelivery('github', 'push', json({ ...githubBranchPush, head_commit: null }))).toMatchObject({ push: { commit: 'a'.repeat(40) } });
  });

  it('reads GitLab Push Hook and Tag Push Hook at checkout_sha', () => {
    const repository = ['http://example.com/mike/diaspora.git', 'git@example.com:mike/diaspora.git', 'http://example.com/mike/diaspora'];
    expect(readDelivery('gitlab', 'Push Hook', json(gitlabPush))).toEqual({
      kind: 'push',
      push: { ref: 'refs/heads/master', kind: 'branch', name: 'master', commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', repository, defaultBranch: 'master' },
    });
    expect(readDelivery('gitlab', 'Tag Push Hook', json(gitlabTagPush))).toEqual({ kind: 'push', push: { ref: 'refs/tags/v1.0.0', kind: 'tag', name: 'v1.0.0', commit: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7', repository: [], defaultBranch: undefined } });
    expect(readDelivery('gitlab', 'Tag Push Hook', json({ ...gitlabTagPush, after: 'd'.repeat(40) }))).toMatchObject({ push: { commit: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7' } });
  });

  it('reads Gitee Push Hook and Tag Push Hook', () => {
    expect(readDelivery('gitee', 'Push Hook', json(giteePush))).toEqual({
      kind: 'push',
      push: {
        ref: 'refs/heads/change_commitlint_config',
        kind: 'branch',
        name: 'change_commitlint_config',
        commit: '1cdcd819599cbb4099289dbbec762452f006cb40',
        repository: ['https://gitee.com/gitee/git-hooks.git', 'git@gitee.com:gitee/git-hooks.git', 'https://gitee.com/gitee/git-hooks'],
        defaultBranch: 'master',
      },
    });
    const tag = { ...giteePush, hook_name: 'tag_push_hooks', ref: 'refs/tags/v1', head_commit: undefined };
    expect(readDelivery('gitee', 'Tag Push Hook', json(tag))).toMatchObject({ kind: 'push', push: { kind: 'tag', name: 'v1', commit: '1cdcd819599cbb4099289dbbec762452f006cb40' } });
  });

  it('answers a GitHub ping', () => {
    expect(readDelivery('github', 'ping', json({ zen: 'Keep it logically awesome.', hook_id: 1 }))).toEqual({ kind: 'ping' });
  });

  it('ignores other events, whatever the body', () => {
    expect(readDelivery('github', 'issues', 'not json')).toEqual({ kind: 'ignored', reason: 'event "issues" is not a push: nothing to build' });
    expect(readDelivery('gitlab', 'Merge Request Hook', json(gitlabPush))).toMatchObject({ kind: 'ignored' });
    expect(readDelivery('gitlab', 'push', json(gitlabPush))).toMatchObject({ kind: 'ignored' });
    expect(readDelivery('gitee', 'Note Hook', '{}')).toMatchObject({ kind: 'ignored' });
    expect(readDelivery('gitee', 'ping', '{}')).toMatchObject({ kind: 'ignored' });
    expect(readDelivery('gitlab', undefined, json(gitlabPush))).toEqual({ kind: 'ignored', reason: 'no x-gitlab-event header: not a push, nothing to build' });
  });

  it('ignores deletions and refs that are neither branches nor tags', () => {
    expect(readDelivery('github', 'push', json(githubBranchDeletion))).toEqual({ kind: 'ignored', reason: 'refs/heads/simple-branch was deleted: nothing to build' });
    expect(readDelivery('gitlab', 'Tag Push Hook', json(gitlabTagDeletion))).toEqual({ kind: 'ignored', reason: 'refs/tags/v1.0.0 was deleted: nothing to build' });
    expect(readDelivery('gitee', 'Push Hook', json({ ...giteePush, deleted: true }))).toMatchObject({ kind: 'ignored' });
    expect(readDelivery('github', 'push', json({ ...githubBranchPush, ref: 'refs/pull/1/head' }))).toEqual({ kind: 'ignored', reason: 'refs/pull/1/head is not a branch or a tag: nothing to build' });
  });

  it('calls a push without JSON, ref or full commit invalid', () => {
    expect(readDelivery('github', 'push', 'payload=%7B%7D')).toEqual({ kind: 'invalid', reason: 'the body is not JSON: set the webhook content type to application/json' });
    expect(readDelivery('github', 'push', '[]')).toEqual({ kind: 'invalid', reason: 'the push payload is not a JSON object' });
    expect(readDelivery('github', 'push', json({ after: 'a'.repeat(40) }))).toEqual({ kind: 'invalid', reason: 'the push payload has no "ref"' });
    expect(readDelivery('gitlab', 'Push Hook', json({ ref: 'refs/heads/main' }))).toEqual({ kind: 'invalid', reason: 'the push payload has no "after" commit' });
    expect(readDelivery('gitlab', 'Push Hook', json({ ...gitlabPush, checkout_sha: 'da15608' }))).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('no full commit id') });
    expect(readPush('github', null)).toMatchObject({ kind: 'invalid' });
  });

  it('takes upper-case hex as the same commit', () => {
    expect(readDelivery('github', 'push', json({ ...githubBranchPush, head_commit: { id: 'A'.repeat(40) } }))).toMatchObject({ push: { commit: 'a'.repeat(40) } });
  });
});

describe('isWatched', () => {
  const branch = (name: string): Push => ({ ref: `refs/heads/${name}`, kind: 'branch', name, commit: 'a'.repeat(40), repository: [], defaultBranch: undefined });
  const tag = (name: string): Push => ({ ref: `refs/tags/${name}`, kind: 'tag', name, commit: 'a'.repeat(40), repository: [], defaultBranch: undefined });

  it('matches everything with *', () => {
    expect(isWatched(['*'], branch('feature/x'))).toBe(true);
    expect(isWatched(['*'], tag('v1'))).toBe(true);
  });

  it('matches names of branches or tags, globs and full refs', () => {
    // The module comment's example.
    expect(isWatched(['main', 'v*'], tag('v1'))).toBe(true);
    expect(isWatched(['main', 'v*'], branch('main'))).toBe(true);
    expect(isWatched(['main', 'v*'], branch('mainline'))).toBe(false);
    expect(isWatched(['main', 'v*'], branch('side'))).toBe(false);
    expect(isWatched(['refs/tags/*'], tag('v1'))).toBe(true);
    expect(isWatched(['refs/tags/*'], branch('v1'))).toBe(false);
    expect(isWatched(['release-*'], branch('release-1.0'))).toBe(true);
    expect(isWatched(['v1.0'], tag('v1x0'))).toBe(false);
    expect(isWatched([], branch('main'))).toBe(false);
  });
});

describe('isForge, forgeOf', () => {
  it('knows the three forges', () => {
    expect(['github', 'gitlab', 'gitee', 'bitbucket'].filter(isForge)).toEqual(['github', 'gitlab', 'gitee']);
  });

  it('tells the forge from the event header a delivery carries', () => {
    const headers = (given: Record<string, string>) => (name: string) => given[name];
    expect(forgeOf(headers({ 'x-github-event': 'push' }))).toBe('github');
    expect(forgeOf(headers({ 'x-gitlab-event': 'Push Hook' }))).toBe('gitlab');
    expect(forgeOf(headers({ 'x-gitee-event': 'Tag Push Hook' }))).toBe('gitee');
    expect(forgeOf(headers({ 'x-github-event': '' }))).toBeUndefined();
  });
});
