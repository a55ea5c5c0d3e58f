/**
 * Image name → image request. The name is the content specification: each path component is
 * a package, order does not matter, meta-packages expand to package lists, pick the
 * architecture or the user (`nonroot`), and `cacert` and `iana-etc` are always added (as Nixery does).
 */
import type { ImageUser } from './users.js';

/** CPU architectures images can be built for, with their Nix system and OCI names. */
export const ARCHITECTURES = {
  amd64: { nixSystem: 'x86_64-linux', oci: 'amd64' },
  arm64: { nixSystem: 'aarch64-linux', oci: 'arm64' },
} as const;

/** An architecture key of {@link ARCHITECTURES}. */
export type Architecture = keyof typeof ARCHITECTURES;

/** The meta-package that makes an image run as the unprivileged `nonroot` user (`image/users.ts`). */
export const NONROOT_META = 'nonroot';

/** Packages the `shell` meta-package stands for. */
export const SHELL_PACKAGES = ['bashInteractive', 'coreutils', 'moreutils', 'nano'] as const;
/** Packages every image gets: TLS roots and /etc/services, /etc/protocols. */
export const ALWAYS_INCLUDED = ['cacert', 'iana-etc'] as const;

/** What a client asked for, independent of the order it was spelled in. */
export interface ImageRequest {
  /** The name as asked for (`shell/git`), for build records and messages. */
  name: string;
  /** Sorted, de-duplicated package attribute names (meta-packages expanded). */
  packages: string[];
  /** `undefined` when no architecture meta-package was given: the registry's default applies. */
  arch: Architecture | undefined;
  /** True when the image contains a shell (`shell` requested, or bashInteractive explicitly). */
  hasShell: boolean;
  /** Who the image runs as: `nonroot` when the name has the `nonroot` meta-package, else root. */
  user: ImageUser;
  /** The tag, kept for the package source (git ref, or ignored). */
  tag: string;
}

/**
 * Parses a validated repository name and tag. Meta-packages may appear anywhere in the name:
 * `shell` adds {@link SHELL_PACKAGES}, `arm64` (or `amd64`) selects the architecture.
 *
 * Example: `parseImageName('shell/htop/git', 'latest')` →
 * `{name: 'shell/htop/git', packages: ['bashInteractive','cacert','coreutils','git','htop','iana-etc','moreutils','nano'], arch: undefined, hasShell: true, tag: 'latest'}`
 */
export function parseImageName(name: string, tag: string): ImageRequest {
  const packages = new Set<string>(ALWAYS_INCLUDED);
  let arch: Architecture | undefined;
  let user: ImageUser = 'root';
  for (const component of name.split('/')) {
    if (component === 'shell') SHELL_PACKAGES.forEach((pkg) => packages.add(pkg));
    else if (component in ARCHITECTURES) arch = component as Architecture;
    else if (component === NONROOT_META) user = 'nonroot';
    else packages.add(component);
  }
  const sorted = [...packages].sort();
  const hasShell = sorted.some((pkg) => pkg.toLowerCase() === 'bashinteractive');
  return { name, packages: sorted, arch, hasShell, user, tag };
}
