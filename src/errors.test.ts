import { describe, expect, it } from 'vitest';
import { describeError, RegistryError } from './errors.js';

describe('describeError', () => {
  it('says each message once when wrapped errors repeat their cause', () => {
    const cause = new Error('not connected to RabbitMQ (connection lost: ECONNREFUSED)');
    const wrapped = new RegistryError('UNAVAILABLE', `could not queue the build: ${cause.message}`, { cause });
    const described = describeError(wrapped);
    expect(described.error).toBe('could not queue the build: not connected to RabbitMQ (connection lost: ECONNREFUSED)');
    expect(described.stack).toMatch(/^Error: not connected to RabbitMQ/);
  });

  it('adds what a cause says that the outer message does not, and no stack for registry errors', () => {
    const inner = new RegistryError('UNAVAILABLE', 'storage is unavailable (filesystem)', { cause: new Error('ENOSPC: no space left on device') });
    expect(describeError(inner).error).toBe('storage is unavailable (filesystem): ENOSPC: no space left on device');
    expect(describeError(new RegistryError('MANIFEST_UNKNOWN', 'no such package'))).toEqual({ error: 'no such package' });
    expect(describeError('a string')).toEqual({ error: 'a string' });
  });
});
