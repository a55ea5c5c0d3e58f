/** TEST HELPER: htpasswd files and token keys made at test time (no secret is ever committed). */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';

/** bcrypt cost for tests: the lowest, so that checks take milliseconds. */
export const TEST_BCRYPT_COST = 4;

/** htpasswd text for `users` (name → password), bcrypt with `$2y$` as `htpasswd -B` writes it. */
export function htpasswdText(users: Record<string, string>, cost = TEST_BCRYPT_COST): string {
  return Object.entries(users)
    .map(([user, password]) => `${user}:${bcrypt.hashSync(password, cost).replace(/^\$2b\$/, '$2y$')}\n`)
    .join('');
}

/** Writes an htpasswd file for `users` into a fresh temporary directory; returns its path. */
export async function writeHtpasswd(users: Record<string, string>, cost = TEST_BCRYPT_COST): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'nixyard-htpasswd-')), 'htpasswd');
  await writeFile(file, htpasswdText(users, cost), { mode: 0o600 });
  return file;
}

/** Writes a fresh random token key (hex, with a newline, as `openssl rand -hex 32 >` does); returns its path. */
export async function writeTokenKey(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'nixyard-token-key-')), 'token.key');
  await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return file;
}
