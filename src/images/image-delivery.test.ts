import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFilesystemStorage } from '../../storage/filesystem.js';
import type { BuildProgress, BuildSpec } from '../builds/build-runner.js';
import { imageDocuments } from '../image/manifest.js';
import { ImageDelivery } from './image-delivery.js';
import { ManifestCache } from './manifest-cache.js';

/** A built image's documents (no layers: only the digests matter here), distinct per `n`. */
const image = (n: number) => imageDocuments({ arch: 'amd64', layers: [], hasShell: false, app: { path: [], workingDir: '/app', cmd: ['sh'], env: [`N=${n}`], exposedPorts: [], labels: {}, created: '2026-12-04T10:00:00Z' } });

function progress(notes: string[]): BuildProgress {
  return { id: '20261205T000000000Z-00000000', signal: new AbortController().signal, phase: () => {}, annotate: () => {}, output: () => {}, note: (line) => void notes.push(line) };
}

const spec = (tag: string, order: number): BuildSpec => ({
  key: 'k',
  image: 'apps/acme/web',
  tag,
  packages: [],
  arch: 'amd64',
  revision: 'r',
  trigger: 'webhook',
  source: { repo: 'git://x/app.git', ref: 'c', commit: 'c', dir: '', committedAt: null, overrides: {}, timeoutSeconds: 60 },
  moves: { tags: ['main', 'latest'], order },
});

describe('ImageDelivery.deliver', () => {
  it('never moves a tag back to an older push’s image: a slower older build keeps only its own tag', async () => {
    const storage = await createFilesystemStorage(await mkdtemp(join(tmpdir(), 'nixyard-delivery-')));
    const cache = new ManifestCache(storage, 10);
    const delivery = new ImageDelivery({ cache, pusher: undefined, defaultPush: [], appsPrefix: 'apps', callbacks: undefined, allowPrivateCallbacks: false, publicHost: undefined });
    const [newer, older] = [image(2), image(1)];
    for (const documents of [newer, older]) await cache.storeDocuments(documents);

    await delivery.deliver(spec('main-2222222', 2000), newer.manifests, progress([]));
    const notes: string[] = [];
    await delivery.deliver(spec('main-1111111', 1000), older.manifests, progress(notes));

    const digestOf = async (tag: string) => (await cache.tagged('apps/acme/web', tag))?.oci.digest;
    expect(await digestOf('main')).toBe(newer.manifests.oci.digest);
    expect(await digestOf('latest')).toBe(newer.manifests.oci.digest);
    expect(await digestOf('main-1111111')).toBe(older.manifests.oci.digest);
    expect(notes).toContain("not moving main, latest: a newer push's build moved them already");
    expect(await cache.tags('apps/acme/web')).toEqual(['latest', 'main', 'main-1111111', 'main-2222222']);
  });
});
