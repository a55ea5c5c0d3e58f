/**
 * Start-up of access control from the configuration: reads the htpasswd file and the token key
 * (problems end start-up with one line each, naming the variable), and builds the
 * {@link RegistryAccess} the app mounts. See `access.ts` for the rules.
 */
import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describeError } from '../errors.js';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { createAccess, type PasswordCheck, type RegistryAccess } from './access.js';
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

/**
 * The users of the htpasswd file, read again when the file changes (polled every second, which
 * also sees a file replaced by an editor or a mounted secret being updated) or on {@link reload}
 * (SIGHUP). A file that no longer parses is not taken: the users it had stay, and the log says why.
 */
export class ReloadingPasswords implements PasswordCheck {
  private constructor(
    private readonly path: string,
    private current: PasswordChecker,
    private readonly log: Logger,
  ) {}

  static async load(path: string, log: Logger): Promise<ReloadingPasswords> {
    return new ReloadingPasswords(path, await PasswordChecker.create(await loadHtpasswd(path)), log);
  }

  get size(): number {
    return this.current.size;
  }

  check(user: string, password: string): Promise<boolean> {
    return this.current.check(user, password);
  }

  /** Reads the file again; never fails (a bad file keeps the users there were). */
  async reload(why: string): Promise<void> {
    try {
      this.current = await PasswordChecker.create(await loadHtpasswd(this.path));
      this.log.info('htpasswd reloaded', { why, users: this.current.size });
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems.join('; ') : describeError(error).error;
      this.log.warn('htpasswd not reloaded: the users it had stay', { why, problems });
    }
  }

  /** Reloads whenever the file changes; returns how to stop. */
  watch(): () => void {
    const changed = (now: { mtimeMs: number; size: number; ino: number }, before: { mtimeMs: number; size: number; ino: number }) => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) this.reload('the file changed').catch(() => undefined);
    };
    watchFile(this.path, { interval: 1000, persistent: false }, changed);
    return () => unwatchFile(this.path, changed);
  }
}

/** The access control `config` asks for, or `undefined` when it is off; `reload` reads the htpasswd file again, `close` stops watching it. */
export async function loadAccess(config: Pick<Config, 'auth'>, log: Logger): Promise<(RegistryAccess & { reload(): Promise<void>; close(): void }) | undefined> {
  if (config.auth.mode === 'off') return undefined;
  const { mode, htpasswdFile, prefixes, tokenKeyFile, tokenTtlSeconds, realm } = config.auth;
  const passwords = await ReloadingPasswords.load(htpasswdFile, log);
  const tokenKey = tokenKeyFile ? await loadTokenKey(tokenKeyFile) : randomBytes(32);
  log.info('access control', { mode, users: passwords.size, protects: prefixes.length === 0 ? 'every name' : prefixes.join(','), tokenKey: tokenKeyFile ?? (mode === 'token' ? 'random (tokens valid on this instance only)' : 'unused') });
  const stopWatching = passwords.watch();
  return { ...createAccess({ auth: { mode, passwords, prefixes, tokenKey, tokenTtlSeconds, realmBase: realm }, log }), reload: () => passwords.reload('SIGHUP'), close: stopWatching };
}
