import { describe, expect, it } from 'vitest';
import { blobKey, buildCancelKey, buildLogKey, buildRecordKey, indexCacheKey, layerRecordKey, manifestCacheKey, manifestKey, newStagingKey } from './keys.js';

const identity = { revision: 'abc', packages: ['cacert', 'hello', 'iana-etc'], arch: 'amd64', user: 'root', layering: 1, budget: 94, packing: 1 };

describe('storage keys', () => {
  it('lay out blobs, manifests, layer records, staging and build records as documented', () => {
    expect(blobKey(`sha256:${'a'.repeat(64)}`)).toBe(`layers/${'a'.repeat(64)}`);
    expect(manifestKey('k')).toBe('manifests/k');
    expect(layerRecordKey(['/nix/store/b', '/nix/store/a'])).toBe(layerRecordKey(['/nix/store/a', '/nix/store/b']));
    expect(layerRecordKey(['/nix/store/a'])).toMatch(/^builds\/[0-9a-f]{64}$/);
    expect(newStagingKey()).toMatch(/^staging\/[0-9a-f-]{36}$/);
    expect([buildRecordKey('x'), buildLogKey('x'), buildCancelKey('x')]).toEqual(['build-records/x', 'build-logs/x', 'build-cancels/x']);
  });

  it('make a cache key from every part of an image identity, the layer budget included', () => {
    const key = manifestCacheKey(identity);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(manifestCacheKey({ ...identity })).toBe(key);
    for (const change of [{ revision: 'abd' }, { packages: ['cacert', 'iana-etc'] }, { arch: 'arm64' }, { user: 'nonroot' }, { layering: 2 }, { budget: 20 }, { packing: 2 }]) {
      expect(manifestCacheKey({ ...identity, ...change })).not.toBe(key);
    }
    expect(indexCacheKey([key, 'other'])).not.toBe(indexCacheKey(['other', key]));
  });
});
