/**
 * `nixyard builds`: lists, shows, starts, follows, cancels and retries the builds of a running
 * registry over its `/v1` API (client in `builds-client.ts`, text in `builds-format.ts`).
 * Resolves to an exit code ({@link EXIT}); writes to the streams it is given.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BUILD_STATUSES, isFinal, totalDuration, type BuildRecord, type BuildStatus } from '../builds/record.js';
import { BuildsClient, DEFAULT_REGISTRY, registryTarget, type CreateBuild, type ListQuery } from './builds-client.js';
import { asJson, COMMON_OPTIONS, EXIT, isTTY, reportFailure, write } from './cli-io.js';
import { OVERRIDE_HELP, OVERRIDE_OPTIONS, overridesOf } from './override-options.js';
import { formatBuilders, formatBuildList, formatBuildRecord, formatFinalLine, formatStats, imageReference, ProgressLine } from './builds-format.js';

export { EXIT } from './cli-io.js';

const SUBCOMMANDS = {
  list: {
    synopsis: 'list [--status S[,S...]] [--image NAME] [--limit N] [--cursor ID] [--json]',
    summary: 'builds, newest first',
    details: `  --status S[,S...]  only builds in these statuses (${BUILD_STATUSES.join(', ')})
  --image NAME       only builds of this image name, as asked for (shell/git)
  --limit N          at most N builds (1-100, default 20)
  --cursor ID        the page after build ID (printed under a full page)
`,
    options: ['status', 'image', 'limit', 'cursor', 'json'],
  },
  show: {
    synopsis: 'show ID [--json]',
    summary: 'one build: status, packages, phases and durations, error, layers',
    details: '',
    options: ['json'],
  },
  create: {
    synopsis: 'create IMAGE[:TAG] [--arch A] [--follow] [--json]\n  create --repo URL [--ref REF] [--dir DIR] --image apps/NAME [--tag TAG] [overrides] [--follow] [--json]',
    summary: 'start a build of IMAGE (tag latest by default), or of an app from its source, and print its id',
    details: `  --arch A             the architecture (amd64, arm64), unless the name picks one
  --follow             then follow it as logs --follow does; exit 0 only when it succeeds
  --json               print the record as JSON; with --follow the log goes to stderr and the
                       record printed is the one after the build ended

  from application source (nixpacks plans it, the registry builds it; see builders):
  --repo URL           the git repository (https://, ssh://, git://, user@host:path)
  --ref REF            a branch, a tag or a full commit (default: the default branch)
  --dir DIR            the app's directory in the repository (monorepos)
  --image NAME         the image's name, under the registry's apps prefix (apps/acme/web)
  --tag TAG            its tag (default latest)
${OVERRIDE_HELP}`,
    options: ['arch', 'follow', 'json', 'repo', 'ref', 'dir', 'image', 'tag', 'install-cmd', 'build-cmd', 'start-cmd', 'pkgs', 'env', 'build-timeout'],
  },
  builders: { synopsis: 'builders [--json]', summary: 'the kinds of build the registry runs (packages; nixpacks, with its version and providers)', details: '', options: ['json'] },
  logs: {
    synopsis: 'logs ID [--follow]',
    summary: 'print the log of a build',
    details: `  -f, --follow  stream the log until the build ends, with its status and elapsed time on
                stderr, then a final status line; exit 0 only when the build succeeded
`,
    options: ['follow'],
  },
  cancel: { synopsis: 'cancel ID [--json]', summary: 'stop a queued or running build', details: '', options: ['json'] },
  retry: { synopsis: 'retry ID [--json]', summary: 'start a failed or cancelled build again; prints the new id', details: '', options: ['json'] },
  stats: { synopsis: 'stats [--json]', summary: 'counts by status, average durations, this instance\'s build slots', details: '', options: ['json'] },
} as const satisfies Record<string, { synopsis: string; summary: string; details: string; options: readonly string[] }>;

type Subcommand = keyof typeof SUBCOMMANDS;
const isSubcommand = (name: string | undefined): name is Subcommand => name !== undefined && Object.hasOwn(SUBCOMMANDS, name);

const COMMON = `common options:
  --registry URL  the registry (default: $NIXYARD_REGISTRY, else ${DEFAULT_REGISTRY})
  --json          print the API's JSON instead of text
  -h, --help      help, for a command too (nixyard builds list --help)

authentication, when the registry has access control on:
  NIXYARD_TOKEN                          sent as Authorization: Bearer TOKEN
  NIXYARD_USERNAME and NIXYARD_PASSWORD  sent as Authorization: Basic

exit codes:
  0  success (with --follow: the build succeeded)
  1  the followed build failed or was cancelled
  2  usage error: unknown command or option, missing or extra argument, bad value
  3  the registry answered with an error, printed as "nixyard: CODE: message"
     (BUILD_UNKNOWN, BUILD_FINISHED, BUILD_NOT_RETRYABLE, UNAUTHORIZED, ...)
  4  the registry could not be reached (or the connection broke)
`;

/** The usage text of `nixyard builds`, or of one of its commands. */
export function buildsUsage(subcommand?: Subcommand): string {
  if (subcommand !== undefined) {
    const { synopsis, summary, details } = SUBCOMMANDS[subcommand];
    return `usage: nixyard builds ${synopsis}\n\n${summary[0]?.toUpperCase()}${summary.slice(1)}.\n${details ? `\n${details}` : ''}\n${COMMON}`;
  }
  const lines = Object.values(SUBCOMMANDS).map(({ synopsis, summary }) => (synopsis.length <= 22 ? `  ${synopsis.padEnd(22)}  ${summary}` : `  ${synopsis}\n  ${''.padEnd(22)}  ${summary}`));
  return `usage: nixyard builds <command> [options]

The builds of a running registry, over its /v1 API.

commands:
${lines.join('\n')}

${COMMON}`;
}

/** The synopsis (of one command, or of all) and where the full help is, for a usage error. */
function shortUsage(subcommand?: Subcommand): string {
  if (subcommand !== undefined) return `usage: nixyard builds ${SUBCOMMANDS[subcommand].synopsis}\n(nixyard builds ${subcommand} --help for more)\n`;
  return `usage: nixyard builds ${Object.keys(SUBCOMMANDS).join('|')} ...\n(nixyard builds --help for more)\n`;
}

/** A command line `nixyard builds` cannot run; `subcommand` picks the usage to show with it. */
export class BuildsUsageError extends Error {
  constructor(
    problem: string,
    readonly subcommand?: Subcommand,
  ) {
    super(problem);
    this.name = 'BuildsUsageError';
  }
}

/** What to do, after parsing. */
export type BuildsAction =
  | { command: 'help'; subcommand?: Subcommand }
  | { command: 'list'; query: ListQuery; json: boolean }
  | { command: 'show' | 'cancel' | 'retry'; id: string; json: boolean }
  | { command: 'create'; build: CreateBuild; follow: boolean; json: boolean }
  | { command: 'builders'; json: boolean }
  | { command: 'logs'; id: string; follow: boolean }
  | { command: 'stats'; json: boolean };

/** A parsed command line: the action and where (and as whom) to send it. */
export interface BuildsInvocation {
  action: BuildsAction;
  registry: string;
  authorization?: string;
}

const PARSE_OPTIONS = {
  ...COMMON_OPTIONS,
  status: { type: 'string' },
  image: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  arch: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  repo: { type: 'string' },
  ref: { type: 'string' },
  dir: { type: 'string' },
  tag: { type: 'string' },
  ...OVERRIDE_OPTIONS,
} as const;

/** Parses the arguments after `builds`; `env` gives the registry and credentials. Throws {@link BuildsUsageError}. */
export function parseBuildsArgs(argv: readonly string[], env: NodeJS.ProcessEnv): BuildsInvocation {
  const words = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length);
  const named = words.find((word) => isSubcommand(word));
  const subcommand = isSubcommand(named) ? named : undefined;
  if (words.includes('--help') || words.includes('-h') || (words[0] === 'help' && words.length <= 2)) {
    const topic = words[0] === 'help' ? words[1] : subcommand;
    return { action: isSubcommand(topic) ? { command: 'help', subcommand: topic } : { command: 'help' }, registry: DEFAULT_REGISTRY };
  }

  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof PARSE_OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: PARSE_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new BuildsUsageError((error as Error).message, subcommand);
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (name === undefined) throw new BuildsUsageError('no command given');
  if (!isSubcommand(name)) throw new BuildsUsageError(`unknown command ${JSON.stringify(name)}`);
  const allowed = new Set<string>(['registry', ...SUBCOMMANDS[name].options]);
  const misplaced = Object.keys(values).filter((option) => !allowed.has(option));
  if (misplaced.length > 0) throw new BuildsUsageError(`${misplaced.map((option) => `--${option}`).join(', ')} cannot be used with ${name}`, name);

  const operand = (what: string): string => {
    if (rest.length === 0) throw new BuildsUsageError(`${name} needs ${what}`, name);
    if (rest.length > 1) throw new BuildsUsageError(`${name} takes ${what} only, not ${rest.map((word) => JSON.stringify(word)).join(' ')}`, name);
    const value = rest[0] as string;
    if (value === '') throw new BuildsUsageError(`${name} needs ${what}, not an empty argument`, name);
    return value;
  };
  const noOperands = () => {
    if (rest.length > 0) throw new BuildsUsageError(`${name} takes no arguments, not ${rest.map((word) => JSON.stringify(word)).join(' ')}`, name);
  };
  const json = values.json === true;

  let action: BuildsAction;
  switch (name) {
    case 'list': {
      noOperands();
      const query: ListQuery = {};
      if (values.status !== undefined) query.status = statuses(values.status);
      if (values.image !== undefined) query.image = nonEmpty('--image', values.image, name);
      if (values.limit !== undefined) query.limit = limit(values.limit);
      if (values.cursor !== undefined) query.cursor = nonEmpty('--cursor', values.cursor, name);
      action = { command: 'list', query, json };
      break;
    }
    case 'show':
    case 'cancel':
    case 'retry':
      action = { command: name, id: operand('a build id'), json };
      break;
    case 'create':
      action = { command: 'create', build: createBuild(values, rest), follow: values.follow === true, json };
      break;
    case 'builders':
      noOperands();
      action = { command: 'builders', json };
      break;
    case 'logs':
      action = { command: 'logs', id: operand('a build id'), follow: values.follow === true };
      break;
    case 'stats':
      noOperands();
      action = { command: 'stats', json };
      break;
  }

  try {
    return { action, ...registryTarget(values.registry, env) };
  } catch (error) {
    throw new BuildsUsageError((error as Error).message, name);
  }
}

type ParsedValues = ReturnType<typeof parseArgs<{ args: string[]; options: typeof PARSE_OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** The body of `POST /v1/builds` from `create`'s arguments: an image name, or an app's source with `--repo`. */
function createBuild(values: ParsedValues, operands: readonly string[]): CreateBuild {
  const source = ['repo', 'ref', 'dir', 'install-cmd', 'build-cmd', 'start-cmd', 'pkgs', 'env', 'build-timeout'] as const;
  const given = source.filter((option) => values[option] !== undefined);
  if (values.repo === undefined) {
    if (given.length > 0) throw new BuildsUsageError(`${given.map((option) => `--${option}`).join(', ')} go with --repo (a build from application source)`, 'create');
    if (values.image !== undefined || values.tag !== undefined) throw new BuildsUsageError('--image and --tag go with --repo; name an image to build as IMAGE[:TAG]', 'create');
    if (operands.length !== 1 || operands[0] === '') throw new BuildsUsageError(operands.length === 0 ? 'create needs an image name (IMAGE[:TAG]) or --repo' : `create takes one image name, not ${operands.map((word) => JSON.stringify(word)).join(' ')}`, 'create');
    const { image, tag } = imageAndTag(operands[0] as string);
    return { image, tag, ...(values.arch !== undefined ? { arch: nonEmpty('--arch', values.arch, 'create') } : {}) };
  }
  if (operands.length > 0) throw new BuildsUsageError(`with --repo the image is named with --image, not ${operands.map((word) => JSON.stringify(word)).join(' ')}`, 'create');
  if (values.image === undefined) throw new BuildsUsageError('--repo needs --image (apps/NAME): the name of the image to build', 'create');
  const { overrides, buildTimeout } = overridesOf(values, (problem) => {
    throw new BuildsUsageError(problem, 'create');
  });
  const optional = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    image: nonEmpty('--image', values.image, 'create'),
    tag: values.tag ?? 'latest',
    source: { repo: nonEmpty('--repo', values.repo, 'create'), ...optional('ref', values.ref), ...optional('dir', values.dir) },
    ...overrides,
    ...optional('buildTimeout', buildTimeout),
  };
}

function nonEmpty(flag: string, value: string, subcommand: Subcommand): string {
  if (value.trim() === '') throw new BuildsUsageError(`${flag} needs a value`, subcommand);
  return value;
}

function statuses(value: string): BuildStatus[] {
  const list = value
    .split(',')
    .map((status) => status.trim())
    .filter((status) => status !== '');
  const unknown = list.filter((status) => !(BUILD_STATUSES as readonly string[]).includes(status));
  if (list.length === 0 || unknown.length > 0) {
    throw new BuildsUsageError(`--status ${JSON.stringify(value)}: ${unknown.length > 0 ? `unknown status ${unknown.join(', ')}` : 'no status'}; known: ${BUILD_STATUSES.join(', ')}`, 'list');
  }
  return list as BuildStatus[];
}

function limit(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1 || number > 100) throw new BuildsUsageError(`--limit ${JSON.stringify(value)} is not allowed: expected an integer from 1 to 100`, 'list');
  return number;
}

/** `shell/git:1.0` → image `shell/git`, tag `1.0`; no tag → `latest`. */
function imageAndTag(reference: string): { image: string; tag: string } {
  const colon = reference.lastIndexOf(':');
  if (colon <= reference.lastIndexOf('/')) return { image: reference, tag: 'latest' };
  const image = reference.slice(0, colon);
  const tag = reference.slice(colon + 1);
  if (image === '' || tag === '') throw new BuildsUsageError(`${JSON.stringify(reference)} is not IMAGE[:TAG]`, 'create');
  return { image, tag };
}

/** Dependencies of {@link runBuildsCommand}, for tests. */
export interface BuildsCommandOptions {
  /** Environment with the registry and credentials (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** The fetch the client uses (default the global one). */
  fetch?: typeof fetch;
  /** How often the status of a followed build is read (default 1000 ms). */
  pollIntervalMs?: number;
  /** How long to wait for a build to show a final status after its log ended (default 10 s). */
  settleMs?: number;
}

interface Context {
  client: BuildsClient;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  pollIntervalMs: number;
  settleMs: number;
}

/**
 * Runs `nixyard builds` with the arguments after `builds`; resolves to an exit code from
 * {@link EXIT}. Usage errors, registry errors and an unreachable registry are reported on
 * `stderr`; other failures (e.g. a closed stdout) are thrown.
 */
export async function runBuildsCommand(argv: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, options: BuildsCommandOptions = {}): Promise<number> {
  let invocation: BuildsInvocation;
  try {
    invocation = parseBuildsArgs(argv, options.env ?? process.env);
  } catch (error) {
    if (!(error instanceof BuildsUsageError)) throw error;
    await write(stderr, `nixyard builds: ${error.message}\n${shortUsage(error.subcommand)}`);
    return EXIT.usage;
  }
  const { action } = invocation;
  if (action.command === 'help') {
    await write(stdout, buildsUsage(action.subcommand));
    return EXIT.ok;
  }
  const client = new BuildsClient({
    registry: invocation.registry,
    ...(invocation.authorization !== undefined ? { authorization: invocation.authorization } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const context: Context = { client, stdout, stderr, pollIntervalMs: options.pollIntervalMs ?? 1000, settleMs: options.settleMs ?? 10_000 };
  try {
    return await execute(context, action);
  } catch (error) {
    return reportFailure(error, client, stderr);
  }
}

async function execute(context: Context, action: Exclude<BuildsAction, { command: 'help' }>): Promise<number> {
  const { client, stdout, stderr } = context;
  switch (action.command) {
    case 'list': {
      const page = await client.list(action.query);
      const { status, image, limit } = action.query;
      await write(stdout, action.json ? asJson(page) : formatBuildList(page, new Date(), { ...(status ? { status } : {}), ...(image ? { image } : {}), ...(limit ? { limit } : {}) }));
      return EXIT.ok;
    }
    case 'show': {
      const record = await client.get(action.id);
      await write(stdout, action.json ? asJson(record) : formatBuildRecord(record, new Date()));
      return EXIT.ok;
    }
    case 'builders': {
      const builders = await client.builders();
      await write(stdout, action.json ? asJson({ builders }) : formatBuilders(builders));
      return EXIT.ok;
    }
    case 'create': {
      const record = await client.create(action.build);
      if (!action.follow) {
        await write(stdout, action.json ? asJson(record) : `${record.id}\n`);
        return EXIT.ok;
      }
      if (!action.json) await write(stdout, `${record.id}\n`);
      const final = await followBuild(context, record.id, action.json ? stderr : stdout);
      if (action.json) await write(stdout, asJson(final));
      return exitFor(final);
    }
    case 'logs': {
      if (!action.follow) {
        await write(stdout, await client.log(action.id));
        return EXIT.ok;
      }
      return exitFor(await followBuild(context, action.id, stdout));
    }
    case 'cancel': {
      const record = await client.cancel(action.id);
      await write(stdout, action.json ? asJson(record) : `build ${record.id} (${imageReference(record)}): ${record.status}\n`);
      return EXIT.ok;
    }
    case 'retry': {
      const record = await client.retry(action.id);
      await write(stdout, action.json ? asJson(record) : `${record.id}\n`);
      return EXIT.ok;
    }
    case 'stats': {
      const stats = await client.stats();
      await write(stdout, action.json ? asJson(stats) : formatStats(stats));
      return EXIT.ok;
    }
  }
}

/** 0 for a build that succeeded, 1 for one that failed or was cancelled, 4 for one the log ended before (see followBuild). */
function exitFor(record: BuildRecord): number {
  if (record.status === 'succeeded') return EXIT.ok;
  return isFinal(record.status) ? EXIT.buildFailed : EXIT.unreachable;
}

/**
 * Streams the log of build `id` to `logStream` until the registry ends it, while a progress line
 * on stderr shows the status and elapsed time (read every `pollIntervalMs`): rewritten in place
 * on a TTY, one line per status change elsewhere. Then reads the record (waiting up to
 * `settleMs` for it to show a final status) and writes the final status line. Resolves with
 * that record.
 */
async function followBuild(context: Context, id: string, logStream: NodeJS.WritableStream): Promise<BuildRecord> {
  const { client, stderr } = context;
  const tty = isTTY(stderr);
  const progress = new ProgressLine(tty);
  // The progress line may only be drawn at the start of a line of the log when both end up on one screen.
  const sharesScreen = logStream === stderr || (tty && isTTY(logStream));
  let atLineStart = true;
  let latest: BuildRecord | undefined;
  const draw = () => {
    if (latest === undefined || (sharesScreen && !atLineStart)) return;
    stderr.write(progress.update(latest, totalDuration(latest, new Date())));
  };

  const stopPolling = new AbortController();
  const polling = (async () => {
    while (!stopPolling.signal.aborted) {
      try {
        latest = await client.get(id, stopPolling.signal);
        draw();
      } catch {
        // A failed status read is skipped: whether the registry is gone shows in the log stream.
      }
      try {
        await sleep(context.pollIntervalMs, undefined, { signal: stopPolling.signal });
      } catch {
        break;
      }
    }
  })();

  try {
    await client.followLog(id, async (text) => {
      if (sharesScreen) stderr.write(progress.clear());
      atLineStart = text.endsWith('\n');
      await write(logStream, text);
      if (tty) draw();
    });
  } finally {
    stopPolling.abort();
    await polling;
    await write(stderr, progress.clear());
    if (!atLineStart && (logStream === stderr || isTTY(logStream))) await write(logStream, '\n');
  }

  let record = await client.get(id);
  for (let waited = 0; !isFinal(record.status) && waited < context.settleMs; waited += context.pollIntervalMs) {
    await sleep(context.pollIntervalMs);
    record = await client.get(id);
  }
  await write(stderr, formatFinalLine(record, new Date()));
  if (!isFinal(record.status)) {
    await write(stderr, `nixyard: the registry ended the log before the build ended; follow it again with nixyard builds logs ${id} --follow\n`);
  }
  return record;
}
