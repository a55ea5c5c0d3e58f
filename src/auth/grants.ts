/**
 * Who may pull which protected names: the access file (`NIXYARD_ACCESS_FILE`). Without one, every
 * user of the htpasswd file may pull every name; with one, a user may pull a protected name only
 * when what the file grants her covers every entry of `NIXYARD_AUTH_PREFIXES` that protects it
 * (see `prefixes.ts`). The file, one statement a line, `#` comments:
 *
 *   @ops = alice, bob                  a group and its users
 *   alice: apps/acme/*, corp-tools     grants to a user
 *   @ops: openssl                      grants to every user of a group
 *   *: hello                           grants to every user
 *
 * A grant is a package or meta-package (`corp-tools`, `shell`: covers the entry of that name), a
 * repository prefix (`apps/acme/*`, or any name of several components: covers the names under
 * it), or `*` (every name). When every name is protected, a name of packages is covered when
 * each of its components is granted (`shell` and `git` cover `git/shell`, not `git/shell/htop`).
 */
import { isValidName } from '../image/grammar.js';
import { contentComponents, EVERY_NAME, matchesPrefix, protectionsOf } from './prefixes.js';

/** What one user is granted. */
export interface Grant {
  /** `*` was granted: every name. */
  all: boolean;
  /** Packages and meta-packages (one component). */
  packages: ReadonlySet<string>;
  /** Repository prefixes, without a trailing `/*`. */
  prefixes: readonly string[];
}

/** The parsed access file. */
export interface AccessGrants {
  /** What a user is granted (her own lines, her groups', and `*`'s). */
  grantOf(user: string): Grant;
  /** The users and groups the file names, for the start-up log. */
  readonly users: number;
  readonly groups: number;
}

/** The problems of an access file, one line each, naming the file and line. */
export class AccessFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'AccessFileError';
  }
}

const GROUP = /^@[a-z0-9][a-z0-9._-]*$/;
const USER = /^[^\s:,@#*][^\s:,]*$/;

/** A grant entry as written (`apps/acme/*`, `openssl`, `*`), or a problem. */
function parseEntry(entry: string): { kind: 'all' } | { kind: 'package'; name: string } | { kind: 'prefix'; name: string } | { kind: 'invalid' } {
  if (entry === '*') return { kind: 'all' };
  const prefix = entry.endsWith('/*');
  const name = prefix ? entry.slice(0, -2) : entry;
  if (!isValidName(name)) return { kind: 'invalid' };
  return prefix || name.includes('/') ? { kind: 'prefix', name } : { kind: 'package', name };
}

const list = (text: string) => text.split(',').map((part) => part.trim()).filter((part) => part !== '');

/** Reads the text of an access file; `source` names it in problems. Throws {@link AccessFileError}. */
export function parseAccessFile(text: string, source: string): AccessGrants {
  const problems: string[] = [];
  const members = new Map<string, string[]>();
  const granted = new Map<string, string[]>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const where = `${source} line ${index + 1}`;
    const group = /^(@[^\s=:]*)\s*=(.*)$/.exec(line);
    if (group) {
      const [, name = '', users = ''] = group;
      if (!GROUP.test(name)) problems.push(`${where}: ${JSON.stringify(name)} is not a group name: expected @ and lowercase letters, digits, ".", "_" or "-"`);
      const bad = list(users).filter((user) => !USER.test(user));
      if (bad.length > 0) problems.push(`${where}: ${bad.map((user) => JSON.stringify(user)).join(', ')} are not user names: a group lists users of the htpasswd file, separated by commas`);
      members.set(name, [...(members.get(name) ?? []), ...list(users)]);
      return;
    }
    const grant = /^([^\s:]+)\s*:(.*)$/.exec(line);
    if (!grant) {
      problems.push(`${where}: expected "user: entries", "@group: entries" or "@group = users"`);
      return;
    }
    const [, who = '', entries = ''] = grant;
    if (who !== '*' && !USER.test(who) && !GROUP.test(who)) problems.push(`${where}: ${JSON.stringify(who)} is not a user, a @group or *`);
    const bad = list(entries).filter((entry) => parseEntry(entry).kind === 'invalid');
    if (bad.length > 0) problems.push(`${where}: ${bad.map((entry) => JSON.stringify(entry)).join(', ')} cannot be granted: expected package names (openssl), repository prefixes (apps/acme/*) or *`);
    granted.set(who, [...(granted.get(who) ?? []), ...list(entries)]);
  });
  for (const who of granted.keys()) {
    if (who.startsWith('@') && !members.has(who)) problems.push(`${source}: ${who} is granted names but never defined: add a line "${who} = user, user"`);
  }
  if (problems.length > 0) throw new AccessFileError(problems);

  const groupsOf = (user: string) => [...members].filter(([, users]) => users.includes(user)).map(([group]) => group);
  // The file does not change once read (a reload parses a new one): each user's grant is worked out once.
  const known = new Map<string, Grant>();
  return {
    users: [...granted.keys()].filter((who) => !who.startsWith('@') && who !== '*').length,
    groups: members.size,
    grantOf(user) {
      const found = known.get(user);
      if (found) return found;
      const entries = [user, '*', ...groupsOf(user)].flatMap((who) => granted.get(who) ?? []).map(parseEntry);
      const grant = {
        all: entries.some((entry) => entry.kind === 'all'),
        packages: new Set(entries.flatMap((entry) => (entry.kind === 'package' ? [entry.name] : []))),
        prefixes: entries.flatMap((entry) => (entry.kind === 'prefix' ? [entry.name] : [])),
      };
      known.set(user, grant);
      return grant;
    },
  };
}

/** True when `grant` covers `protection`, one of the entries protecting `path`. */
function covers(grant: Grant, protection: string, path: string): boolean {
  if (grant.all || grant.packages.has(protection)) return true;
  if (grant.prefixes.some((prefix) => matchesPrefix(path, prefix) && (protection === EVERY_NAME || matchesPrefix(prefix, protection)))) return true;
  return protection === EVERY_NAME && contentComponents(path).every((part) => grant.packages.has(part));
}

/**
 * The protection of `path` that `grant` does not cover (the first one), or `undefined` when the
 * user may pull it. `*` stands for "every name" (a registry that protects them all).
 */
export function uncoveredProtection(path: string, prefixes: readonly string[], grant: Grant): string | undefined {
  return protectionsOf(path, prefixes).find((protection) => !covers(grant, protection, path));
}
