/**
 * Start-up of access control from the configuration: reads the htpasswd file and the token key
 * (problems end start-up with one line each, naming the variable), and builds the
 * {@link RegistryAccess} the app mounts. See `access.ts` for the rules.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { createAccess, type RegistryAccess } from './access.js';
import { loadHtpasswd, PasswordChecker } from './htpasswd.js';
import { MIN_KEY_BYTES } from './token.js';

export type { RegistryAccess } from './access.js';

/** The token signing key from `NIXYARD_TOKEN_KEY` (surrounding whitespace ignored), at least {@link MIN_KEY_BYTES} bytes. */
export async function loadTokenKey(path: string): Promise<Buffer> {
  const source = `NIXYARD_TOKEN_KEY=${path}`;
  const raw = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError([`${source} cannot be read: ${error.code ?? error.message}`]);
  });
  const key = Buffer.from(raw.toString('latin1').trim(), 'latin1');
  if (key.length < MIN_KEY_BYTES) throw new ConfigError([`${source} holds ${key.length} bytes: use at least ${MIN_KEY_BYTES} random bytes, e.g. openssl rand -hex 32 > ${path}`]);
  return key;
}

/** The access control `config` asks for, or `undefined` when it is off. */
export async function loadAccess(config: Pick<Config, 'auth'>, log: Logger): Promise<RegistryAccess | undefined> {
  if (config.auth.mode === 'off') return undefined;
  const { mode, htpasswdFile, prefixes, tokenKeyFile, tokenTtlSeconds, realm } = config.auth;
  const passwords = await PasswordChecker.create(await loadHtpasswd(htpasswdFile));
  const tokenKey = tokenKeyFile ? await loadTokenKey(tokenKeyFile) : randomBytes(32);
  log.info('access control', { mode, users: passwords.size, protects: prefixes.length === 0 ? 'every name' : prefixes.join(','), tokenKey: tokenKeyFile ?? (mode === 'token' ? 'random (tokens valid on this instance only)' : 'unused') });
  return createAccess({ auth: { mode, passwords, prefixes, tokenKey, tokenTtlSeconds, realmBase: realm }, log });
}
