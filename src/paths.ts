/** Where the project's own files are, from the running code (TypeScript source or `dist/`). */
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (holds `nix/`, `package.json`). */
export const PROJECT_ROOT = here.endsWith(`${sep}dist${sep}src`) ? join(here, '..', '..') : join(here, '..');

/** The Nix expressions: `prepare-image.nix`, `load-pkgs.nix`, `demo/`. */
export const NIX_DIR = join(PROJECT_ROOT, 'nix');

/** The offline demo package set. */
export const DEMO_PKGS_PATH = join(NIX_DIR, 'demo');
