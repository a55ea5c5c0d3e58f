import { describe, expect, it } from 'vitest';
import { MediaType } from './media-types.js';
import { chooseManifestFlavour, parseAccept } from './negotiate.js';

describe('parseAccept', () => {
  it('reads every header line and every comma-separated item with q-values', () => {
    expect(parseAccept([`${MediaType.dockerManifest}, ${MediaType.ociManifest};q=0.5`, 'application/json'])).toEqual([
      { type: MediaType.dockerManifest, q: 1 },
      { type: MediaType.ociManifest, q: 0.5 },
      { type: 'application/json', q: 1 },
    ]);
  });
});

describe('chooseManifestFlavour', () => {
  it('prefers OCI when both are accepted (docker sends both as separate lines)', () => {
    expect(chooseManifestFlavour([MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex])).toBe('oci');
  });
  it('serves Docker schema2 to a client that only accepts it', () => {
    expect(chooseManifestFlavour([MediaType.dockerManifest])).toBe('docker');
  });
  it('finds an accepted type on a later header line', () => {
    expect(chooseManifestFlavour(['application/vnd.docker.distribution.manifest.v1+prettyjws', MediaType.dockerManifest])).toBe('docker');
  });
  it('honours q-values', () => {
    expect(chooseManifestFlavour([`${MediaType.ociManifest};q=0.1, ${MediaType.dockerManifest};q=0.9`])).toBe('docker');
    expect(chooseManifestFlavour([`${MediaType.ociManifest};q=0, ${MediaType.dockerManifest}`])).toBe('docker');
  });
  it('serves OCI with no Accept header or a wildcard', () => {
    expect(chooseManifestFlavour([])).toBe('oci');
    expect(chooseManifestFlavour(['*/*'])).toBe('oci');
  });
  it('returns undefined when neither flavour is accepted', () => {
    expect(chooseManifestFlavour(['application/vnd.docker.distribution.manifest.v1+prettyjws'])).toBeUndefined();
  });
});
