/**
 * A build that ended, counted into the build metrics: `nixyard_builds_total` by kind, trigger
 * and final status, its duration, and the time it spent in each phase (from its record's phases).
 */
import { buildDuration, buildPhaseDuration, buildsFinished } from '../metrics/metrics.js';
import { isFinal, type BuildRecord } from './record.js';

const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/** Counts `record` when its status ends the build (other statuses are ignored). */
export function observeFinishedBuild(record: BuildRecord): void {
  if (!isFinal(record.status)) return;
  const kind = record.source ? 'source' : 'packages';
  buildsFinished.inc({ kind, trigger: record.trigger, status: record.status });
  const end = record.finishedAt ?? record.updatedAt;
  buildDuration.observe({ kind, status: record.status }, seconds(record.createdAt, end));
  record.phases.forEach((phase, i) => {
    const next = record.phases[i + 1];
    if (next) buildPhaseDuration.observe({ kind, phase: phase.status }, seconds(phase.at, next.at));
  });
}
