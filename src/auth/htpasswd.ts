/**
 * Users from an htpasswd file (`user:hash`, one a line, `#` comments), bcrypt hashes only
 * (`$2y$`, `$2b$`, `$2a$`, as `htpasswd -B` writes them). Other kinds (MD5 `$apr1$`, `{SHA}`,
 * crypt, plain text) are refused at start-up with the line that has them: they are weak, and
 * a file silently half-read would lock users out.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { LRUCache } from 'lru-cache';
import { ConfigError } from '../config.js';

/** A bcrypt hash as htpasswd writes it: version, two-digit cost, 22 salt and 31 hash characters. */
export const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;
/** How long a verified user and password are remembered, so that every request does not pay bcrypt. */
export const VERIFIED_CACHE_MS = 5 * 60_000;
/** Most remembered verifications. */
export const VERIFIED_CACHE_SIZE = 10_000;

/** The hash kind of an htpasswd entry that is not bcrypt, for the error message. */
function hashKind(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'an MD5 ($apr1$) hash';
  if (hash.startsWith('{SHA}')) return 'a SHA-1 ({SHA}) hash';
  if (/^\$[56]\$/.test(hash)) return 'a SHA-crypt ($5$/$6$) hash';
  if (/^\$2[aby]\$/.test(hash)) return 'a malformed bcrypt hash';
  if (/^\$\w+\$/.test(hash)) return `a ${hash.split('$')[1] ?? ''} hash`;
  return 'a crypt or plain-text password';
}

/** Reads htpasswd text; `source` names the file in problems. Returns the users and one line per problem. */
export function parseHtpasswd(text: string, source: string): { users: Map<string, string>; problems: string[] } {
  const users = new Map<string, string>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source} line ${index + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      problems.push(`${where}: expected user:hash`);
      return;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!BCRYPT_HASH.test(hash)) {
      problems.push(`${where} (user ${JSON.stringify(user)}) has ${hashKind(hash)}: only bcrypt hashes are accepted, make them with htpasswd -B`);
      return;
    }
    if (users.has(user)) {
      problems.push(`${where}: user ${JSON.stringify(user)} appears twice`);
      return;
    }
    users.set(user, hash);
  });
  if (users.size === 0 && problems.length === 0) problems.push(`${source} has no users: add lines user:hash (htpasswd -B ${source} USER)`);
  return { users, problems };
}

/** Reads the htpasswd file of `NIXYARD_HTPASSWD`; throws `ConfigError` listing every problem. */
export async function loadHtpasswd(path: string): Promise<Map<string, string>> {
  const source = `NIXYARD_HTPASSWD=${path}`;
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError([`${source} cannot be read: ${error.code ?? error.message}`]);
  });
  const { users, problems } = parseHtpasswd(text, source);
  if (problems.length > 0) throw new ConfigError(problems);
  return users;
}

/**
 * Checks user names and passwords against bcrypt hashes. A check of an unknown user costs
 * as much as one of a known user (a dummy hash is compared), so timing does not tell which
 * names exist. Successful checks are remembered for {@link VERIFIED_CACHE_MS} under an HMAC of
 * the credentials (never the password itself).
 */
export class PasswordChecker {
  private readonly verified = new LRUCache<string, true>({ max: VERIFIED_CACHE_SIZE, ttl: VERIFIED_CACHE_MS });
  private readonly cacheKey = randomBytes(32);

  private constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly dummyHash: string,
  ) {}

  /** A checker for `users` (name → bcrypt hash). */
  static async create(users: ReadonlyMap<string, string>): Promise<PasswordChecker> {
    const first = users.values().next().value;
    const rounds = first ? bcrypt.getRounds(first) : 10;
    return new PasswordChecker(users, await bcrypt.hash(randomBytes(16).toString('hex'), rounds));
  }

  /** Number of users. */
  get size(): number {
    return this.users.size;
  }

  /** True when `password` is `user`'s. */
  async check(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    const key = createHmac('sha256', this.cacheKey).update(`${user}\0${password}\0${hash ?? ''}`).digest('base64');
    if (hash && this.verified.has(key)) return true;
    const matches = await bcrypt.compare(password, hash ?? this.dummyHash);
    if (!hash || !matches) return false;
    this.verified.set(key, true);
    return true;
  }
}
