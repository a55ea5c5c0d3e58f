/**
 * Google Cloud Storage backend, with Nixery's bucket layout (`layers/<sha256>`, `manifests/…`,
 * `builds/…`). Uploads stream to a `staging/` object and are committed by a create-only copy
 * (`ifGenerationMatch: 0`) then a delete: two instances racing on one layer never corrupt it,
 * the loser keeps the winner's object. Content types are object metadata. Transient errors are
 * retried with exponential backoff by the client library (all our writes are idempotent:
 * staging names are random and final keys are create-only or whole-object replacements).
 * Blobs are downloaded by clients straight from the bucket: V4 signed URLs when a service
 * account key is configured, public object URLs otherwise (as Nixery does).
 */
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IdempotencyStrategy, Storage as GcsClient, type File } from '@google-cloud/storage';
import { byteCounter } from './byte-counter.js';
import { checkedStorage } from './checked.js';
import { ObjectNotFoundError } from './errors.js';
import { newStagingKey } from './keys.js';
import type { ByteRange, ObjectInfo, StagedObject, Storage } from './types.js';

/** Settings of the GCS backend. */
export interface GcsOptions {
  bucket: string;
  /** Service-account key file: enables signed URLs (and authenticates, unless an emulator is used). */
  credentialsFile: string | undefined;
  /** API endpoint; set for an emulator (`http://127.0.0.1:4443`). */
  endpoint: string | undefined;
  /** Base of public object URLs (`https://storage.googleapis.com`). */
  publicUrl: string;
  /** Lifetime of signed URLs in seconds. */
  signedUrlSeconds: number;
}

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Creates the backend and checks that the bucket is reachable; throws a clear error otherwise. */
export async function createGcsStorage(options: GcsOptions): Promise<Storage> {
  const backend = new GcsStorage(options);
  await backend.checkAccess();
  return checkedStorage(backend);
}

/**
 * Runs `make` with STORAGE_EMULATOR_HOST out of the environment. The client library reads that
 * variable by itself and takes it as its whole base URL, so `127.0.0.1:4443` (the form
 * fake-gcs-server and Google's Go library document) sends requests to `/b/<bucket>/o` instead of
 * `/storage/v1/b/<bucket>/o`. The config has already turned the variable into `endpoint`.
 */
function withoutEmulatorVariable<T>(make: () => T): T {
  const value = process.env['STORAGE_EMULATOR_HOST'];
  delete process.env['STORAGE_EMULATOR_HOST'];
  try {
    return make();
  } finally {
    if (value !== undefined) process.env['STORAGE_EMULATOR_HOST'] = value;
  }
}

class GcsStorage implements Storage {
  readonly name = 'gcs';
  private readonly client: GcsClient;

  constructor(private readonly options: GcsOptions) {
    this.client = withoutEmulatorVariable(
      () =>
        new GcsClient({
          ...(options.endpoint ? { apiEndpoint: options.endpoint } : {}),
          ...(options.credentialsFile ? { keyFilename: options.credentialsFile } : {}),
          retryOptions: { autoRetry: true, maxRetries: 5, retryDelayMultiplier: 2, totalTimeout: 120, idempotencyStrategy: IdempotencyStrategy.RetryAlways },
        }),
    );
  }

  private file(key: string): File {
    return this.client.bucket(this.options.bucket).file(key);
  }

  /**
   * Fails with the bucket name and the reason when the bucket cannot be read. Lists one object
   * (needs only `storage.objects.list`, which roles/storage.objectAdmin grants, unlike reading
   * the bucket's own metadata).
   */
  async checkAccess(): Promise<void> {
    try {
      await this.client.bucket(this.options.bucket).getFiles({ maxResults: 1, autoPaginate: false });
    } catch (error) {
      const reason = statusOf(error) === 404 ? 'the bucket does not exist' : (error as Error).message;
      throw new Error(`GCS_BUCKET=${this.options.bucket} is not usable: ${reason}; check the bucket name and that the service account has roles/storage.objectAdmin on it`, { cause: error });
    }
  }

  async put(key: string, body: Buffer | string, contentType: string): Promise<void> {
    await this.file(key).save(typeof body === 'string' ? Buffer.from(body) : body, { resumable: false, contentType, metadata: { contentType } });
  }

  async stage(body: Readable, contentType: string): Promise<StagedObject> {
    const staging = this.file(newStagingKey());
    const counter = byteCounter();
    try {
      await pipeline(body, counter.stream, staging.createWriteStream({ resumable: false, contentType, metadata: { contentType } }));
    } catch (error) {
      await staging.delete({ ignoreNotFound: true }).catch(() => undefined);
      throw error;
    }
    return {
      size: counter.bytes(),
      commit: async (key) => {
        try {
          // The precondition makes the copy create-only on GCS; the check before it also covers
          // servers that ignore preconditions on copies (fake-gcs-server does).
          const [exists] = await this.file(key).exists();
          if (!exists) await staging.copy(this.file(key), { preconditionOpts: { ifGenerationMatch: 0 } });
        } catch (error) {
          // 412: the key exists already (a racing writer won); its object is kept.
          if (statusOf(error) !== 412) throw error;
        } finally {
          await staging.delete({ ignoreNotFound: true });
        }
      },
      discard: async () => {
        await staging.delete({ ignoreNotFound: true });
      },
    };
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [metadata] = await this.file(key).getMetadata();
      return {
        size: Number(metadata.size ?? 0),
        contentType: metadata.contentType ?? DEFAULT_CONTENT_TYPE,
        updated: new Date(metadata.updated ?? metadata.timeCreated ?? 0),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const [contents] = await this.file(key).download();
      return contents;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    if (!(await this.stat(key))) throw new ObjectNotFoundError(key);
    return this.file(key).createReadStream({ validation: false, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async copyTo(key: string, destination: Writable, range?: ByteRange): Promise<void> {
    const source = await this.read(key, range);
    try {
      await pipeline(source, destination);
    } catch (error) {
      if (!destination.destroyed) throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const [files] = await this.client.bucket(this.options.bucket).getFiles({ prefix, autoPaginate: true });
    return files.map((file) => file.name).sort();
  }

  async delete(key: string): Promise<void> {
    await this.file(key).delete({ ignoreNotFound: true });
  }

  async downloadUrl(key: string): Promise<string> {
    if (this.options.credentialsFile) {
      const [url] = await this.file(key).getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + this.options.signedUrlSeconds * 1000 });
      return url;
    }
    const base = this.options.publicUrl.replace(/\/+$/, '');
    return `${base}/${this.options.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }
}
