import { describe, expect, it } from 'vitest';
import { BUILD_ID, enterStatus, fail, newBuildId, newRecord, phaseDurations, succeed, totalDuration } from './record.js';

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 22, 10, 0, seconds));
const queued = newRecord({ id: newBuildId(at(0), '1a2b3c4d'), image: 'shell/git', tag: 'latest', packages: ['git'], arch: 'amd64', revision: 'r', trigger: 'api', instance: 'i' }, at(0));

describe('build records', () => {
  it('make sortable ids that are valid storage key segments', () => {
    expect(queued.id).toBe('20261122T100000000Z-1a2b3c4d');
    expect(BUILD_ID.test(queued.id)).toBe(true);
    expect(newBuildId(at(1), '00000000') > queued.id).toBe(true);
  });

  it('record each phase with its start and time the phases', () => {
    const done = succeed(enterStatus(enterStatus(queued, 'evaluating', at(2)), 'packing', at(5)), { layers: [{ digest: 'sha256:a', size: 1 }], manifestDigest: 'sha256:m' }, at(6));
    expect(done.phases.map((phase) => phase.status)).toEqual(['queued', 'evaluating', 'packing', 'succeeded']);
    expect(done.finishedAt).toBe(at(6).toISOString());
    expect(phaseDurations(done, at(100))).toEqual({ queued: 2000, evaluating: 3000, packing: 1000 });
    expect(totalDuration(done, at(100))).toBe(6000);
  });

  it('time a running build up to now and ignore a repeated status', () => {
    const running = enterStatus(enterStatus(queued, 'building', at(1)), 'building', at(3));
    expect(running.phases).toHaveLength(2);
    expect(phaseDurations(running, at(4))).toEqual({ queued: 1000, building: 3000 });
    expect(totalDuration(running, at(4))).toBe(4000);
  });

  it('end once: a failed or cancelled build cannot move on', () => {
    const cancelled = fail(queued, { code: 'BUILD_CANCELLED', message: 'stop' }, at(1), 'cancelled');
    expect(cancelled).toMatchObject({ status: 'cancelled', error: { code: 'BUILD_CANCELLED' } });
    expect(() => enterStatus(cancelled, 'building', at(2))).toThrow('has already cancelled');
  });
});
