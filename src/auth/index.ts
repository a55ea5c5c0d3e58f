/**
 * Start-up of access control from the configuration: reads the htpasswd file, the access file and the token key
 * (problems end start-up with one line each, naming the variable), and builds the
 * {@link RegistryAccess} the app mounts. See `access.ts` for the rules.
 */
import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describeError } from '../errors.js';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { createAccess, type RegistryAccess } from './access.js';
import { AccessFileError, parseAccessFile, type AccessGrants } from './grants.js';
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
 * A file of access control read again when it changes (polled every second, which also sees a
 * file replaced by an editor or a mounted secret being updated) or on {@link reload} (SIGHUP):
 * the htpasswd file and the access file. A file that no longer parses is not taken: what it
 * said before stays, and the log says why.
 */
export class ReloadingFile<T> {
  private constructor(
    /** What the file is, for the log: `htpasswd`, `access file`. */
    private readonly what: string,
    private readonly path: string,
    private readonly read: (path: string) => Promise<T>,
    private value: T,
    private readonly log: Logger,
    private readonly summary: (value: T) => Record<string, unknown>,
  ) {}

  static async load<T>(what: string, path: string, read: (path: string) => Promise<T>, log: Logger, summary: (value: T) => Record<string, unknown>): Promise<ReloadingFile<T>> {
    return new ReloadingFile(what, path, read, await read(path), log, summary);
  }

  /** What the file said when it was last read without problems. */
  get current(): T {
    return this.value;
  }

  /** Reads the file again; never fails (a bad file keeps what there was). */
  async reload(why: string): Promise<void> {
    try {
      this.value = await this.read(this.path);
      this.log.info(`${this.what} reloaded`, { why, ...this.summary(this.value) });
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems.join('; ') : describeError(error).error;
      this.log.warn(`${this.what} not reloaded: what it said before stays`, { why, problems });
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

/** The users of the htpasswd file of `NIXYARD_HTPASSWD`. */
const readPasswords = async (path: string) => PasswordChecker.create(await loadHtpasswd(path));

/** The grants of the access file of `NIXYARD_ACCESS_FILE`; problems as a `ConfigError`. */
async function readAccessFile(path: string): Promise<AccessGrants> {
  const source = `NIXYARD_ACCESS_FILE=${path}`;
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError([`${source} cannot be read: ${error.code ?? error.message}`]);
  });
  try {
    return parseAccessFile(text, source);
  } catch (error) {
    throw error instanceof AccessFileError ? new ConfigError(error.problems) : error;
  }
}

/** The access control `config` asks for, or `undefined` when it is off; `reload` reads its files again, `close` stops watching them. */
export async function loadAccess(config: Pick<Config, 'auth'>, log: Logger): Promise<(RegistryAccess & { reload(): Promise<void>; close(): void }) | undefined> {
  if (config.auth.mode === 'off') return undefined;
  const { mode, htpasswdFile, accessFile, prefixes, tokenKeyFile, tokenTtlSeconds, realm } = config.auth;
  const passwords = await ReloadingFile.load('htpasswd', htpasswdFile, readPasswords, log, (checker) => ({ users: checker.size }));
  const grants = accessFile === undefined ? undefined : await ReloadingFile.load('access file', accessFile, readAccessFile, log, (file) => ({ users: file.users, groups: file.groups }));
  const tokenKey = tokenKeyFile ? await loadTokenKey(tokenKeyFile) : randomBytes(32);
  log.info('access control', {
    mode,
    users: passwords.current.size,
    protects: prefixes.length === 0 ? 'every name' : prefixes.join(','),
    grants: grants ? `${accessFile} (${grants.current.users} users, ${grants.current.groups} groups)` : 'every user may pull every name',
    tokenKey: tokenKeyFile ?? (mode === 'token' ? 'random (tokens valid on this instance only)' : 'unused'),
  });
  const files = grants ? [passwords, grants] : [passwords];
  const stops = files.map((file) => file.watch());
  const access = createAccess({
    auth: { mode, passwords: { check: (user, password) => passwords.current.check(user, password) }, prefixes, grants: grants && (() => grants.current), tokenKey, tokenTtlSeconds, realmBase: realm },
    log,
  });
  return {
    ...access,
    reload: async () => void (await Promise.all(files.map((file) => file.reload('SIGHUP')))),
    close: () => stops.forEach((stop) => stop()),
  };
}
