import { describe, expect, it } from 'vitest';
import type { Push } from '../webhooks/push-events.js';
import { appView, isSameRepository, planPush, refKey, repositoryIdentity, tagSafe, type StoredApp } from './app.js';

const COMMIT = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const branch = (name: string, defaultBranch: string | undefined = 'main'): Push => ({ ref: `refs/heads/${name}`, kind: 'branch', name, commit: COMMIT, repository: [], defaultBranch });
const tag = (name: string): Push => ({ ref: `refs/tags/${name}`, kind: 'tag', name, commit: COMMIT, repository: [], defaultBranch: 'main' });
const app = (fields: Partial<StoredApp> = {}) => ({ id: 'app-0123456789', branches: [], tags: false, defaultBranch: null, ...fields });

describe('planPush', () => {
  it('tags a default-branch push <branch>-<sha7> and moves the branch and latest', () => {
    expect(planPush(app(), branch('main'))).toEqual({ build: true, tag: 'main-1a2b3c4', moves: ['main', 'latest'] });
  });

  it('makes branch names tag-safe and moves only the branch for another branch', () => {
    expect(planPush(app({ branches: ['main', 'release/*'] }), branch('release/1.2'))).toEqual({ build: true, tag: 'release-1.2-1a2b3c4', moves: ['release-1.2'] });
  });

  it('builds watched tags under their own name, moving nothing', () => {
    expect(planPush(app({ tags: true }), tag('v1.2.3'))).toEqual({ build: true, tag: 'v1.2.3', moves: [] });
    expect(planPush(app(), tag('v1.2.3'))).toEqual({ build: false, reason: 'refs/tags/v1.2.3 is a tag and app app-0123456789 does not build tags (set "tags": true)' });
  });

  it('ignores unwatched branches, saying which are watched', () => {
    expect(planPush(app(), branch('feature/x'))).toEqual({ build: false, reason: 'refs/heads/feature/x is not watched by app app-0123456789 (its default branch main): nothing to build' });
    expect(planPush(app({ branches: ['main', 'release/*'] }), branch('feature/x'))).toMatchObject({ build: false, reason: expect.stringContaining('(branches main, release/*)') });
    expect(planPush(app(), { ...branch('main'), defaultBranch: undefined })).toMatchObject({ build: false, reason: expect.stringContaining('unknown: set "defaultBranch" or "branches"') });
  });

  it('takes the app’s default branch over the forge’s', () => {
    expect(planPush(app({ defaultBranch: 'trunk' }), branch('trunk', 'main'))).toEqual({ build: true, tag: 'trunk-1a2b3c4', moves: ['trunk', 'latest'] });
    expect(planPush(app({ defaultBranch: 'trunk', branches: ['main'] }), branch('main'))).toEqual({ build: true, tag: 'main-1a2b3c4', moves: ['main'] });
  });
});

describe('tagSafe', () => {
  it('replaces what tags cannot hold and keeps within the length', () => {
    expect(tagSafe('feature/ünïcode branch')).toBe('feature--n-code-branch');
    expect(tagSafe('.hidden')).toBe('hidden');
    expect(tagSafe('-x-')).toBe('x');
    expect(tagSafe('///')).toBe('ref');
    expect(tagSafe('a'.repeat(200), 120)).toHaveLength(120);
    expect(planPush(app({ branches: ['*'] }), branch('b'.repeat(300))).build && (planPush(app({ branches: ['*'] }), branch('b'.repeat(300))) as { tag: string }).tag.length).toBe(128);
  });
});

describe('repositoryIdentity, isSameRepository', () => {
  it('sees one repository behind its https, ssh and scp-style URLs', () => {
    const identity = 'git.example.com/acme/shop';
    for (const url of ['https://user:token@git.example.com/acme/shop.git', 'https://Git.Example.com/acme/shop', 'ssh://git@git.example.com/acme/shop.git', 'git@git.example.com:acme/shop.git', 'git://git.example.com/acme/shop/']) {
      expect(repositoryIdentity(url), url).toBe(identity);
    }
    expect(isSameRepository('https://t@git.example.com/acme/shop.git', ['git@git.example.com:acme/shop.git'])).toBe(true);
    expect(isSameRepository('https://git.example.com/acme/shop.git', ['https://git.example.com/acme/other.git', 'https://git.example.com/acme/shop-2'])).toBe(false);
    expect(isSameRepository('git://127.0.0.1:9001/app.git', ['git://127.0.0.1:9002/app.git'])).toBe(false);
    expect(isSameRepository('ssh://git@git.example.com:22/acme/shop.git', ['https://git.example.com:443/acme/shop'])).toBe(true);
  });
});

describe('refKey', () => {
  it('is storage-safe and tells branches from tags', () => {
    expect(refKey(branch('release/1.2'))).toMatch(/^heads\.[A-Za-z0-9_-]+$/);
    expect(refKey(branch('v1'))).not.toBe(refKey(tag('v1')));
    expect(refKey(branch('release/1.2'))).not.toBe(refKey(branch('release-1.2')));
  });
});

describe('appView', () => {
  it('shows no credentials, token or webhook secret', () => {
    const stored: StoredApp = {
      id: 'app-0123456789',
      repo: 'https://bot:s3cr3t-token@git.example.com/acme/shop.git',
      repoShown: 'https://***@git.example.com/acme/shop.git',
      image: 'apps/acme/web',
      dir: 'web',
      branches: [],
      tags: false,
      defaultBranch: null,
      overrides: {},
      buildTimeout: null,
      push: ['ghcr.io/acme/web'],
      callback: { url: 'https://deploy.example/cb', token: 'callback-token-0123456789' },
      webhookSecret: 'webhook-secret-0123456789',
      createdAt: '2026-12-04T10:00:00.000Z',
      updatedAt: '2026-12-04T10:00:00.000Z',
    };
    const view = appView(stored, [
      { ref: 'refs/heads/main', commit: COMMIT, build: 'b1', tag: 'main-1a2b3c4', order: 1, at: '2026-12-04T10:00:00.000Z' },
      { ref: 'refs/heads/dev', commit: COMMIT, build: 'b2', tag: 'dev-1a2b3c4', order: 2, at: '2026-12-04T10:00:01.000Z' },
    ]);
    const text = JSON.stringify(view);
    for (const secret of ['s3cr3t-token', 'callback-token-0123456789', 'webhook-secret-0123456789']) expect(text).not.toContain(secret);
    expect(view).toMatchObject({ repo: 'https://***@git.example.com/acme/shop.git', callback: { url: 'https://deploy.example/cb' }, webhookUrl: '/v1/apps/app-0123456789/webhook' });
    expect(view.builds.map((ref) => ref.build)).toEqual(['b2', 'b1']);
  });
});
