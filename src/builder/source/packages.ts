/**
 * The packages of a source image (pure): the plan's Nix packages and libraries, named as
 * nixyard's package set names them, plus the shell the start command runs in and what every
 * image gets. They are realised and layered exactly like the packages of an image name, so an
 * app image shares its runtime's layers with `docker pull HOST/nodejs_20`.
 *
 * Some names in nixpacks' plans exist only in overlays nixpacks adds to nixpkgs (it fetches them
 * from GitHub); nixyard builds from its configured package set alone and maps them to what that
 * set has ({@link OVERLAY_PACKAGES}):
 *
 *   plan name                      package set           why
 *   npm-9_x, npm-8_x, npm-10_x     (none: nodejs's npm)  every nodejs package ships npm
 *   pnpm-6_x … pnpm-9_x            pnpm
 *   yarn-1_x                       yarn
 *
 * Example: nixPkgs ['ffmpeg', 'nodejs_20', 'npm-9_x'] (the request's pkgs are in the plan) →
 *   ['bashInteractive', 'cacert', 'ffmpeg', 'iana-etc', 'nodejs_20']
 */
import { ALWAYS_INCLUDED } from '../../image/image-name.js';

/** nixpacks overlay packages → the package set's name (`null`: provided by another package). */
export const OVERLAY_PACKAGES: Readonly<Record<string, string | null>> = {
  'npm-8_x': null,
  'npm-9_x': null,
  'npm-10_x': null,
  'pnpm-6_x': 'pnpm',
  'pnpm-7_x': 'pnpm',
  'pnpm-8_x': 'pnpm',
  'pnpm-9_x': 'pnpm',
  'yarn-1_x': 'yarn',
};

/** The package the start command's shell comes from (`/bin/sh` in the image). */
export const SHELL_PACKAGE = 'bashInteractive';

/** A plan's package name as the package set names it; `null` when another package provides it. */
export function setPackageName(name: string): string | null {
  return name in OVERLAY_PACKAGES ? (OVERLAY_PACKAGES[name] ?? null) : name;
}

/** Every package of a source image, sorted and without duplicates. */
export function imagePackages(plan: { nixPkgs: readonly string[]; nixLibs: readonly string[] }): string[] {
  const named = [...plan.nixPkgs, ...plan.nixLibs].map(setPackageName).filter((name): name is string => name !== null);
  return [...new Set([...named, SHELL_PACKAGE, ...ALWAYS_INCLUDED])].sort();
}
