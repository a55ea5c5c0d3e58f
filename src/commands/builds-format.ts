/**
 * Text for `nixyard builds` (pure): tables of builds, one build as a block, the statistics,
 * durations, sizes and UTC times, and the live progress line. Takes data (and `now` where a
 * running build's duration depends on it) and returns strings; the command writes them.
 */
import { BUILD_STATUSES, isFinal, phaseDurations, totalDuration, type BuildRecord, type BuildStatus } from '../builds/record.js';
import type { BuilderType, BuildPage, BuildStats } from '../builds/types.js';
import { formatBytes, formatDuration, formatInstance, formatTime } from '../units.js';

/** ANSI "carriage return, erase the line": where a rewritten progress line starts. */
export const CLEAR_LINE = '\r\x1b[K';

/** Left-aligned columns two spaces apart, the header row first; no trailing blanks. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n') + '\n';
}

/** `image:tag` of a record. */
export const imageReference = (record: Pick<BuildRecord, 'image' | 'tag'>): string => `${record.image}:${record.tag}`;

/** The filters of a `list` command, repeated in the hint for the next page. */
export interface ListFilters {
  status?: readonly string[];
  image?: string;
  limit?: number;
}

/**
 * One page of builds as a table (id, status, image:tag, arch, trigger, created, duration), then,
 * when there is a next page, the command that shows it.
 */
export function formatBuildList(page: BuildPage, now: Date, filters: ListFilters = {}): string {
  let text =
    page.builds.length === 0
      ? 'no builds\n'
      : formatTable(
          ['ID', 'STATUS', 'IMAGE', 'ARCH', 'TRIGGER', 'CREATED (UTC)', 'DURATION'],
          page.builds.map((record) => [
            record.id,
            record.status,
            imageReference(record),
            record.arch,
            record.trigger,
            formatTime(record.createdAt),
            formatDuration(totalDuration(record, now)) + (isFinal(record.status) ? '' : '+'),
          ]),
        );
  if (page.next !== null) {
    const flags = [
      ...(filters.status && filters.status.length > 0 ? [`--status ${filters.status.join(',')}`] : []),
      ...(filters.image !== undefined ? [`--image ${filters.image}`] : []),
      ...(filters.limit !== undefined ? [`--limit ${filters.limit}`] : []),
      `--cursor ${page.next}`,
    ];
    text += `more builds: nixyard builds list ${flags.join(' ')}\n`;
  }
  return text;
}

/** `label  value` lines with the labels padded to one width; a multi-line value is indented under its first line. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  const indent = ' '.repeat(width + 2);
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${value.split('\n').join(`\n${indent}`)}`.trimEnd()).join('\n') + '\n';
}

/** Each phase the build went through with its duration (the running one up to `now`), then the total. */
export function formatPhases(record: BuildRecord, now: Date): string {
  const durations = phaseDurations(record, now);
  const seen = new Set<BuildStatus>();
  const rows: string[][] = [];
  for (const phase of record.phases) {
    if (isFinal(phase.status) || seen.has(phase.status)) continue;
    seen.add(phase.status);
    rows.push([phase.status, formatDuration(durations[phase.status])]);
  }
  rows.push([isFinal(record.status) ? 'total' : 'so far', formatDuration(totalDuration(record, now))]);
  const width = Math.max(...rows.map(([name]) => (name ?? '').length));
  return rows.map(([name, duration]) => `${(name ?? '').padEnd(width)}  ${duration}`).join('\n');
}

/** One build as a readable block: what was built, how it went (phases, error) and what came out (layers, manifest). */
export function formatBuildRecord(record: BuildRecord, now: Date): string {
  const fields: [string, string][] = [
    ['build', record.id],
    ['status', record.status],
    ['image', imageReference(record)],
    ['packages', record.packages.length > 0 ? record.packages.join(' ') : '-'],
    ['arch', record.arch],
    ['revision', record.revision || '-'],
    ['trigger', record.trigger + (record.retryOf ? ` (retry of ${record.retryOf})` : '')],
    ['attempts', String(record.attempts)],
    ['instance', formatInstance(record.instance)],
    ['created', `${formatTime(record.createdAt)} UTC`],
    ['finished', record.finishedAt ? `${formatTime(record.finishedAt)} UTC` : '-'],
    ['phases', formatPhases(record, now)],
  ];
  if (record.source) {
    const { repo, ref, commit, dir } = record.source;
    fields.push(['source', `${repo} ${ref ?? '(default branch)'}${commit ? ` at ${commit}` : ''}${dir ? `, in ${dir}` : ''}`]);
  }
  if (record.plan) {
    const { planner, provider, phases, start } = record.plan;
    fields.push(['plan', [`${planner}, provider ${provider ?? 'none'}`, ...phases.map((phase) => `${phase.name}: ${phase.cmds.join(' && ')}`), `start: ${start}`].join('\n')]);
  }
  if (record.error) fields.push(['error', `${record.error.code}: ${record.error.message}`]);
  if (record.layers.length > 0) {
    const total = record.layers.reduce((sum, layer) => sum + layer.size, 0);
    const sizes = record.layers.map((layer) => formatBytes(layer.size));
    const width = Math.max(...sizes.map((size) => size.length));
    const lines = record.layers.map((layer, i) => `${(sizes[i] ?? '').padStart(width)}  ${layer.digest}`);
    lines.push(`${formatBytes(total).padStart(width)}  in ${record.layers.length} layer${record.layers.length === 1 ? '' : 's'}`);
    fields.push(['layers', lines.join('\n')]);
  } else fields.push(['layers', '-']);
  fields.push(['manifest', record.manifestDigest ?? '-']);
  return formatFields(fields);
}

/** The kinds of build, one block each: what they build, whether they run here, the planner's version and providers. */
export function formatBuilders(builders: readonly BuilderType[]): string {
  return builders
    .map((builder) =>
      formatFields([
        ['kind', builder.kind],
        ['builds', builder.description],
        ['names', builder.names],
        ['available', builder.available ? 'yes' : 'no (see the registry log: nixpacks or bubblewrap missing)'],
        ...(builder.version ? ([['version', builder.version]] as [string, string][]) : []),
        ...(builder.providers.length > 0 ? ([['providers', builder.providers.join(' ')]] as [string, string][]) : []),
      ]),
    )
    .join('\n');
}

/** The statistics: counts by status, average durations (total and per phase), this instance's build slots, the queue. */
export function formatStats(stats: BuildStats): string {
  const byStatus = BUILD_STATUSES.filter((status) => (stats.counts[status] ?? 0) > 0).map((status) => `${status} ${stats.counts[status]}`);
  const phases = BUILD_STATUSES.filter((status) => !isFinal(status) && typeof stats.averageDurationMs[status] === 'number').map(
    (status) => `${status} ${formatDuration(stats.averageDurationMs[status])}`,
  );
  const { instance } = stats;
  return formatFields([
    ['builds', `the last ${stats.window}: ${stats.queued} queued, ${stats.running} running, ${stats.succeeded} succeeded, ${stats.failed} failed, ${stats.cancelled} cancelled`],
    ['by status', byStatus.length > 0 ? byStatus.join(', ') : '-'],
    ['average', `${formatDuration(stats.averageDurationMs.total)} in total${phases.length > 0 ? `; ${phases.join(', ')}` : ''}`],
    ['instance', `${instance.id}: ${instance.running} of ${instance.maxBuilds} build slot${instance.maxBuilds === 1 ? '' : 's'} busy, ${instance.queued} waiting`],
    ['queue', formatQueue(stats.queue)],
  ]);
}

/** The queue line: `rabbitmq: 3 waiting, 2 consumers, 1 retrying, 0 dead`, or why there are no counts. */
function formatQueue(queue: BuildStats['queue']): string {
  if (queue.backend === 'in-process') return 'in process (no NIXYARD_AMQP_URL)';
  if (!queue.connected) return 'rabbitmq: not connected';
  const count = (value: number | null) => (value === null ? '?' : String(value));
  return `rabbitmq: ${count(queue.waiting)} waiting, ${count(queue.consumers)} consumer${queue.consumers === 1 ? '' : 's'}, ${count(queue.retrying)} retrying, ${count(queue.dead)} dead`;
}

/** The progress line's text: `build ID (image:tag): status 12s`. */
export function progressText(record: Pick<BuildRecord, 'id' | 'image' | 'tag' | 'status'>, elapsedMs: number): string {
  return `build ${record.id} (${imageReference(record)}): ${record.status} ${formatDuration(elapsedMs)}`;
}

/**
 * The live progress line while a build is followed, as the text to write to the terminal (no
 * I/O, no clock). On a TTY every update rewrites the line in place (`\r`, erase, text, no
 * newline) and {@link clear} erases it; elsewhere only a change of status gives a line, and
 * {@link clear} gives nothing.
 */
export class ProgressLine {
  private drawn = false;
  private lastStatus: BuildStatus | undefined;

  constructor(private readonly tty: boolean) {}

  /** What to write for the build now in `record.status`, `elapsedMs` after it was created ('' when nothing). */
  update(record: Pick<BuildRecord, 'id' | 'image' | 'tag' | 'status'>, elapsedMs: number): string {
    const changed = record.status !== this.lastStatus;
    this.lastStatus = record.status;
    if (this.tty) {
      this.drawn = true;
      return CLEAR_LINE + progressText(record, elapsedMs);
    }
    return changed ? `${progressText(record, elapsedMs)}\n` : '';
  }

  /** What erases the line (before other output, and at the end); '' when nothing is drawn. */
  clear(): string {
    if (!this.drawn) return '';
    this.drawn = false;
    return CLEAR_LINE;
  }
}

/** The line after a followed build ended: how it ended, after how long, and what came out or went wrong. */
export function formatFinalLine(record: BuildRecord, now: Date): string {
  const head = `build ${record.id} (${imageReference(record)})`;
  const duration = formatDuration(totalDuration(record, now));
  switch (record.status) {
    case 'succeeded':
      return `${head} succeeded in ${duration}${record.manifestDigest ? `: manifest ${record.manifestDigest}` : ''}\n`;
    case 'failed':
    case 'cancelled': {
      const reason = record.error ? `: ${record.error.code}: ${record.error.message.split('\n')[0]}` : '';
      return `${head} ${record.status} after ${duration}${reason}\n`;
    }
    default:
      return `${head} is still ${record.status} after ${duration}\n`;
  }
}
