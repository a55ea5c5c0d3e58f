/**
 * The command-line options that change the plan of a build from source, shared by
 * `nixyard builds create --repo` and `nixyard apps connect|update`.
 */
import type { SourceOverrides } from '../builds/record.js';

/** The options as `parseArgs` declares them. */
export const OVERRIDE_OPTIONS = {
  'install-cmd': { type: 'string' },
  'build-cmd': { type: 'string' },
  'start-cmd': { type: 'string' },
  pkgs: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  'build-timeout': { type: 'string' },
  user: { type: 'string' },
} as const;

/** Their help lines. */
export const OVERRIDE_HELP = `  --install-cmd CMD    replaces the plan's install commands
  --build-cmd CMD      replaces the plan's build commands
  --start-cmd CMD      replaces the plan's start command
  --pkgs P[,P...]      more packages of the package set (repeatable)
  --env K=V            a variable of the build and the image (repeatable)
  --build-timeout S    seconds the build may take
  --user U             who the image runs as: nonroot (uid 65532, the default) or root
`;

/** The options' values as parsed. */
export interface OverrideValues {
  'install-cmd'?: string;
  'build-cmd'?: string;
  'start-cmd'?: string;
  pkgs?: string[];
  env?: string[];
  'build-timeout'?: string;
  user?: string;
}

/** The overrides and timeout the options give; `fail` is called with what is wrong (it throws). */
export function overridesOf(values: OverrideValues, fail: (problem: string) => never): { overrides: SourceOverrides; buildTimeout: number | undefined } {
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const equals = pair.indexOf('=');
    if (equals < 1) fail(`--env ${JSON.stringify(pair)} is not K=V`);
    env[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  const pkgs = (values.pkgs ?? []).flatMap((list) => list.split(',')).map((pkg) => pkg.trim()).filter((pkg) => pkg !== '');
  const timeout = values['build-timeout'];
  if (timeout !== undefined && !/^\d+$/.test(timeout)) fail(`--build-timeout ${JSON.stringify(timeout)} is not a number of seconds`);
  const user = values.user;
  if (user !== undefined && user !== 'root' && user !== 'nonroot') fail(`--user ${JSON.stringify(user)} is not known: expected nonroot or root`);
  const overrides: SourceOverrides = {
    ...(values['install-cmd'] !== undefined ? { installCmd: values['install-cmd'] } : {}),
    ...(values['build-cmd'] !== undefined ? { buildCmd: values['build-cmd'] } : {}),
    ...(values['start-cmd'] !== undefined ? { startCmd: values['start-cmd'] } : {}),
    ...(pkgs.length > 0 ? { pkgs } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
    ...(user === 'root' || user === 'nonroot' ? { user } : {}),
  };
  return { overrides, buildTimeout: timeout === undefined ? undefined : Number(timeout) };
}
