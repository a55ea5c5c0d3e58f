/**
 * Which image names need authentication. Prefixes match whole path components: `private`
 * matches `private` and `private/x/y`, never `privateer`; no prefixes means every name. The
 * configured list is read by `parsePrefixes` in `config.ts`.
 */

/** True when `path` (an image name, or a name followed by more components) starts with `prefix`'s components. */
export function matchesPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** True when `path` needs authentication: there are no prefixes (the whole registry), or one matches. */
export function isProtected(path: string, prefixes: readonly string[]): boolean {
  return prefixes.length === 0 || prefixes.some((prefix) => matchesPrefix(path, prefix));
}
