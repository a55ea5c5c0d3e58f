import { describe, expect, it } from 'vitest';
import { copyArgs, pushFailure, skopeoMessage } from './skopeo.js';

const fatal = (message: string) => `Getting image source signatures\nCopying blob sha256:19a3\ntime="2026-12-04T23:33:41Z" level=fatal msg="${message.replace(/"/g, '\\"')}"\n`;

describe('copyArgs', () => {
  it('preserves digests, reads credentials only from the auth file and trusts the CA directory', () => {
    expect(copyArgs({ source: '127.0.0.1:4000/push-ab/image@sha256:00', destination: 'ghcr.io/acme/web:v1', authFile: '/etc/nixyard/auth.json', certDir: '/var/lib/nixyard/push/ca', insecure: false, digestFile: '/tmp/d' })).toEqual([
      'copy',
      '--preserve-digests',
      '--src-no-creds',
      '--src-tls-verify=false',
      '--dest-authfile=/etc/nixyard/auth.json',
      '--dest-cert-dir=/var/lib/nixyard/push/ca',
      '--digestfile=/tmp/d',
      'docker://127.0.0.1:4000/push-ab/image@sha256:00',
      'docker://ghcr.io/acme/web:v1',
    ]);
  });

  it('turns TLS verification off only for insecure targets', () => {
    const args = copyArgs({ source: 's', destination: 'r:5000/a:b', authFile: 'a', certDir: undefined, insecure: true, digestFile: 'd' });
    expect(args).toContain('--dest-tls-verify=false');
    expect(args.some((arg) => arg.startsWith('--dest-cert-dir'))).toBe(false);
  });
});

describe('pushFailure', () => {
  const target = 'registry.example:5000/acme/web:v1';
  const registry = 'registry.example:5000';
  it.each([
    ['trying to reuse blob sha256:d0 at destination: checking whether a blob sha256:d0 exists in registry.example:5000/acme/web: unauthorized: authentication required', 'PUSH_UNAUTHORIZED', /did not accept the credentials NIXYARD_PUSH_AUTH_FILE has for it .*: .*unauthorized: authentication required$/],
    ['writing manifest: uploading manifest v1 to registry.example:5000/acme/web: denied: requested access to the resource is denied', 'PUSH_UNAUTHORIZED', /requested access to the resource is denied/],
    ['pinging container registry registry.example:5000: Get "https://registry.example:5000/v2/": dial tcp 10.0.0.1:5000: connect: connection refused', 'PUSH_UNREACHABLE', /could not be reached \(.*connection refused\); retry later/],
    ['pinging container registry registry.example:5000: Get "https://registry.example:5000/v2/": dial tcp: lookup registry.example: no such host', 'PUSH_UNREACHABLE', /no such host/],
    ['pinging container registry registry.example:5000: Get "https://registry.example:5000/v2/": x509: certificate signed by unknown authority', 'PUSH_REFUSED', /the TLS certificate of registry\.example:5000 is not trusted; give its CA in NIXYARD_PUSH_CA_FILE/],
    ['pinging container registry registry.example:5000: Get "https://registry.example:5000/v2/": http: server gave HTTP response to HTTPS client', 'PUSH_REFUSED', /answers plain HTTP; list it in NIXYARD_PUSH_INSECURE/],
    ['writing manifest: uploading manifest v1 to registry.example:5000/acme/web: manifest invalid: manifest invalid', 'PUSH_REFUSED', /refused by registry\.example:5000: writing manifest: .*manifest invalid/],
  ])('%s → its code, naming the target', (message, code, says) => {
    const error = pushFailure(target, registry, fatal(message));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(says);
    expect(error.message).toContain(`push to ${target}`);
    expect(error.detail).toEqual({ target });
  });

  it('reads the fatal line, unescaping its quotes and line breaks, else the last line', () => {
    expect(skopeoMessage(fatal('Get "https://r/v2/": EOF'))).toBe('Get "https://r/v2/": EOF');
    expect(skopeoMessage('time="x" level=fatal msg="StatusCode: 405, Method not allowed\\n"\n')).toBe('StatusCode: 405, Method not allowed');
    expect(skopeoMessage('Error: something broke\n\n')).toBe('something broke');
  });
});
