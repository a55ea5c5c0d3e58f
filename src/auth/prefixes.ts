/**
 * Which image names need authentication (`NIXYARD_AUTH_PREFIXES`; no entries means every name).
 * A name is a set of packages, so protection follows what the image holds, not how its name is
 * spelled: an entry of one component (`shell`, `openssl`) protects every name that has it as a
 * component or whose packages include it once meta-packages are expanded (`hello/shell`,
 * `arm64/shell/hello`, and `shell/x` for an entry `bashInteractive`); any entry also protects the
 * names under it as a repository prefix, whole components only (`apps/acme` protects
 * `apps/acme/web`, never `apps/acmeco`), which is how images from application source are named.
 * The configured list is read by `parsePrefixes` in `config.ts`.
 */
import { matchesPrefix } from '../image/grammar.js';
import { ARCHITECTURES, parseImageName } from '../image/image-name.js';

export { matchesPrefix };

/** The protection of a registry whose every name is protected (no entries configured). */
export const EVERY_NAME = '*';

/** The components of a name that say what it holds: all but an architecture (`arm64/shell` → `shell`). */
export function contentComponents(path: string): string[] {
  return path.split('/').filter((part) => !(part in ARCHITECTURES));
}

/** What a name holds: its components and, when they are a package list, the packages they expand to. */
function contents(path: string): string[] {
  const parts = path.split('/');
  try {
    return [...parts, ...parseImageName(path, 'latest').packages];
  } catch {
    return parts;
  }
}

/**
 * The entries that protect `path`: {@link EVERY_NAME} when there are no entries, else each entry
 * that is a repository prefix of it or (one component) a package it holds. Empty: anyone may pull it.
 */
export function protectionsOf(path: string, prefixes: readonly string[]): string[] {
  if (prefixes.length === 0) return [EVERY_NAME];
  const held = prefixes.some((prefix) => !prefix.includes('/')) ? new Set(contents(path)) : new Set<string>();
  return prefixes.filter((prefix) => matchesPrefix(path, prefix) || (!prefix.includes('/') && held.has(prefix)));
}

/** True when `path` needs authentication: there are no entries (the whole registry), or one protects it. */
export function isProtected(path: string, prefixes: readonly string[]): boolean {
  return protectionsOf(path, prefixes).length > 0;
}
