/**
 * The `pushing` phase: a built image copied to each of its push targets, one reference at a
 * time, with skopeo reading it from a loopback export of storage (see `image-export.ts`,
 * `skopeo.ts`). The record's `pushes` say, per target, what was written, the digest the target
 * stored (checked to be the image's) and the bytes sent. The first failure fails the build with
 * the target and the registry's words; the remaining targets are not tried, and a target's tag
 * is only written by the manifest PUT that ends a successful copy, so nothing half-pushed ever
 * looks pushed.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Storage } from '../../storage/types.js';
import type { BuildProgress } from '../builds/build-runner.js';
import { pendingPush, type PushResult } from '../builds/record.js';
import { RegistryError, toRegistryError } from '../errors.js';
import type { Document } from '../image/manifest.js';
import { formatBytes, formatDuration } from '../units.js';
import { exportedImage, exportImage } from './image-export.js';
import { isInsecure, parsePushTarget, referencesOf } from './reference.js';
import { Skopeo } from './skopeo.js';

/** How pushes are made (`push` of the config). */
export interface PushSettings {
  /** The skopeo program (`NIXYARD_SKOPEO`). */
  skopeo: string;
  /** Docker `config.json` / containers `auth.json` with the targets' credentials (`NIXYARD_PUSH_AUTH_FILE`). */
  authFile: string | undefined;
  /** PEM CA certificates trusted for targets besides the system's (`NIXYARD_PUSH_CA_FILE`). */
  caFile: string | undefined;
  /** Registries reached over plain HTTP or unverified TLS (`NIXYARD_PUSH_INSECURE`). */
  insecure: string[];
  /** Longest one copy may take, in seconds (`NIXYARD_PUSH_TIMEOUT`). */
  timeoutSeconds: number;
}

/** Pushes built images to external registries. */
export class Pusher {
  private constructor(
    private readonly storage: Storage,
    private readonly settings: PushSettings,
    private readonly skopeo: Skopeo,
    private readonly workDir: string,
    private readonly authFile: string,
    private readonly certDir: string | undefined,
  ) {}

  /**
   * A pusher working under `dir` (skopeo's home, the CA directory, digest files). Without an
   * auth file, skopeo gets an empty one: only credentials the operator configured are used.
   */
  static async create(storage: Storage, settings: PushSettings, dir: string): Promise<Pusher> {
    const home = join(dir, 'home');
    await mkdir(home, { recursive: true });
    let authFile = settings.authFile;
    if (!authFile) {
      authFile = join(dir, 'no-credentials.json');
      await writeFile(authFile, '{"auths":{}}\n', { mode: 0o600 });
    }
    let certDir: string | undefined;
    if (settings.caFile) {
      certDir = join(dir, 'ca');
      await mkdir(certDir, { recursive: true });
      await copyFile(settings.caFile, join(certDir, 'ca.crt'));
    }
    return new Pusher(storage, settings, new Skopeo(settings.skopeo, home), dir, authFile, certDir);
  }

  /** skopeo's version, or why it does not run. */
  version(): Promise<string> {
    return this.skopeo.version();
  }

  /**
   * Pushes `manifest` (stored, with its blobs) to each target under `tags` (the build's tag
   * first); reports through `progress`; throws the first failure (see the module comment).
   */
  async push(manifest: Document, targets: readonly string[], tags: readonly string[], progress: BuildProgress): Promise<PushResult[]> {
    const results = targets.map(pendingPush);
    const report = () => progress.annotate({ pushes: results.map((result) => ({ ...result })) });
    progress.phase('pushing', `to ${targets.join(', ')}`);
    const image = exportedImage(manifest);
    const source = await exportImage(this.storage, image);
    const digestDir = await mkdtemp(join(this.workDir, 'digest-'));
    try {
      for (const [index, to] of targets.entries()) {
        const result = results[index] as PushResult;
        const started = Date.now();
        const target = parsePushTarget(to);
        const before = source.sent().length;
        try {
          for (const destination of referencesOf(target, tags)) {
            const digest = await this.skopeo.copy(
              { source: source.reference, destination, authFile: this.authFile, certDir: this.certDir, insecure: isInsecure(target.registry, this.settings.insecure), digestFile: join(digestDir, 'digest') },
              target.registry,
              { signal: progress.signal, timeoutMs: this.settings.timeoutSeconds * 1000 },
            );
            if (digest !== manifest.digest) {
              throw new RegistryError('PUSH_REFUSED', `push to ${destination}: the target stored the manifest as ${digest}, not as ${manifest.digest} (it rewrote the image); push to a registry that keeps manifests as they are`, { detail: { target: destination } });
            }
            result.references.push(destination);
            result.digest = digest;
          }
        } catch (error) {
          result.status = 'failed';
          result.error = toRegistryError(error).message;
          report();
          throw error;
        }
        // skopeo reads a layer only to upload it; the config it reads every time.
        const sent = source.sent().slice(before);
        const layers = sent.filter((blob) => blob.digest !== image.config);
        result.status = 'pushed';
        result.layersUploaded = new Set(layers.map((blob) => blob.digest)).size;
        result.bytesUploaded = sent.reduce((sum, blob) => sum + blob.bytes, 0);
        report();
        progress.note(`pushed ${result.references.join(', ')} in ${formatDuration(Date.now() - started)}: ${result.layersUploaded} of ${image.blobs.length - 1} layers sent (${formatBytes(result.bytesUploaded)} with the config), the others the target had`);
      }
      return results;
    } finally {
      await source.close();
      await rm(digestDir, { recursive: true, force: true });
    }
  }
}
