/** TEST HELPER: an app serving fixture packages from a fresh filesystem storage. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFilesystemStorage } from '../../storage/filesystem.js';
import type { Storage } from '../../storage/types.js';
import type { ImageBuilder } from '../../src/builder/types.js';
import { createBuildRunner } from '../../src/builds/build-runner.js';
import { BuildRecordStore } from '../../src/builds/record-store.js';
import type { ImageManifests } from '../../src/image/manifest.js';
import { createImages } from '../../src/images/index.js';
import { createApp } from '../../src/http/app.js';
import { silentLogger } from '../../src/log.js';
import { FixtureBuilder, type FixturePackage } from './fixture-builder.js';
import { StaticPackageSource } from './static-source.js';

/** Writes a small directory tree (`{relative path: contents}`) and returns its path. */
export async function writeTree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'nixyard-fixture-'));
  for (const [path, contents] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), contents);
  }
  return root;
}

/** Fixture packages every image needs (cacert, iana-etc are always added) plus `hello`. */
export async function basicPackages(): Promise<Record<string, FixturePackage>> {
  const cacert = await writeTree({ 'etc/ssl/certs/ca-bundle.crt': '# no certificates in tests\n' });
  const iana = await writeTree({ 'etc/services': 'http 80/tcp\n', 'etc/protocols': 'tcp 6 TCP\n' });
  const hello = await writeTree({ 'bin/hello': '#!/bin/sh\necho Hello, world!\n' });
  return {
    cacert: [{ from: join(cacert, 'etc'), to: 'etc' }],
    'iana-etc': [{ from: join(iana, 'etc'), to: 'etc' }],
    hello: [{ from: join(hello, 'bin'), to: 'bin' }],
  };
}

/** A registry app over fixture packages; storage and service exposed for assertions. */
export async function createFixtureRegistry(
  options: { storage?: Storage; builder?: ImageBuilder; packages?: Record<string, FixturePackage>; architectures?: ('amd64' | 'arm64')[] } = {},
) {
  const storage = options.storage ?? (await createFilesystemStorage(await mkdtemp(join(tmpdir(), 'nixyard-storage-'))));
  const builder = options.builder ?? new FixtureBuilder(storage, options.packages ?? (await basicPackages()));
  const packageSource = new StaticPackageSource();
  const runner = createBuildRunner<ImageManifests>({ records: new BuildRecordStore(storage), maxBuilds: 4, logLimit: 1 << 20, log: silentLogger });
  const platforms = { defaultArch: 'amd64' as const, architectures: options.architectures ?? ['amd64' as const] };
  const { images } = createImages({ storage, builder, packageSource, platforms, runner, cacheSize: 100, log: silentLogger });
  const app = createApp({ images, storage, packageSource, log: silentLogger });
  return { app, storage, builder, images, packageSource };
}
