/**
 * Build records and logs in storage, so that every instance sees every build: the record
 * (JSON), the log (text, rewritten while the build runs) and cancel requests for builds another
 * instance runs (keys in `storage/keys.ts`). Final records never change again, so they are
 * cached in memory.
 */
import { LRUCache } from 'lru-cache';
import { BUILD_RECORDS_PREFIX, buildCancelKey, buildLogKey, buildRecordKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import { BUILD_ID, isFinal, type BuildRecord } from './record.js';

/** Reads and writes build records, logs and cancel requests. */
export class BuildRecordStore {
  private readonly finals = new LRUCache<string, BuildRecord>({ max: 10_000 });

  constructor(private readonly storage: Storage) {}

  /** Writes (or rewrites) a record. */
  async save(record: BuildRecord): Promise<void> {
    await this.storage.put(buildRecordKey(record.id), JSON.stringify(record), 'application/json');
    if (isFinal(record.status)) this.finals.set(record.id, record);
  }

  /** A record, or `undefined` when there is none with that id. */
  async load(id: string): Promise<BuildRecord | undefined> {
    if (!BUILD_ID.test(id)) return undefined;
    const cached = this.finals.get(id);
    if (cached) return cached;
    const body = await this.storage.get(buildRecordKey(id));
    if (!body) return undefined;
    const record = JSON.parse(body.toString('utf8')) as BuildRecord;
    if (isFinal(record.status)) this.finals.set(id, record);
    return record;
  }

  /** Every build id, newest first. */
  async ids(): Promise<string[]> {
    const keys = await this.storage.list(BUILD_RECORDS_PREFIX);
    return keys
      .map((key) => key.slice(BUILD_RECORDS_PREFIX.length))
      .filter((id) => BUILD_ID.test(id))
      .sort()
      .reverse();
  }

  /** Writes a build's log as it is now. */
  async saveLog(id: string, text: string): Promise<void> {
    await this.storage.put(buildLogKey(id), text, 'text/plain; charset=utf-8');
  }

  /** A build's stored log, or `undefined` when none was written. */
  async loadLog(id: string): Promise<string | undefined> {
    if (!BUILD_ID.test(id)) return undefined;
    return (await this.storage.get(buildLogKey(id)))?.toString('utf8');
  }

  /** Asks the instance running build `id` to stop it. */
  async requestCancel(id: string): Promise<void> {
    await this.storage.put(buildCancelKey(id), new Date().toISOString(), 'text/plain');
  }

  /** Whether someone asked to stop build `id`. */
  async cancelRequested(id: string): Promise<boolean> {
    return (await this.storage.stat(buildCancelKey(id))) !== undefined;
  }

  /** Forgets a cancel request (once the build has ended). */
  async clearCancel(id: string): Promise<void> {
    await this.storage.delete(buildCancelKey(id));
  }

  /** Removes a record and its log (a build that never ran). */
  async remove(id: string): Promise<void> {
    this.finals.delete(id);
    await Promise.all([this.storage.delete(buildRecordKey(id)), this.storage.delete(buildLogKey(id))]);
  }
}
