import { describe, expect, it } from 'vitest';
import { MediaType } from './media-types.js';
import { chooseDocument, chooseMediaType, parseAccept } from './negotiate.js';

describe('parseAccept', () => {
  it('reads every header line and every comma-separated item with q-values', () => {
    expect(parseAccept([`${MediaType.dockerManifest}, ${MediaType.ociManifest};q=0.5`, 'application/json'])).toEqual([
      { type: MediaType.dockerManifest, q: 1 },
      { type: MediaType.ociManifest, q: 0.5 },
      { type: 'application/json', q: 1 },
    ]);
  });
});

describe('chooseMediaType', () => {
  const image = [MediaType.ociManifest, MediaType.dockerManifest];
  const index = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest];
  const docker = [MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex];

  it('prefers OCI when both are accepted (docker sends both as separate lines)', () => {
    expect(chooseMediaType(docker, image)).toBe(MediaType.ociManifest);
    expect(chooseMediaType(docker, index)).toBe(MediaType.ociIndex);
  });
  it('serves Docker schema2 to a client that only accepts it', () => {
    expect(chooseMediaType([MediaType.dockerManifest], image)).toBe(MediaType.dockerManifest);
  });
  it('falls back from an index to a single-platform manifest for clients that accept no index', () => {
    expect(chooseMediaType([MediaType.dockerManifest], index)).toBe(MediaType.dockerManifest);
    expect(chooseMediaType([MediaType.dockerManifestList, MediaType.dockerManifest], index)).toBe(MediaType.dockerManifestList);
  });
  it('finds an accepted type on a later header line', () => {
    expect(chooseMediaType(['application/vnd.docker.distribution.manifest.v1+prettyjws', MediaType.dockerManifest], image)).toBe(MediaType.dockerManifest);
  });
  it('honours q-values', () => {
    expect(chooseMediaType([`${MediaType.ociManifest};q=0.1, ${MediaType.dockerManifest};q=0.9`], image)).toBe(MediaType.dockerManifest);
    expect(chooseMediaType([`${MediaType.ociManifest};q=0, ${MediaType.dockerManifest}`], image)).toBe(MediaType.dockerManifest);
  });
  it('serves the first offer with no Accept header or a wildcard', () => {
    expect(chooseMediaType([], index)).toBe(MediaType.ociIndex);
    expect(chooseMediaType(['*/*'], image)).toBe(MediaType.ociManifest);
  });
  it('returns undefined when nothing offered is accepted', () => {
    expect(chooseMediaType(['application/vnd.docker.distribution.manifest.v1+prettyjws'], image)).toBeUndefined();
  });
});

describe('chooseDocument', () => {
  const documents = [MediaType.dockerManifest, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.ociIndex].map((mediaType) => ({ mediaType }));

  it('follows the registry preference whatever order the documents come in: an index first, OCI before Docker', () => {
    expect(chooseDocument([], documents)?.mediaType).toBe(MediaType.ociIndex);
    expect(chooseDocument([`${MediaType.dockerManifest}, ${MediaType.ociManifest}`], documents)?.mediaType).toBe(MediaType.ociManifest);
    expect(chooseDocument([MediaType.dockerManifestList, MediaType.dockerManifest], documents)?.mediaType).toBe(MediaType.dockerManifestList);
    expect(chooseDocument([`${MediaType.ociManifest};q=0.5`, MediaType.dockerManifest], documents)?.mediaType).toBe(MediaType.dockerManifest);
    expect(chooseDocument(['text/html'], documents)).toBeUndefined();
  });
});
