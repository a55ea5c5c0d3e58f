import { describe, expect, it } from 'vitest';
import { provenanceStatement } from './provenance.js';

describe('provenance of images from source', () => {
  it('is an in-toto statement about both manifests with a SLSA v1 predicate', () => {
    const statement = provenanceStatement(
      { repository: 'https://git.example.com/acme/shop.git', ref: 'main', commit: 'a'.repeat(40), dir: 'web', overrides: { startCmd: 'node server.js' }, planDigest: `sha256:${'b'.repeat(64)}`, planner: 'nixpacks 1.41.0', packageSetRevision: 'path:sha256:c', startedOn: '2026-12-05T04:00:00.000Z' },
      { image: 'apps/acme/shop', manifestDigests: [`sha256:${'d'.repeat(64)}`, `sha256:${'e'.repeat(64)}`], builderId: 'https://registry.example/nixyard@1', buildId: '20261205T040000000Z-0a1b2c3d', finishedOn: '2026-12-05T04:01:00.000Z' },
    );
    expect(statement).toMatchObject({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'apps/acme/shop', digest: { sha256: 'd'.repeat(64) } }, { name: 'apps/acme/shop', digest: { sha256: 'e'.repeat(64) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {
        buildDefinition: {
          externalParameters: { repository: 'https://git.example.com/acme/shop.git', ref: 'main', dir: 'web', overrides: { startCmd: 'node server.js' } },
          internalParameters: { planDigest: `sha256:${'b'.repeat(64)}`, packageSetRevision: 'path:sha256:c' },
          resolvedDependencies: [{ uri: 'git+https://git.example.com/acme/shop.git@main', digest: { gitCommit: 'a'.repeat(40) } }],
        },
        runDetails: { builder: { id: 'https://registry.example/nixyard@1' }, metadata: { invocationId: '20261205T040000000Z-0a1b2c3d', startedOn: '2026-12-05T04:00:00.000Z', finishedOn: '2026-12-05T04:01:00.000Z' } },
      },
    });
  });
});
