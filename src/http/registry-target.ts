/** Validation of the name and reference parts of `/v2/<name>/…` paths. */
import { RegistryError } from '../errors.js';
import { isValidDigest, isValidName, isValidTag, looksLikeDigest } from '../image/grammar.js';

/** A validated reference: a tag, or a sha256 digest. */
export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: string };

/** Throws `NAME_INVALID` unless `name` follows the repository-name grammar. */
export function checkName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(name)}: use lowercase package names separated by "/" (e.g. shell/git/htop)`, {
      detail: { name },
    });
  }
  return name;
}

/** Throws `DIGEST_INVALID` unless `digest` is a well-formed sha256 digest. */
export function checkDigest(digest: string): string {
  if (!isValidDigest(digest)) {
    throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)}: expected sha256: followed by 64 lowercase hex digits`, {
      detail: { digest },
    });
  }
  return digest;
}

/** Parses a manifest reference: a digest, or a tag (an invalid tag is an unknown manifest). */
export function parseReference(reference: string): Reference {
  if (looksLikeDigest(reference)) return { kind: 'digest', digest: checkDigest(reference) };
  if (!isValidTag(reference)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `invalid tag ${JSON.stringify(reference)}: tags are up to 128 characters of [A-Za-z0-9_.-], not starting with "." or "-"`, {
      detail: { tag: reference },
    });
  }
  return { kind: 'tag', tag: reference };
}
