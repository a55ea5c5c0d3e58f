/** The most recent builds of this instance, for the index page (newest first, bounded). */
import type { ErrorCode } from '../errors.js';

/** One finished build. */
export interface BuildSummary {
  packages: string[];
  arch: string;
  revision: string;
  finishedAt: Date;
  durationMs: number;
  outcome: { status: 'succeeded'; digest: string; layers: number } | { status: 'failed'; code: ErrorCode; message: string };
}

/** Keeps the last `capacity` builds. */
export class BuildHistory {
  private readonly entries: BuildSummary[] = [];

  constructor(private readonly capacity = 50) {}

  /** Records a finished build. */
  add(summary: BuildSummary): void {
    this.entries.unshift(summary);
    if (this.entries.length > this.capacity) this.entries.length = this.capacity;
  }

  /** Recent builds, newest first. */
  recent(limit = this.capacity): BuildSummary[] {
    return this.entries.slice(0, limit);
  }

  /** Recent failed builds, newest first. */
  failures(limit = this.capacity): BuildSummary[] {
    return this.entries.filter((entry) => entry.outcome.status === 'failed').slice(0, limit);
  }
}
