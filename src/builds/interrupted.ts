/**
 * Builds whose instance died (kill -9, out of memory, a lost machine) leave records that say
 * `evaluating` or `packing` for ever. A running build rewrites its record every
 * {@link HEARTBEAT_SECONDS}; a record not rewritten for three heartbeats belongs to an instance
 * that is gone, and whichever instance reads it ends it as `BUILD_INTERRUPTED`. An instance
 * that starts again on the same host ends at once the records its earlier life left running.
 */
import { HEARTBEAT_SECONDS } from './build-runner.js';
import { fail, isFinal, type BuildRecord } from './record.js';

/** A running record not rewritten for this long belongs to an instance that is gone. */
export const STALE_MS = 3 * HEARTBEAT_SECONDS * 1000;

/** Whether `record` runs on an instance that stopped rewriting it (a build waiting in RabbitMQ, on no instance, never is). */
export function isStale(record: BuildRecord, now: Date): boolean {
  return !isFinal(record.status) && record.instance !== '' && now.getTime() - Date.parse(record.updatedAt) > STALE_MS;
}

/** `host:pid[/n]` → its parts; `undefined` for other names. */
export function parseInstance(instance: string): { host: string; pid: number } | undefined {
  const match = /^(.+):(\d+)(?:\/\d+)?$/.exec(instance);
  return match ? { host: match[1] as string, pid: Number(match[2]) } : undefined;
}

/**
 * Whether `record` was left running by an earlier life of the instance `self` on this host:
 * the same name (a container restarted with the same pid), or the same host and a process that
 * is gone. A live process on the host (another replica) keeps its builds.
 */
export function leftByEarlierLife(record: BuildRecord, self: { instance: string; host: string; isAlive(pid: number): boolean }): boolean {
  if (isFinal(record.status) || record.instance === '') return false;
  if (record.instance === self.instance) return true;
  const parsed = parseInstance(record.instance);
  return parsed !== undefined && parsed.host === self.host && !self.isAlive(parsed.pid);
}

/** `record` ended as interrupted, saying which instance stopped and when it was last heard of. */
export function interrupt(record: BuildRecord, now: Date, why: 'restarted' | 'silent'): BuildRecord {
  const cause =
    why === 'restarted'
      ? `the instance running it (${record.instance}) stopped and started again`
      : `the instance running it (${record.instance}) stopped rewriting its record (last at ${record.updatedAt})`;
  return fail(record, { code: 'BUILD_INTERRUPTED', message: `${cause} while the build was ${record.status}; retry the build (POST /v1/builds/${record.id}/retry) or pull again` }, now);
}
