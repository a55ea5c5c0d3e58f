import { describe, expect, it } from 'vitest';
import { newRecord } from '../builds/record.js';
import { attempted, pendingDelivery, withDelivery } from './deliveries.js';

const record = newRecord({ id: '20261122T101500123Z-1a2b3c4d', image: 'hello', tag: 'latest', packages: ['hello'], arch: 'amd64', revision: 'r', trigger: 'api', instance: 'i' }, new Date('2026-11-22T10:15:00Z'));

describe('notification deliveries in a record', () => {
  it('adds one delivery per status, pending first, replaced by each attempt', () => {
    const pending = withDelivery(record, pendingDelivery('building'));
    expect(pending.notifications).toEqual([{ status: 'building', attempts: 0, delivered: false, lastAttemptAt: null, lastResult: null }]);
    const both = withDelivery(pending, pendingDelivery('succeeded'));
    const at = new Date('2026-11-22T10:15:03Z');
    const tried = withDelivery(both, attempted('building', 2, true, at, 'HTTP 204'));
    expect(tried.notifications).toEqual([
      { status: 'building', attempts: 2, delivered: true, lastAttemptAt: '2026-11-22T10:15:03.000Z', lastResult: 'HTTP 204' },
      { status: 'succeeded', attempts: 0, delivered: false, lastAttemptAt: null, lastResult: null },
    ]);
    // Records are values: the ones before are unchanged, and nothing else changes.
    expect(record.notifications).toEqual([]);
    expect(both.notifications).toHaveLength(2);
    expect({ ...tried, notifications: [] }).toEqual(record);
  });
});
