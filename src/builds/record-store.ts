/**
 * Build records and logs in storage, so that every instance sees every build:
 * `build-records/<id>` (the record, JSON), `build-logs/<id>` (the log, text, rewritten while the
 * build runs) and `build-cancels/<id>` (a cancel request for a build another instance runs).
 * Final records never change again, so they are cached in memory.
 */
import { LRUCache } from 'lru-cache';
import type { Storage } from '../../storage/types.js';
import { BUILD_ID, isFinal, type BuildRecord } from './record.js';

const RECORDS = 'build-records/';
const LOGS = 'build-logs/';
const CANCELS = 'build-cancels/';

/** Reads and writes build records, logs and cancel requests. */
export class BuildRecordStore {
  private readonly finals = new LRUCache<string, BuildRecord>({ max: 10_000 });

  constructor(private readonly storage: Storage) {}

  /** Writes (or rewrites) a record. */
  async save(record: BuildRecord): Promise<void> {
    await this.storage.put(RECORDS + record.id, JSON.stringify(record), 'application/json');
    if (isFinal(record.status)) this.finals.set(record.id, record);
  }

  /** A record, or `undefined` when there is none with that id. */
  async load(id: string): Promise<BuildRecord | undefined> {
    if (!BUILD_ID.test(id)) return undefined;
    const cached = this.finals.get(id);
    if (cached) return cached;
    const body = await this.storage.get(RECORDS + id);
    if (!body) return undefined;
    const record = JSON.parse(body.toString('utf8')) as BuildRecord;
    if (isFinal(record.status)) this.finals.set(id, record);
    return record;
  }

  /** Every build id, newest first. */
  async ids(): Promise<string[]> {
    const keys = await this.storage.list(RECORDS);
    return keys
      .map((key) => key.slice(RECORDS.length))
      .filter((id) => BUILD_ID.test(id))
      .sort()
      .reverse();
  }

  /** Writes a build's log as it is now. */
  async saveLog(id: string, text: string): Promise<void> {
    await this.storage.put(LOGS + id, text, 'text/plain; charset=utf-8');
  }

  /** A build's stored log, or `undefined` when none was written. */
  async loadLog(id: string): Promise<string | undefined> {
    if (!BUILD_ID.test(id)) return undefined;
    return (await this.storage.get(LOGS + id))?.toString('utf8');
  }

  /** Asks the instance running build `id` to stop it. */
  async requestCancel(id: string): Promise<void> {
    await this.storage.put(CANCELS + id, new Date().toISOString(), 'text/plain');
  }

  /** Whether someone asked to stop build `id`. */
  async cancelRequested(id: string): Promise<boolean> {
    return (await this.storage.stat(CANCELS + id)) !== undefined;
  }

  /** Forgets a cancel request (once the build has ended). */
  async clearCancel(id: string): Promise<void> {
    await this.storage.delete(CANCELS + id);
  }

  /** Removes a record and its log (a build that never ran). */
  async remove(id: string): Promise<void> {
    this.finals.delete(id);
    await Promise.all([this.storage.delete(RECORDS + id), this.storage.delete(LOGS + id)]);
  }
}
