/**
 * Secrets from files, as container orchestrators mount them: `<NAME>_FILE=/run/secrets/x` sets
 * `<NAME>` to the file's content (one trailing newline dropped). Read once at start, before the
 * configuration is parsed, so that `config.ts` stays pure. Never both a variable and its file.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config.js';

/** The settings that may come from a file: every secret the environment can hold. */
export const SECRET_VARIABLES = ['NIXYARD_WEBHOOK_SECRET', 'NIXYARD_NOTIFY_SECRET', 'NIXYARD_METRICS_TOKEN', 'NIXYARD_AMQP_URL'] as const;

/** `env` with each `<NAME>_FILE` of {@link SECRET_VARIABLES} read into `<NAME>`; throws `ConfigError` listing every problem. */
export function withSecretFiles(env: NodeJS.ProcessEnv, read: (path: string) => string = (path) => readFileSync(path, 'utf8')): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file.trim() === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set: give the secret once, in the variable or in the file`);
      continue;
    }
    try {
      const content = read(file).replace(/\r?\n$/, '');
      if (content === '') problems.push(`${name}_FILE=${file} is empty: put the secret in it`);
      else result[name] = content;
    } catch (error) {
      problems.push(`${name}_FILE=${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): it should name a file holding the secret`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result;
}
