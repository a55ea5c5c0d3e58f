/**
 * The OCI distribution-spec conformance suite (github.com/opencontainers/distribution-spec/conformance,
 * built with `go test -c` by install-deps) in its read-only configuration, against nixyard serving
 * a git package source (where an unknown tag is a missing manifest, as the suite expects), with
 * real Nix: pulls, heads, tag list, missing manifests, invalid digests and the referrers API.
 */
import { execa } from 'execa';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/image/media-types.js';
import { demoServersOfBlock } from '../helpers/demo-server.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { writeDemoSet } from '../helpers/package-sets.js';
import { requireTool } from '../helpers/tools.js';

describe('OCI conformance suite, read-only, on a git package source', () => {
  const startDemoServer = demoServersOfBlock();
  let repo: GitServer;
  let suite: string;

  beforeAll(async () => {
    suite = await requireTool('oci-conformance', 'scripts/install-deps.sh (go test -c github.com/opencontainers/distribution-spec/conformance)');
    repo = await startGitServer();
    await writeDemoSet(repo.work, 'Hello from the conformance run!');
    await repo.commit('one');
    await repo.push('main');
  });
  afterAll(async () => {
    await repo?.close();
  });

  it('passes every enabled check, the referrers API included', async () => {
    const server = await startDemoServer({ NIXERY_PKGS_PATH: '', NIXERY_PKGS_REPO: repo.url });
    const name = 'shell/hello';
    const manifest = await fetch(`${server.url}/v2/${name}/manifests/latest`, { headers: { Accept: MediaType.ociManifest } });
    expect(manifest.status).toBe(200);
    const digest = manifest.headers.get('docker-content-digest') as string;
    const parsed = (await manifest.json()) as { config: { digest: string }; layers: { digest: string }[] };
    const blobs = [parsed.config.digest, ...parsed.layers.map((layer) => layer.digest)];

    const results = await mkdtemp(join(tmpdir(), 'nixyard-conformance-'));
    const run = await execa(suite, [], {
      reject: false,
      all: true,
      cwd: results,
      timeout: 300_000,
      env: {
        OCI_REGISTRY: server.host,
        OCI_TLS: 'disabled',
        OCI_REPO1: name,
        OCI_REPO2: name,
        OCI_RESULTS_DIR: results,
        OCI_API_PUSH: 'false',
        OCI_API_BLOBS_DELETE: 'false',
        OCI_API_MANIFESTS_DELETE: 'false',
        OCI_API_TAGS_DELETE: 'false',
        OCI_RO_DATA_TAGS: 'latest',
        OCI_RO_DATA_MANIFESTS: digest,
        OCI_RO_DATA_BLOBS: blobs.join(' '),
        OCI_RO_DATA_REFERRERS: digest,
      },
    });
    const report = run.all ?? '';
    const verdicts = [...report.matchAll(/^\s*(OCI Conformance Test[^:\n]*): (Pass|FAIL|Disabled|Skip)\s*$/gm)].map((match) => ({ test: match[1] ?? '', verdict: match[2] ?? '' }));
    expect(verdicts.length, report).toBeGreaterThan(20);
    expect(verdicts.filter((entry) => entry.verdict === 'FAIL'), report).toEqual([]);
    expect(verdicts.find((entry) => entry.test === 'OCI Conformance Test')?.verdict, report).toBe('Pass');
    for (const test of ['OCI Conformance Test/empty/referrers', 'OCI Conformance Test/read-only/referrers', 'OCI Conformance Test/missing-manifest/by-tag', 'OCI Conformance Test/read-only/pull/manifest-by-digest']) {
      expect(verdicts.find((entry) => entry.test === test)?.verdict, `${test}\n${report}`).toBe('Pass');
    }
  });
});
