/** Durations and sizes for people, the same in the CLI, the web pages and build logs (pure). */

/**
 * A duration for people: `850ms`, `3.4s` (one decimal below 10 s), `42s`, `3m 05s`, `1h 02m`;
 * `-` when unknown. Negative durations (clock skew) count as 0.
 */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const value = Math.max(0, ms);
  if (value < 1000) return `${Math.round(value)}ms`;
  if (value < 10_000) return `${(Math.floor(value / 100) / 10).toFixed(1)}s`;
  const seconds = Math.floor(value / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** A size for people in binary units: `512 B`, `1.5 KiB`, `12.3 MiB`, `1.1 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** An ISO 8601 time as `2026-11-22 10:15:00` (UTC, to the second); the input itself when it is not a time. */
export function formatTime(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : new Date(time).toISOString().slice(0, 19).replace('T', ' ');
}

/** Where a build runs, for people: its instance, or that it waits in the queue for one. */
export function formatInstance(instance: string): string {
  return instance === '' ? '- (waiting in the queue for a replica)' : instance;
}
