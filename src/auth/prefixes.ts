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
import { parseImageName } from '../image/image-name.js';

/** True when `path` (an image name, or a name followed by more components) starts with `prefix`'s components. */
export function matchesPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
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

/** True when `path` needs authentication: there are no entries (the whole registry), or one protects it. */
export function isProtected(path: string, prefixes: readonly string[]): boolean {
  if (prefixes.length === 0 || prefixes.some((prefix) => matchesPrefix(path, prefix))) return true;
  const packages = prefixes.filter((prefix) => !prefix.includes('/'));
  return packages.length > 0 && contents(path).some((part) => packages.includes(part));
}
