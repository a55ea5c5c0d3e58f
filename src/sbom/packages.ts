/**
 * The packages of an image's SBOM, one per store path of its closure, as both formats need them:
 * name and version from the store path, the NAR hash, a PURL, the licenses the package set
 * states (top-level packages only: the closure says nothing of the others), the references.
 * Sorted by store path, so that the same image always gives the same documents.
 */
import { createHash } from 'node:crypto';
import { PackageURL } from 'packageurl-js';
import spdxLicenseIds from 'spdx-license-ids/index.json' with { type: 'json' };
import type { ImageContents } from './contents.js';
import { narHashHex, parseStorePath } from './store-path.js';

/** One store path as an SBOM package. */
export interface SbomPackage {
  path: string;
  name: string;
  version: string | undefined;
  /** SHA-256 of the NAR, hex; `undefined` when Nix did not report it. */
  sha256: string | undefined;
  purl: string;
  /** The package names of the image that asked for this path (empty: a dependency). */
  requestedAs: string[];
  /** Licenses the package set states (empty: it states none, or this is a dependency). */
  licenses: string[];
  /** Store paths this one refers to (itself left out), sorted. */
  dependsOn: string[];
}

const SPDX_IDS = new Set<string>(spdxLicenseIds);

/** True when `license` is an SPDX license id (`MIT`, `GPL-3.0-or-later`). */
export function isSpdxId(license: string): boolean {
  return SPDX_IDS.has(license);
}

/** The packages of `contents`, sorted by store path (pure). */
export function sbomPackages(contents: ImageContents): SbomPackage[] {
  const requested = new Map<string, string[]>();
  for (const [name, path] of Object.entries(contents.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) requested.set(path, [...(requested.get(path) ?? []), name]);
  return [...contents.graph]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((info) => {
      const { hash, name, version } = parseStorePath(info.path);
      const requestedAs = requested.get(info.path) ?? [];
      const licenses = [...new Set(requestedAs.flatMap((pkg) => contents.licenses[pkg] ?? []))].sort();
      return {
        path: info.path,
        name,
        version,
        sha256: info.narHash === undefined ? undefined : narHashHex(info.narHash),
        purl: new PackageURL('nix', undefined, name, version, { outputhash: hash }, undefined).toString(),
        requestedAs,
        licenses,
        dependsOn: [...new Set(info.references.filter((reference) => reference !== info.path))].sort(),
      };
    });
}

/** A UUID made from `seed` (RFC 4122 version 5 layout over SHA-256 bits): the same seed, the same UUID. */
export function seededUuid(seed: string): string {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What an SBOM describes: an image, by the digest of its config (the same for both manifest flavours). */
export interface SbomSubject {
  /** What the image was asked for as (`bashInteractive cacert … hello`, or `apps/acme/web`). */
  name: string;
  arch: string;
  configDigest: string;
}

/**
 * The creation time both formats must state: the Unix epoch plus one second, the time Nix gives
 * every file in the store, since nothing of an image carries a time of its own.
 */
export const SBOM_CREATED = '1970-01-01T00:00:01Z';

/** The tool named as the creator of both formats. */
export const SBOM_TOOL = { name: 'nixyard', version: '1' } as const;
