import { describe, expect, it } from 'vitest';
import { basicChallenge, bearerChallenge } from './challenge.js';
import { parseAuthorization } from './credentials.js';
import { grantsPull, parseScope, parseScopes, pullScope } from './scope.js';

describe('scopes', () => {
  it('parse type, name and actions; names may hold colons', () => {
    expect(parseScope('repository:shell/hello:pull')).toEqual({ type: 'repository', name: 'shell/hello', actions: ['pull'] });
    expect(parseScope('repository:a/b:pull,push')).toEqual({ type: 'repository', name: 'a/b', actions: ['pull', 'push'] });
    expect(parseScope('repository(plugin):x:pull')).toEqual({ type: 'repository', name: 'x', actions: ['pull'] });
    expect(parseScope('repository:host:5000/x:pull')?.name).toBe('host:5000/x');
    expect(parseScope('registry:catalog:*')).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
    for (const bad of ['', 'repository', 'repository:x', ':x:pull', 'repository::pull']) expect(parseScope(bad)).toBeUndefined();
  });

  it('come repeated or space-separated', () => {
    expect(parseScopes(['repository:a:pull repository:b:pull', 'repository:c:pull', 'junk']).map((scope) => scope.name)).toEqual(['a', 'b', 'c']);
  });

  it('grant pull only for the exact name', () => {
    const access = [{ type: 'repository', name: 'shell/hello', actions: ['pull'] }];
    expect(grantsPull(access, 'shell/hello')).toBe(true);
    expect(grantsPull(access, 'shell')).toBe(false);
    expect(grantsPull([{ type: 'repository', name: 'shell/hello', actions: ['push'] }], 'shell/hello')).toBe(false);
    expect(pullScope('a/b')).toBe('repository:a/b:pull');
  });
});

describe('challenges', () => {
  it('format Bearer challenges as docker parses them', () => {
    expect(bearerChallenge({ realm: 'http://127.0.0.1:8080/token', service: 'nixyard', scope: 'repository:shell/hello:pull' })).toBe(
      'Bearer realm="http://127.0.0.1:8080/token",service="nixyard",scope="repository:shell/hello:pull"',
    );
    expect(bearerChallenge({ realm: 'https://r/token', service: 'nixyard' })).toBe('Bearer realm="https://r/token",service="nixyard"');
    expect(bearerChallenge({ realm: 'r', service: 's', scope: 'x', error: 'invalid_token', errorDescription: 'the token has expired' })).toBe(
      'Bearer realm="r",service="s",scope="x",error="invalid_token",error_description="the token has expired"',
    );
  });

  it('quote what must be quoted, and nothing can break the header', () => {
    expect(bearerChallenge({ realm: 'http://h"x\\/token', service: 's\r\nX: y' })).toBe('Bearer realm="http://h\\"x\\\\/token",service="s  X: y"');
    expect(basicChallenge()).toBe('Basic realm="nixyard",charset="UTF-8"');
  });
});

describe('Authorization header', () => {
  it('parses Basic and Bearer, schemes in any case', () => {
    const basic = `Basic ${Buffer.from('alice:pa:ss').toString('base64')}`;
    expect(parseAuthorization(basic)).toEqual({ kind: 'basic', user: 'alice', password: 'pa:ss' });
    expect(parseAuthorization('bearer abc.def.ghi')).toEqual({ kind: 'bearer', token: 'abc.def.ghi' });
    expect(parseAuthorization(undefined)).toEqual({ kind: 'none' });
    expect(parseAuthorization('Digest x')).toEqual({ kind: 'other', scheme: 'digest' });
    expect(parseAuthorization('Basic !!!')).toEqual({ kind: 'basic', user: '', password: '' });
  });
});
