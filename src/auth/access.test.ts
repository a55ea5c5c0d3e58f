import { describe, expect, it } from 'vitest';
import { RegistryError } from '../errors.js';
import { decide, requestTarget } from './access.js';

const anonymous = { presented: false, subject: undefined, access: [] };
const anonymousToken = { presented: true, subject: undefined, access: [{ type: 'repository', name: 'hello', actions: ['pull'] }] };
const alice = (names: string[]) => ({ presented: true, subject: 'alice', access: names.map((name) => ({ type: 'repository', name, actions: ['pull'] })) });
const token = (prefixes: string[]) => ({ mode: 'token' as const, prefixes });

describe('request targets', () => {
  it('name the repository of manifests, blobs and tags, decoded as the routers decode it', () => {
    expect(requestTarget('/')).toEqual({ kind: 'base' });
    expect(requestTarget('/shell/hello/manifests/latest')).toEqual({ kind: 'name', name: 'shell/hello' });
    expect(requestTarget(`/a/b/blobs/sha256:${'0'.repeat(64)}`)).toEqual({ kind: 'name', name: 'a/b' });
    expect(requestTarget('/a/tags/list')).toEqual({ kind: 'name', name: 'a' });
    expect(requestTarget('/priv%61te/x/manifests/latest')).toEqual({ kind: 'name', name: 'private/x' });
    expect(requestTarget('/private%2Fx/manifests/latest')).toEqual({ kind: 'name', name: 'private/x' });
    expect(requestTarget('/_catalog')).toEqual({ kind: 'other', path: '_catalog' });
    expect(() => requestTarget('/%E0%A4%A/manifests/latest')).toThrow(RegistryError);
  });
});

describe('decisions', () => {
  it('whole registry, token mode: everything needs a token, a user token must grant the name', () => {
    const policy = token([]);
    expect(decide({ kind: 'base' }, anonymous, policy)).toEqual({ kind: 'challenge' });
    expect(decide({ kind: 'base' }, alice([]), policy)).toEqual({ kind: 'allow' });
    expect(decide({ kind: 'name', name: 'hello' }, anonymous, policy)).toEqual({ kind: 'challenge', name: 'hello' });
    expect(decide({ kind: 'name', name: 'hello' }, alice(['hello']), policy)).toEqual({ kind: 'allow' });
    expect(decide({ kind: 'name', name: 'shell/hello' }, alice(['hello']), policy)).toEqual({ kind: 'deny', name: 'shell/hello' });
    expect(decide({ kind: 'other', path: '_catalog' }, anonymous, policy)).toEqual({ kind: 'challenge' });
  });

  it('prefixes, token mode: /v2/ wants any token, unprotected names are open, protected ones need a user', () => {
    const policy = token(['private']);
    expect(decide({ kind: 'base' }, anonymous, policy)).toEqual({ kind: 'challenge' });
    expect(decide({ kind: 'base' }, anonymousToken, policy)).toEqual({ kind: 'allow' });
    expect(decide({ kind: 'name', name: 'privateer' }, anonymous, policy)).toEqual({ kind: 'allow' });
    expect(decide({ kind: 'name', name: 'private/x' }, anonymousToken, policy)).toEqual({ kind: 'challenge', name: 'private/x' });
    expect(decide({ kind: 'name', name: 'private/x' }, alice(['private/x']), policy)).toEqual({ kind: 'allow' });
    expect(decide({ kind: 'other', path: 'private/x/blobs/uploads/' }, anonymous, policy)).toEqual({ kind: 'challenge' });
    expect(decide({ kind: 'other', path: '//private/x' }, anonymous, policy)).toEqual({ kind: 'challenge' });
    expect(decide({ kind: 'other', path: 'hello/blobs/uploads/' }, anonymous, policy)).toEqual({ kind: 'allow' });
  });

  it('basic mode: a user for everything', () => {
    const policy = { mode: 'basic' as const, prefixes: [] };
    expect(decide({ kind: 'base' }, anonymous, policy)).toEqual({ kind: 'challenge' });
    expect(decide({ kind: 'name', name: 'hello' }, anonymous, policy)).toEqual({ kind: 'challenge', name: 'hello' });
    expect(decide({ kind: 'name', name: 'hello' }, alice([]), policy)).toEqual({ kind: 'allow' });
  });
});
