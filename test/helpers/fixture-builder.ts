/**
 * TEST HELPER, not product code: an `ImageBuilder` that packs directories from disk (one layer
 * per requested package that it knows) through the real `packLayer` path, so registry tests
 * serve real gzip tar layers without Nix.
 */
import type { Storage } from '../../storage/types.js';
import { packLayer } from '../../src/builder/pack-layer.js';
import { entriesUnder } from '../../src/builder/tar-entries.js';
import { createHash } from 'node:crypto';
import type { BuiltLayers, ImageBuildRequest, ImageBuilder } from '../../src/builder/types.js';
import type { ImageContents } from '../../src/sbom/contents.js';
import { RegistryError } from '../../src/errors.js';
import type { LayerInfo } from '../../src/image/manifest.js';

/** A package of the fixture: directories of the host, each placed at a path in the image. */
export type FixturePackage = { from: string; to: string }[];

/** Builds images from fixture packages; counts its builds so tests can check caching. */
export class FixtureBuilder implements ImageBuilder {
  readonly layout = { layering: 0, budget: 0, packing: 0 };
  builds = 0;

  /** `unavailable.arm64 = ['x']`: package `x` does not build for arm64 (PACKAGE_BROKEN). */
  constructor(
    private readonly storage: Storage,
    private readonly packages: Record<string, FixturePackage>,
    private readonly unavailable: Partial<Record<ImageBuildRequest['arch'], string[]>> = {},
  ) {}

  async buildLayers(request: ImageBuildRequest): Promise<BuiltLayers> {
    this.builds += 1;
    const broken = request.packages.filter((pkg) => this.unavailable[request.arch]?.includes(pkg));
    if (broken.length > 0) throw new RegistryError('PACKAGE_BROKEN', `not available on ${request.arch}: ${broken.join(', ')}`);
    const missing = request.packages.filter((pkg) => !(pkg in this.packages));
    if (missing.length > 0) {
      throw new RegistryError('MANIFEST_UNKNOWN', `packages not found in the package set: ${missing.join(', ')}`, { detail: { missing } });
    }
    const layers = await Promise.all(
      request.packages.map((pkg) => {
        const dirs = this.packages[pkg] ?? [];
        return packLayer(this.storage, (async function* () {
          for (const dir of dirs) yield* entriesUnder(dir.from, dir.to);
        })());
      }),
    );
    return { layers, contents: fixtureContents(request.packages, layers) };
  }
}

/** Store paths made up for fixture packages (one each, `<hash>-<name>-1.0`, no references), for SBOMs. */
function fixtureContents(packages: readonly string[], layers: readonly LayerInfo[]): ImageContents {
  const paths = packages.map((pkg, i) => {
    const hash = createHash('sha256').update(pkg).digest('hex').slice(0, 32).replace(/[eotu]/g, '0');
    return { pkg, path: `/nix/store/${hash}-${pkg}-1.0`, narHash: `sha256-${createHash('sha256').update(layers[i]?.digest ?? pkg).digest('base64')}` };
  });
  return {
    packages: Object.fromEntries(paths.map(({ pkg, path }) => [pkg, path])),
    licenses: Object.fromEntries(packages.map((pkg) => [pkg, pkg === 'hello' ? ['GPL-3.0-or-later'] : []])),
    graph: paths.map(({ path, narHash }) => ({ path, narSize: 1000, references: [], narHash })),
  };
}
