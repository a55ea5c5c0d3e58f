import { describe, expect, it } from 'vitest';
import { newRecord, type BuildRecord } from '../builds/record.js';
import { decodeJob, deliveryAction, encodeJob, failureAction, JOB_VERSION, type BuildJob } from './job.js';

const job: BuildJob = {
  v: JOB_VERSION,
  id: '20261122T101500123Z-1a2b3c4d',
  key: 'a'.repeat(64),
  image: 'shell/hello',
  tag: 'latest',
  packages: ['bashInteractive', 'hello'],
  arch: 'amd64',
  hasShell: true,
  source: { revision: 'abc', nix: { srcType: 'path', srcArgs: '{"path":"/p"}' } },
  attempts: 0,
};

const record = (change: Partial<BuildRecord> = {}): BuildRecord => ({
  ...newRecord({ id: job.id, image: job.image, tag: job.tag, packages: job.packages, arch: job.arch, revision: 'abc', trigger: 'api', instance: '' }, new Date('2026-11-22T10:15:00Z')),
  ...change,
});

const decide = (change: Partial<BuildRecord> | undefined, options: { redelivered?: boolean; cancelRequested?: boolean; jobAttempts?: number } = {}) =>
  deliveryAction({
    job: { ...job, attempts: options.jobAttempts ?? job.attempts },
    record: change === undefined ? undefined : record(change),
    redelivered: options.redelivered ?? false,
    cancelRequested: options.cancelRequested ?? false,
    maxAttempts: 3,
  });

describe('build jobs', () => {
  it('round-trips through a message body', () => {
    expect(decodeJob(encodeJob(job))).toEqual(job);
  });

  it('refuses bodies that are not jobs of this version, saying what is wrong', () => {
    expect(() => decodeJob(Buffer.from('hello'))).toThrow('not JSON: "hello"');
    expect(() => decodeJob(encodeJob({ ...job, v: 2 as typeof JOB_VERSION }))).toThrow(/not a build job of version 1: v: /);
    expect(() => decodeJob(Buffer.from(JSON.stringify({ ...job, packages: [] })))).toThrow(/packages: /);
    expect(() => decodeJob(Buffer.from(JSON.stringify({ ...job, key: 'short' })))).toThrow(/key: /);
  });

  it('runs a new job, and a job redelivered after its replica died mid-build', () => {
    expect(decide({})).toBe('run');
    expect(decide({ status: 'building', attempts: 1, instance: 'a:1' }, { redelivered: true })).toBe('run');
    // A retry copy published after attempt 1 failed.
    expect(decide({ attempts: 1 }, { jobAttempts: 1 })).toBe('run');
  });

  it('acknowledges jobs with nothing left to do: no record, a final record, a copy a newer copy already started', () => {
    expect(decide(undefined)).toBe('drop');
    for (const status of ['succeeded', 'failed', 'cancelled'] as const) expect(decide({ status })).toBe('done');
    expect(decide({ status: 'building', attempts: 2 }, { jobAttempts: 1 })).toBe('stale');
    expect(decide({ status: 'building', attempts: 2 }, { jobAttempts: 0, redelivered: true })).toBe('stale');
  });

  it('cancels a job asked to be cancelled, and gives up a job whose replicas kept dying', () => {
    expect(decide({}, { cancelRequested: true })).toBe('cancel');
    expect(decide({ status: 'building', attempts: 3 }, { redelivered: true, jobAttempts: 2 })).toBe('exhausted');
    expect(decide({ status: 'building', attempts: 2 }, { redelivered: true, jobAttempts: 1 })).toBe('run');
  });

  it('retries transient failures with a doubling delay, dead-letters them after the last attempt, and fails the rest at once', () => {
    expect(failureAction('UNAVAILABLE', 1, 3, 1000)).toEqual({ kind: 'retry', afterMs: 1000 });
    expect(failureAction('NIX_TIMEOUT', 2, 3, 1000)).toEqual({ kind: 'retry', afterMs: 2000 });
    expect(failureAction('UNKNOWN', 3, 3, 1000)).toEqual({ kind: 'dead' });
    for (const code of ['MANIFEST_UNKNOWN', 'NIX_EVALUATION_ERROR', 'PACKAGE_BROKEN', 'PACKAGE_UNFREE', 'NIX_BUILD_FAILED'] as const) {
      expect(failureAction(code, 1, 3, 1000)).toEqual({ kind: 'fail' });
    }
  });
});
