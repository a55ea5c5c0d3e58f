import { describe, expect, it } from 'vitest';
import { parseImageReference } from './sbom.js';

describe('image references of nixyard sbom', () => {
  it('take a host with a port or a dot, a name, and a tag or a digest', () => {
    expect(parseImageReference('localhost:8080/shell/hello')).toEqual({ host: 'localhost:8080', name: 'shell/hello', reference: 'latest' });
    expect(parseImageReference('registry.example.com/git/htop:v1')).toEqual({ host: 'registry.example.com', name: 'git/htop', reference: 'v1' });
    expect(parseImageReference(`127.0.0.1:5000/hello@sha256:${'a'.repeat(64)}`)).toEqual({ host: '127.0.0.1:5000', name: 'hello', reference: `sha256:${'a'.repeat(64)}` });
    expect(parseImageReference('localhost/hello')).toMatchObject({ host: 'localhost', name: 'hello' });
  });

  it('refuse what is not one', () => {
    for (const text of ['shell/hello', 'hello', 'localhost:8080/Shell', 'localhost:8080/hello:', 'localhost:8080/hello@sha256:xyz', '']) expect(parseImageReference(text), text).toBeUndefined();
  });
});
