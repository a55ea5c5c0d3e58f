import { describe, expect, it } from 'vitest';
import { BUILD_STATUSES, newRecord, type BuildRecord, type BuildStatus } from '../builds/record.js';
import type { BuildStats } from '../builds/types.js';
import {
  CLEAR_LINE,
  formatBuildList,
  formatBuildRecord,
  formatFinalLine,
  formatPhases,
  formatStats,
  formatTable,
  ProgressLine,
  progressText,
} from './builds-format.js';
import { formatBytes, formatDuration, formatTime } from '../units.js';

const ID = '20261122T101500123Z-1a2b3c4d';
const T0 = Date.parse('2026-11-22T10:15:00.123Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** A record that went through `phases` (status, ms after creation); final when the last status is. */
function record(phases: [BuildStatus, number][], extra: Partial<BuildRecord> = {}): BuildRecord {
  const base = newRecord({ id: ID, image: 'shell/git', tag: 'latest', packages: ['bash', 'git'], arch: 'amd64', revision: 'abc123', trigger: 'api', instance: 'host-1' }, new Date(T0));
  const [last] = phases.slice(-1);
  const final = last !== undefined && ['succeeded', 'failed', 'cancelled'].includes(last[0]);
  return {
    ...base,
    status: last?.[0] ?? 'queued',
    phases: [{ status: 'queued', at: at(0) }, ...phases.map(([status, ms]) => ({ status, at: at(ms) }))],
    finishedAt: final && last ? at(last[1]) : null,
    attempts: 1,
    ...extra,
  };
}

describe('formatDuration', () => {
  it.each([
    [null, '-'],
    [-5, '0ms'],
    [0, '0ms'],
    [850, '850ms'],
    [1000, '1.0s'],
    [3_470, '3.4s'],
    [9_999, '9.9s'],
    [10_000, '10s'],
    [59_999, '59s'],
    [60_000, '1m 00s'],
    [185_000, '3m 05s'],
    [3_600_000, '1h 00m'],
    [3_720_000 + 59_000, '1h 02m'],
  ])('%j ms is %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('formatBytes and formatTime', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [12.3 * 1024 * 1024, '12.3 MiB'],
    [1.1 * 1024 ** 3, '1.1 GiB'],
  ])('%d bytes is %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  it('shows UTC to the second, and anything else unchanged', () => {
    expect(formatTime('2026-11-22T10:15:00.123Z')).toBe('2026-11-22 10:15:00');
    expect(formatTime('2026-11-22T11:15:00+01:00')).toBe('2026-11-22 10:15:00');
    expect(formatTime('soon')).toBe('soon');
  });
});

describe('formatTable', () => {
  it('aligns columns two spaces apart without trailing blanks', () => {
    expect(formatTable(['A', 'LONG'], [['xyz', '1'], ['q', '']])).toBe('A    LONG\nxyz  1\nq\n');
  });
});

describe('formatBuildList', () => {
  const now = new Date(T0 + 60_000);
  it('tabulates the page, a running build with its duration so far', () => {
    const text = formatBuildList({ builds: [record([['evaluating', 500]]), record([['building', 1000], ['succeeded', 12_000]], { id: '20261122T101400000Z-00000000', tag: '1.0' })], next: null }, now);
    expect(text).toBe(
      'ID                            STATUS      IMAGE             ARCH   TRIGGER  CREATED (UTC)        DURATION\n' +
        `${ID}  evaluating  shell/git:latest  amd64  api      2026-11-22 10:15:00  1m 00s+\n` +
        '20261122T101400000Z-00000000  succeeded   shell/git:1.0     amd64  api      2026-11-22 10:15:00  12s\n',
    );
  });

  it('says when there are no builds, and gives the command for the next page with the same filters', () => {
    expect(formatBuildList({ builds: [], next: null }, now)).toBe('no builds\n');
    const text = formatBuildList({ builds: [record([])], next: ID }, now, { status: ['failed', 'cancelled'], image: 'shell/git', limit: 1 });
    expect(text.split('\n').at(-2)).toBe(`more builds: nixyard builds list --status failed,cancelled --image shell/git --limit 1 --cursor ${ID}`);
  });
});

describe('formatBuildRecord', () => {
  it('shows a succeeded build with its phases, layers and manifest', () => {
    const built = record(
      [
        ['evaluating', 100],
        ['building', 1_300],
        ['packing', 4_300],
        ['uploading', 4_800],
        ['succeeded', 5_000],
      ],
      { layers: [{ digest: 'sha256:aaa', size: 5 * 1024 * 1024 }, { digest: 'sha256:bbb', size: 300 }], manifestDigest: 'sha256:mmm', retryOf: '20261122T101000000Z-ffffffff' },
    );
    expect(formatBuildRecord(built, new Date(T0 + 99_000))).toBe(`build     ${ID}
status    succeeded
image     shell/git:latest
packages  bash git
arch      amd64
revision  abc123
trigger   api (retry of 20261122T101000000Z-ffffffff)
attempts  1
instance  host-1
created   2026-11-22 10:15:00 UTC
finished  2026-11-22 10:15:05 UTC
phases    queued      100ms
          evaluating  1.2s
          building    3.0s
          packing     500ms
          uploading   200ms
          total       5.0s
layers    5.0 MiB  sha256:aaa
            300 B  sha256:bbb
          5.0 MiB  in 2 layers
manifest  sha256:mmm
`);
  });

  it('shows the error of a failed build, its message indented, and the running phase so far', () => {
    const failed = record([['evaluating', 100], ['failed', 2_100]], { error: { code: 'NIX_BUILD_FAILED', message: 'builder failed\nlast line' } });
    const text = formatBuildRecord(failed, new Date(T0 + 99_000));
    expect(text).toContain('error     NIX_BUILD_FAILED: builder failed\n          last line\n');
    expect(text).toContain('layers    -\nmanifest  -\n');
    expect(formatPhases(record([['building', 1000]]), new Date(T0 + 4_000))).toBe('queued    1.0s\nbuilding  3.0s\nso far    4.0s');
  });
});

describe('formatStats', () => {
  it('shows counts, averages and the slots of the instance', () => {
    const counts = Object.fromEntries(BUILD_STATUSES.map((status) => [status, 0])) as Record<BuildStatus, number>;
    const stats: BuildStats = {
      window: 200,
      counts: { ...counts, building: 1, succeeded: 5, failed: 2 },
      queued: 0,
      running: 1,
      succeeded: 5,
      failed: 2,
      cancelled: 0,
      averageDurationMs: { total: 12_000, evaluating: 1_500, building: 9_000 },
      instance: { id: 'host-1', running: 1, queued: 0, maxBuilds: 4 },
      queue: { backend: 'rabbitmq', connected: true, waiting: 3, consumers: 2, retrying: 1, dead: 0 },
    };
    expect(formatStats(stats)).toBe(`builds     the last 200: 0 queued, 1 running, 5 succeeded, 2 failed, 0 cancelled
by status  building 1, succeeded 5, failed 2
average    12s in total; evaluating 1.5s, building 9.0s
instance   host-1: 1 of 4 build slots busy, 0 waiting
queue      rabbitmq: 3 waiting, 2 consumers, 1 retrying, 0 dead
`);
    expect(formatStats({ ...stats, queue: { backend: 'rabbitmq', connected: false, waiting: null, consumers: null, retrying: null, dead: null } })).toContain('queue      rabbitmq: not connected\n');
    expect(formatStats({ ...stats, queue: { backend: 'in-process', connected: true, waiting: 0, consumers: 1, retrying: 0, dead: 0 } })).toContain('queue      in process (no NIXYARD_AMQP_URL)\n');
    expect(formatStats({ ...stats, counts, averageDurationMs: { total: null } })).toContain('by status  -\naverage    - in total\n');
  });
});

describe('ProgressLine', () => {
  const building = { id: ID, image: 'hello', tag: 'latest', status: 'building' as const };

  it('on a TTY rewrites one line in place and clears it', () => {
    const line = new ProgressLine(true);
    expect(line.clear()).toBe('');
    expect(line.update({ ...building, status: 'queued' }, 20)).toBe(`${CLEAR_LINE}build ${ID} (hello:latest): queued 20ms`);
    expect(line.update(building, 2_000)).toBe(`${CLEAR_LINE}build ${ID} (hello:latest): building 2.0s`);
    expect(line.update(building, 3_000)).toBe(`${CLEAR_LINE}build ${ID} (hello:latest): building 3.0s`);
    expect(line.clear()).toBe(CLEAR_LINE);
    expect(line.clear()).toBe('');
  });

  it('elsewhere writes one line per status change and never clears', () => {
    const line = new ProgressLine(false);
    expect(line.update({ ...building, status: 'queued' }, 20)).toBe(`${progressText({ ...building, status: 'queued' }, 20)}\n`);
    expect(line.update(building, 2_000)).toBe(`build ${ID} (hello:latest): building 2.0s\n`);
    expect(line.update(building, 3_000)).toBe('');
    expect(line.clear()).toBe('');
  });
});

describe('formatFinalLine', () => {
  const now = new Date(T0 + 99_000);
  it('says how the build ended, after how long, and with what', () => {
    expect(formatFinalLine(record([['succeeded', 4_000]], { manifestDigest: 'sha256:m' }), now)).toBe(`build ${ID} (shell/git:latest) succeeded in 4.0s: manifest sha256:m\n`);
    expect(formatFinalLine(record([['failed', 2_000]], { error: { code: 'NIX_BUILD_FAILED', message: 'first\nsecond' } }), now)).toBe(
      `build ${ID} (shell/git:latest) failed after 2.0s: NIX_BUILD_FAILED: first\n`,
    );
    expect(formatFinalLine(record([['cancelled', 2_000]]), now)).toBe(`build ${ID} (shell/git:latest) cancelled after 2.0s\n`);
    expect(formatFinalLine(record([['building', 2_000]]), now)).toBe(`build ${ID} (shell/git:latest) is still building after 1m 39s\n`);
  });
});
