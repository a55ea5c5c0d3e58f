import { describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { withSecretFiles } from './secret-files.js';

const files: Record<string, string> = { '/run/secrets/hook': 's3cret\n', '/run/secrets/empty': '\n' };
const read = (path: string) => {
  const content = files[path];
  if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return content;
};

describe('withSecretFiles', () => {
  it('reads <NAME>_FILE into <NAME>, dropping one trailing newline, and leaves the rest alone', () => {
    expect(withSecretFiles({ NIXYARD_WEBHOOK_SECRET_FILE: '/run/secrets/hook', PORT: '80' }, read)).toEqual({ NIXYARD_WEBHOOK_SECRET_FILE: '/run/secrets/hook', NIXYARD_WEBHOOK_SECRET: 's3cret', PORT: '80' });
    expect(withSecretFiles({ NIXYARD_NOTIFY_SECRET: 'inline' }, read)).toEqual({ NIXYARD_NOTIFY_SECRET: 'inline' });
  });

  it('names each problem: both set, an unreadable file, an empty one', () => {
    let error: unknown;
    try {
      withSecretFiles({ NIXYARD_WEBHOOK_SECRET: 'a', NIXYARD_WEBHOOK_SECRET_FILE: '/run/secrets/hook', NIXYARD_NOTIFY_SECRET_FILE: '/nope', NIXYARD_METRICS_TOKEN_FILE: '/run/secrets/empty' }, read);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'NIXYARD_WEBHOOK_SECRET and NIXYARD_WEBHOOK_SECRET_FILE are both set: give the secret once, in the variable or in the file',
      'NIXYARD_NOTIFY_SECRET_FILE=/nope cannot be read (ENOENT): it should name a file holding the secret',
      'NIXYARD_METRICS_TOKEN_FILE=/run/secrets/empty is empty: put the secret in it',
    ]);
  });
});
