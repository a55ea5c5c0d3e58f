/**
 * `nixyard apps`: connects repositories to a running registry (`/v1/apps`), lists, shows,
 * changes and disconnects them. Every push the forge sends to an app's webhook then builds it.
 * Resolves to an exit code (the codes of `nixyard builds`); writes to the streams it is given.
 */
import { parseArgs } from 'node:util';
import type { AppView } from '../apps/app.js';
import type { AppInput, ConnectedApp } from '../apps/connected-apps.js';
import { formatTime } from '../units.js';
import { BuildsClient, DEFAULT_REGISTRY, registryTarget } from './builds-client.js';
import { asJson, COMMON_OPTIONS, EXIT, reportFailure, write } from './cli-io.js';
import { OVERRIDE_HELP, OVERRIDE_OPTIONS, overridesOf } from './override-options.js';

const APP_OPTIONS = `  --repo URL               the git repository (https://, ssh://, git://, user@host:path;
                           credentials in it are used, never shown)
  --image NAME             the image, under the registry's apps prefix (apps/acme/web)
  --dir DIR                the app's directory in the repository (monorepos)
  --branch B               a branch (or glob: release/*) whose pushes are built (repeatable;
                           default: the repository's default branch)
  --tags, --no-tags        build pushed tags too (as :<tag>), or not (default)
  --default-branch B       the branch that moves :latest, when the forge does not say
  --push TARGET            push every build there, REGISTRY/REPOSITORY[:TAG] (repeatable;
                           default: the registry's NIXYARD_PUSH_DEFAULT); --no-push: nowhere
  --callback-url URL       POST each build's status there (RUNNING, SUCCEEDED, FAILED, CANCELLED)
  --callback-token T       the token the callbacks are signed with (at least 16 characters)
  --webhook-secret S       the secret the forge signs pushes with (default: a random one,
                           printed once)
${OVERRIDE_HELP}`;

const USAGE = `usage: nixyard apps <command> [options]

Repositories connected to a running registry, over its /v1 API: every push of a watched branch
builds the pushed commit as <image>:<branch>-<sha7> and moves <branch> (and latest on the default
branch); a pushed tag builds <image>:<tag>. Point the forge's push webhook at the app's webhook
URL with its webhook secret (GitHub, GitLab, Gitee).

commands:
  connect --repo URL --image apps/NAME [options]   connect a repository; prints the app's id,
                                                  webhook URL and webhook secret (shown once)
  list                                            the connected apps and their latest builds
  show ID                                         one app and the latest build of each branch
  update ID [options]                             change an app (only the options given)
  disconnect ID                                   disconnect an app (its builds and images stay)

options of connect and update:
${APP_OPTIONS}
common options:
  --registry URL  the registry (default: $NIXYARD_REGISTRY, else ${DEFAULT_REGISTRY})
  --json          print the API's JSON instead of text
  -h, --help      this help

exit codes: 0 ok, 2 usage error, 3 the registry answered with an error ("nixyard: CODE: message",
e.g. APP_UNKNOWN, APP_EXISTS), 4 the registry could not be reached
`;

const PARSE_OPTIONS = {
  ...COMMON_OPTIONS,
  repo: { type: 'string' },
  image: { type: 'string' },
  dir: { type: 'string' },
  branch: { type: 'string', multiple: true },
  tags: { type: 'boolean' },
  'no-tags': { type: 'boolean' },
  'default-branch': { type: 'string' },
  push: { type: 'string', multiple: true },
  'no-push': { type: 'boolean' },
  'callback-url': { type: 'string' },
  'callback-token': { type: 'string' },
  'webhook-secret': { type: 'string' },
  ...OVERRIDE_OPTIONS,
} as const;

/** A command line `nixyard apps` cannot run. */
export class AppsUsageError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'AppsUsageError';
  }
}

/** What to do, after parsing. */
export type AppsAction =
  | { command: 'help' }
  | { command: 'list'; json: boolean }
  | { command: 'show' | 'disconnect'; id: string; json: boolean }
  | { command: 'connect'; app: AppInput; json: boolean }
  | { command: 'update'; id: string; app: Partial<AppInput>; json: boolean };

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof PARSE_OPTIONS; allowPositionals: true; strict: true }>>['values'];

const fail = (problem: string): never => {
  throw new AppsUsageError(problem);
};

/** The app fields the options give (only those given). */
function appFields(values: Values): Partial<AppInput> {
  const fields: Partial<AppInput> = {};
  if (values.repo !== undefined) fields.repo = values.repo;
  if (values.image !== undefined) fields.image = values.image;
  if (values.dir !== undefined) fields.dir = values.dir;
  if (values.branch !== undefined) fields.branches = values.branch;
  if (values.tags && values['no-tags']) fail('--tags and --no-tags contradict each other');
  if (values.tags || values['no-tags']) fields.tags = values.tags === true;
  if (values['default-branch'] !== undefined) fields.defaultBranch = values['default-branch'];
  if (values.push !== undefined && values['no-push']) fail('--push and --no-push contradict each other');
  if (values.push !== undefined) fields.push = values.push;
  if (values['no-push']) fields.push = [];
  const url = values['callback-url'];
  const token = values['callback-token'];
  if ((url === undefined) !== (token === undefined)) fail('--callback-url and --callback-token go together');
  if (url !== undefined && token !== undefined) fields.callback = { url, token };
  if (values['webhook-secret'] !== undefined) fields.webhookSecret = values['webhook-secret'];
  const { overrides, buildTimeout } = overridesOf(values, fail);
  if (Object.keys(overrides).length > 0) fields.overrides = overrides;
  if (buildTimeout !== undefined) fields.buildTimeout = buildTimeout;
  return fields;
}

/** Parses the arguments after `apps`. Throws {@link AppsUsageError}. */
export function parseAppsArgs(argv: readonly string[], env: NodeJS.ProcessEnv): { action: AppsAction; registry: string; authorization?: string } {
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { action: { command: 'help' }, registry: DEFAULT_REGISTRY };
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: PARSE_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new AppsUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  const json = values.json === true;
  const fields = appFields(values);
  const id = () => (rest.length === 1 && rest[0] !== '' ? (rest[0] as string) : fail(`${name} needs one app id (nixyard apps list shows them)`));
  const none = (what: string) => Object.keys(fields).length > 0 && fail(`${what} takes no app options, only --json`);
  let action: AppsAction;
  switch (name) {
    case 'connect':
      if (rest.length > 0) fail(`connect takes no arguments, only options: not ${rest.join(' ')}`);
      if (fields.repo === undefined || fields.image === undefined) fail('connect needs --repo URL and --image apps/NAME');
      action = { command: 'connect', app: fields as AppInput, json };
      break;
    case 'update':
      action = { command: 'update', id: id(), app: Object.keys(fields).length > 0 ? fields : fail('update needs at least one option to change'), json };
      break;
    case 'show':
    case 'disconnect':
      none(name);
      action = { command: name, id: id(), json };
      break;
    case 'list':
      none(name);
      if (rest.length > 0) fail('list takes no arguments');
      action = { command: 'list', json };
      break;
    default:
      throw new AppsUsageError(name === undefined ? 'no command given' : `unknown command ${JSON.stringify(name)}`);
  }
  try {
    return { action, ...registryTarget(values.registry, env) };
  } catch (error) {
    throw new AppsUsageError((error as Error).message);
  }
}

/** An app as text: what it builds and where from, and the latest build of each branch and tag. */
export function formatApp(app: AppView | ConnectedApp, registry: string): string {
  const watched = app.branches.length > 0 ? app.branches.join(', ') : `the default branch${app.defaultBranch ? ` (${app.defaultBranch})` : ''}`;
  const lines = [
    `app ${app.id}: ${app.image}`,
    `  repository   ${app.repo}${app.dir ? ` (${app.dir})` : ''}`,
    `  builds       pushes to ${watched}${app.tags ? ', and tags' : ''}`,
    `  pushes to    ${app.push === null ? "the registry's defaults" : app.push.length === 0 ? 'nowhere else' : app.push.join(', ')}`,
    `  callback     ${app.callback?.url ?? 'none'}`,
    `  webhook      POST ${registry}${app.webhookUrl}`,
  ];
  if ('webhookSecret' in app && app.webhookSecret) lines.push(`  secret       ${app.webhookSecret}   (shown once: give it to the forge's webhook)`);
  for (const ref of app.builds) lines.push(`  ${ref.ref.replace(/^refs\/(heads|tags)\//, '')}: ${app.image}:${ref.tag} (build ${ref.build}, ${ref.commit.slice(0, 12)}, ${formatTime(ref.at)})`);
  return `${lines.join('\n')}\n`;
}

/** Runs `nixyard apps` with the arguments after `apps`; resolves to an exit code. */
export async function runAppsCommand(argv: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, options: { env?: NodeJS.ProcessEnv; fetch?: typeof fetch } = {}): Promise<number> {
  let invocation: ReturnType<typeof parseAppsArgs>;
  try {
    invocation = parseAppsArgs(argv, options.env ?? process.env);
  } catch (error) {
    if (!(error instanceof AppsUsageError)) throw error;
    await write(stderr, `nixyard apps: ${error.message}\n(nixyard apps --help for more)\n`);
    return EXIT.usage;
  }
  const { action } = invocation;
  if (action.command === 'help') {
    await write(stdout, USAGE);
    return EXIT.ok;
  }
  const client = new BuildsClient({ registry: invocation.registry, ...(invocation.authorization !== undefined ? { authorization: invocation.authorization } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) });
  const show = (value: AppView | ConnectedApp) => write(stdout, action.json ? asJson(value) : formatApp(value, client.registry));
  try {
    switch (action.command) {
      case 'list': {
        const apps = await client.apps();
        await write(stdout, action.json ? asJson({ apps }) : apps.length === 0 ? 'no app is connected: nixyard apps connect --repo URL --image apps/NAME\n' : apps.map((app) => formatApp(app, client.registry)).join('\n'));
        break;
      }
      case 'show':
        await show(await client.app(action.id));
        break;
      case 'connect':
        await show(await client.connectApp(action.app));
        break;
      case 'update':
        await show(await client.updateApp(action.id, action.app));
        break;
      case 'disconnect':
        await client.disconnectApp(action.id);
        if (!action.json) await write(stdout, `disconnected ${action.id}\n`);
        break;
    }
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, client, stderr);
  }
}
