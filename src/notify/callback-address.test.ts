import { describe, expect, it } from 'vitest';
import { callbackUrlProblem, guardedFetch, isPrivateAddress } from './callback-address.js';
import { ADDRESS_REFUSED } from './policy.js';

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '127.1.2.3', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '224.0.0.1'])('%s is one of the registry’s own networks', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '172.32.0.1', '1.1.1.1', '2001:4860:4860::8888', '::ffff:8.8.8.8', 'example.com'])('%s is not', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('callbackUrlProblem', () => {
  it('takes public http(s) URLs', () => {
    expect(callbackUrlProblem('https://deploy.example/hooks/build', false)).toBeUndefined();
    expect(callbackUrlProblem('http://203.0.113.7:8080/cb', false)).toBeUndefined();
  });

  it.each([
    ['ftp://deploy.example/x', /is not an http\(s\) URL/],
    ['not a url', /is not an http\(s\) URL/],
    ['https://user:pw@deploy.example/x', /has a user name or password in it/],
    ['http://127.0.0.1:9000/cb', /points into the registry's own network \(127\.0\.0\.1\): set NIXYARD_CALLBACK_ALLOW_PRIVATE=1/],
    ['http://localhost/cb', /points into the registry's own network \(localhost\)/],
    ['http://[::1]/cb', /own network \(::1\)/],
    ['http://169.254.169.254/latest/meta-data', /own network/],
  ])('refuses %s', (url, problem) => {
    expect(callbackUrlProblem(url, false)).toMatch(problem);
  });

  it('takes the registry’s own networks when the operator allows them, never credentials', () => {
    expect(callbackUrlProblem('http://127.0.0.1:9000/cb', true)).toBeUndefined();
    expect(callbackUrlProblem('http://u:p@127.0.0.1:9000/cb', true)).toMatch(/user name or password/);
  });
});

describe('guardedFetch', () => {
  it('refuses a literal private address before connecting, with the code that is never retried', async () => {
    const error = (await guardedFetch(false)('http://127.0.0.1:48231/cb', { method: 'POST' }).catch((caught: unknown) => caught)) as TypeError & { cause: NodeJS.ErrnoException };
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause.code).toBe(ADDRESS_REFUSED);
    expect(error.cause.message).toMatch(/127\.0\.0\.1 is an address of the registry's own network/);
  });

  it('refuses a name that resolves to a private address (localhost) when it connects', async () => {
    const error = (await guardedFetch(false)('http://localhost:48231/cb', { method: 'POST' }).catch((caught: unknown) => caught)) as TypeError & { cause: NodeJS.ErrnoException };
    expect(error.cause.code).toBe(ADDRESS_REFUSED);
    expect(error.cause.message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), an address of the registry's own network/);
  });
});
