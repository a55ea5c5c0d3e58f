/**
 * The builder of images from package names: Nix realises the packages and reports their closure
 * (or, for packages known at the revision, the closure cache says it and Nix only roots them), `src/layers` groups
 * the closure under the layer budget, each group is packed once per storage (recorded under
 * `builds/<layer key>`, the key being the hash of its sorted store paths), and the symlink
 * layer goes on top.
 */
import { rm } from 'node:fs/promises';
import { blobKey, layerRecordKey, type LayerLayout } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import type { BuildProgress } from '../builds/build-runner.js';
import { formatBytes } from '../units.js';
import { ARCHITECTURES } from '../image/image-name.js';
import type { LayerInfo } from '../image/manifest.js';
import { groupLayers, LAYERING_VERSION } from '../layers/index.js';
import type { Popularity } from '../layers/types.js';
import type { Logger } from '../log.js';
import { mapLimit } from '../concurrency.js';
import { ClosureCache, closureScope, type KnownClosure } from './closure-cache.js';
import type { ImageContents } from '../sbom/contents.js';
import type { Nix } from './nix.js';
import { layersStored } from '../metrics/metrics.js';
import { packLayer, PACKING_VERSION } from './pack-layer.js';
import { SingleFlight } from '../concurrency.js';
import { symlinkLayerEntries } from './symlink-layer.js';
import { storePathEntries } from './tar-entries.js';
import type { BuiltLayers, ImageBuildRequest, ImageBuilder } from './types.js';

/** What the package builder needs. */
export interface PackageBuilderDeps {
  storage: Storage;
  nix: Nix;
  /** Popularity of store paths by `name-version`, for layering. */
  popularity: () => Popularity;
  /** Most layers per image, the symlink layer included. */
  layerBudget: number;
  log: Logger;
  /** Layers packed at once; defaults to {@link PACKERS}. */
  packConcurrency?: number;
}

/**
 * Layers packed at once. More than cores: compression is bounded process-wide (parallel-gzip.ts),
 * and a small layer's time is mostly its storage round trips, which overlap.
 */
const PACKERS = 8;

/** Nix's first words when it has derivations to build (Nix 2.3 to 2.24). */
const BUILDING_OUTPUT = /^(?:these \d+ derivations will be built|this derivation will be built|building '\/nix\/store\/)/m;

/** Builds images of package names with Nix. */
export class PackageBuilder implements ImageBuilder {
  readonly layout: LayerLayout;
  private readonly packing = new SingleFlight<LayerInfo>();
  private readonly closures: ClosureCache;

  constructor(private readonly deps: PackageBuilderDeps) {
    this.layout = { layering: LAYERING_VERSION, budget: deps.layerBudget, packing: PACKING_VERSION };
    this.closures = new ClosureCache(deps.storage);
  }

  async buildLayers(request: ImageBuildRequest, progress?: BuildProgress): Promise<BuiltLayers> {
    const { layers, contents } = await this.build(request, progress, async () => undefined);
    return { layers, contents };
  }

  /**
   * Realises the packages, runs `between` with their output paths (the image's roots) while
   * they are kept from garbage collection, then packs their layers. Source images run the
   * app's install and build commands there, with these packages on PATH.
   */
  async build<T>(request: ImageBuildRequest, progress: BuildProgress | undefined, between: (roots: readonly string[]) => Promise<T>): Promise<{ layers: LayerInfo[]; value: T; contents: ImageContents }> {
    const { log } = this.deps;
    const signal = progress?.signal;
    let rootDir: string | undefined;
    try {
      const started = Date.now();
      const closure = await this.realise(request, progress);
      rootDir = closure.rootDir;
      const { roots, graph, packages, licenses, remembered } = closure;
      const nixMs = Date.now() - started;
      signal?.throwIfAborted();
      const value = await between(roots);
      const realised = Date.now();
      signal?.throwIfAborted();
      const groups = groupLayers({ roots, graph, popularity: this.deps.popularity(), budget: this.deps.layerBudget - 1 });
      const closureSize = graph.reduce((sum, info) => sum + info.narSize, 0);
      progress?.phase('packing', `${graph.length} store paths (${formatBytes(closureSize)}) into ${groups.length + 1} layers, Nix took ${(nixMs / 1000).toFixed(1)} s`);
      // The largest layers start first so that the last one to finish is a small one.
      const concurrency = this.deps.packConcurrency ?? PACKERS;
      const sizes = new Map(graph.map((info) => [info.path, info.narSize]));
      const layerSize = (paths: readonly string[]) => paths.reduce((sum, path) => sum + (sizes.get(path) ?? 0), 0);
      const largestFirst = groups.map((paths, index) => ({ paths, index, size: layerSize(paths) })).sort((a, b) => b.size - a.size || a.index - b.index);
      // The symlink layer is small: it is packed beside the store paths' layers, not after them.
      const symlinks = symlinkLayerEntries(roots).then((entries) => packLayer(this.deps.storage, entries));
      // Awaited below, after the other layers: a failure before then must not count as unhandled.
      symlinks.catch(() => undefined);
      const packed = await mapLimit(largestFirst, concurrency, async (group) => {
        signal?.throwIfAborted();
        const layer = await this.storePathLayer(group.paths);
        progress?.note(`layer ${layer.digest}: ${group.paths.length === 1 ? '1 store path' : `${group.paths.length} store paths`}, ${formatBytes(layer.size)}`);
        return layer;
      }).catch(async (error: unknown) => {
        await symlinks.catch(() => undefined);
        throw error;
      });
      const layers = groups.map((_, index) => packed[largestFirst.findIndex((group) => group.index === index)] as LayerInfo);
      layers.push(await symlinks);
      log.info('packed layers', { paths: graph.length, layers: layers.length, nixMs, packMs: Date.now() - realised });
      await remembered;
      return { layers, value, contents: { packages, licenses, graph } };
    } finally {
      if (rootDir !== undefined) await rm(rootDir, { recursive: true, force: true });
    }
  }

  /**
   * The roots and closure of the request's packages, kept from garbage collection by out-links in
   * `rootDir` (the caller removes it): known packages at a known revision are only rooted (no
   * evaluation); otherwise Nix evaluates and realises them, and what it said is remembered
   * (`remembered` settles once it is stored; failures are logged).
   */
  private async realise(request: ImageBuildRequest, progress: BuildProgress | undefined): Promise<KnownClosure & { remembered: Promise<void>; rootDir: string | undefined }> {
    const { nix, log } = this.deps;
    const signal = progress?.signal;
    const system = ARCHITECTURES[request.arch].nixSystem;
    const scope = closureScope(request.source.revision, request.source.nix, system);
    const known = await this.closures.lookup(scope, request.packages).catch(() => undefined);
    const nixLog = (text: string) => {
      if (BUILDING_OUTPUT.test(text)) progress?.phase('building', 'Nix builds what is not in the store yet');
      progress?.output(text);
    };
    const rootDir = known && (await nix.root(known.outputs, signal, nixLog));
    if (known && rootDir) {
      // Asked again (well under a millisecond): an output Nix had to build again may not have
      // the bytes, so the NAR hash, that was remembered.
      const graph = await removedOnFailure(rootDir, nix.closure(known.roots, signal));
      progress?.note(`nix: ${request.packages.join(' ')} known at this revision, ${graph.length} store paths in the store: no evaluation`);
      return { ...known, graph, remembered: Promise.resolve(), rootDir };
    }
    progress?.note(`nix-build: evaluating ${request.packages.join(' ')} for ${system}`);
    const realised = await nix.realise({ source: request.source.nix, system, packages: request.packages }, signal, nixLog);
    const graph = await removedOnFailure(realised.rootDir, nix.closure(realised.roots, signal));
    const remembered = this.closures.remember(scope, realised, graph).catch((error: unknown) => log.warn('could not remember the closures of packages', { error: String(error) }));
    return { roots: realised.roots, graph, packages: realised.packages, licenses: realised.licenses, remembered, rootDir: realised.rootDir };
  }

  /** The layer for a group of store paths: reused from its record, or packed (once at a time). */
  private storePathLayer(paths: readonly string[]): Promise<LayerInfo> {
    const recordKey = layerRecordKey(paths);
    return this.packing.run(recordKey, async () => {
      const { storage } = this.deps;
      const record = await storage.get(recordKey);
      if (record) {
        const layer = JSON.parse(record.toString('utf8')) as LayerInfo;
        if (await storage.stat(blobKey(layer.digest))) {
          layersStored.inc({ outcome: 'reused' });
          return layer;
        }
      }
      return packLayer(storage, storePathEntries(paths), (layer) => storage.put(recordKey, JSON.stringify(layer), 'application/json'));
    });
  }
}

/** What `work` gives; when it fails, `rootDir` (whose roots the caller never gets) is removed first. */
async function removedOnFailure<T>(rootDir: string | undefined, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (rootDir !== undefined) await rm(rootDir, { recursive: true, force: true });
    throw error;
  }
}
