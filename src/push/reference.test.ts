import { describe, expect, it } from 'vitest';
import { RegistryError } from '../errors.js';
import { isInsecure, parsePushTarget, referencesOf } from './reference.js';

describe('parsePushTarget', () => {
  it.each([
    ['ghcr.io/acme/web', { registry: 'ghcr.io', repository: 'acme/web', tag: undefined }],
    ['127.0.0.1:5000/acme/web:v1.4.0', { registry: '127.0.0.1:5000', repository: 'acme/web', tag: 'v1.4.0' }],
    ['localhost/web', { registry: 'localhost', repository: 'web', tag: undefined }],
    ['registry.internal:5000/a/b/c-d__e:main-1a2b3c4', { registry: 'registry.internal:5000', repository: 'a/b/c-d__e', tag: 'main-1a2b3c4' }],
    ['docker.io/library/web', { registry: 'docker.io', repository: 'library/web', tag: undefined }],
    ['[::1]:5000/web', { registry: '[::1]:5000', repository: 'web', tag: undefined }],
  ])('reads %s', (to, expected) => {
    expect(parsePushTarget(to)).toEqual(expected);
  });

  it.each([
    ['acme/web', /does not start with a registry host \("acme" has no dot and no port; Docker Hub is docker\.io\)/],
    ['web', /has no registry/],
    ['https://ghcr.io/acme/web', /has a scheme/],
    ['ghcr.io/acme/web@sha256:abc', /names a digest or credentials/],
    ['user:pw@ghcr.io/acme/web', /names a digest or credentials/],
    ['ghcr.io/Acme/web', /repository "Acme\/web", which is not lowercase components/],
    ['ghcr.io/acme/web:-bad', /tag "-bad"/],
    ['ghcr.io/', /repository ""/],
  ])('refuses %s, saying what is wrong and what is right', (to, why) => {
    let error: unknown;
    try {
      parsePushTarget(to);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe('PARAMETER_INVALID');
    expect((error as RegistryError).message).toMatch(why);
    expect((error as RegistryError).message).toContain('expected REGISTRY/REPOSITORY[:TAG]');
  });
});

describe('referencesOf', () => {
  it('gives a target without a tag every tag of the build, and one with a tag only its own', () => {
    expect(referencesOf(parsePushTarget('ghcr.io/acme/web'), ['main-1a2b3c4', 'main', 'latest', 'main'])).toEqual(['ghcr.io/acme/web:main-1a2b3c4', 'ghcr.io/acme/web:main', 'ghcr.io/acme/web:latest']);
    expect(referencesOf(parsePushTarget('ghcr.io/acme/web:stable'), ['main-1a2b3c4', 'main'])).toEqual(['ghcr.io/acme/web:stable']);
  });

  it('treats registries as insecure only when listed', () => {
    expect(isInsecure('Registry.Internal:5000', ['registry.internal:5000'])).toBe(true);
    expect(isInsecure('registry.internal:5001', ['registry.internal:5000'])).toBe(false);
  });
});
