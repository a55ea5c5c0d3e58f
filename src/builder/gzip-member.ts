/**
 * The C addon layers are compressed with (`native/gzip-member.c`, built by `npm run build` into
 * `dist/native/`): libdeflate, linked in statically, making one gzip member per block. Loaded
 * when this module is, so a registry without it stops at start-up saying how to build it.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';

export interface GzipMemberAddon {
  /** One gzip member of `block`, compressed in the thread pool. */
  gzipMember(block: Buffer, level: number): Promise<Buffer>;
  /** The same on this thread (for blocks too small to be worth a trip through the pool). */
  gzipMemberSync(block: Buffer, level: number): Buffer;
  /** The libdeflate the addon was built with: layer bytes depend on it. */
  libdeflateVersion: string;
}

export const GZIP_ADDON_PATH = join(PROJECT_ROOT, 'dist', 'native', 'gzip-member.node');

/** The addon at `path`; when it cannot be loaded, an error that says how to build it. */
export function loadGzipAddon(path: string): GzipMemberAddon {
  try {
    return createRequire(import.meta.url)(path) as GzipMemberAddon;
  } catch (error) {
    throw new Error(`the gzip addon ${path} could not be loaded (${error instanceof Error ? error.message : String(error)}): build it with \`npm run build\`, which needs gcc, libc6-dev and libdeflate-dev (apt-get install -y gcc libc6-dev libdeflate-dev)`);
  }
}

const addon = loadGzipAddon(GZIP_ADDON_PATH);

export const { gzipMember, gzipMemberSync, libdeflateVersion } = addon;
