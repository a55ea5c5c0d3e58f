/**
 * The OCI distribution spec's grammars for repository names, tags and digests. Everything
 * that comes from a URL is checked here before any other code sees it.
 */

/** One path component of a repository name (lowercase, separators `.` `_` `__` `-`…). */
export const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** A tag: up to 128 characters, not starting with `.` or `-`. */
export const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** A digest in the spec's general form `algorithm:encoded`. */
export const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** The only digest algorithm this registry produces and accepts. */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Longest repository name the spec lets clients rely on. */
export const MAX_NAME_LENGTH = 255;

/** True if `name` is a valid repository name (`a/b/c`). */
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && name.split('/').every((part) => NAME_COMPONENT.test(part));
}

/** True if `tag` is a valid tag. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** True if `digest` is a well-formed sha256 digest (the only kind stored here). */
export function isValidDigest(digest: string): boolean {
  return SHA256_DIGEST.test(digest);
}

/** True if `reference` has the shape of a digest (any algorithm), rather than a tag. */
export function looksLikeDigest(reference: string): boolean {
  return reference.includes(':');
}

/** The hex part of a sha256 digest. */
/** True when `path` (an image name, or a name followed by more components) starts with `prefix`'s whole components. */
export function matchesPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}
