/**
 * What a Nix store path says about itself: `/nix/store/<hash>-<name>-<version>`, the name and
 * version split as Nix's `builtins.parseDrvName` does (the version starts at the first dash
 * followed by a digit), and NAR hashes as `nix path-info` reports them, turned into hex.
 */

/** The parts of a store path. */
export interface StorePathName {
  /** The 32-character hash part. */
  hash: string;
  /** The name without the version (`bash-interactive`). */
  name: string;
  /** The version (`5.2-p15`), `undefined` when the name has none. */
  version: string | undefined;
}

const STORE_PATH = /^\/nix\/store\/([0-9a-df-np-sv-z]{32})-(.+)$/;

/** Splits a store path (pure); throws for a path that is not one. */
export function parseStorePath(path: string): StorePathName {
  const match = STORE_PATH.exec(path);
  if (!match) throw new Error(`${path} is not a Nix store path`);
  const [, hash = '', full = ''] = match;
  const split = /-(?=\d)/.exec(full);
  if (!split) return { hash, name: full, version: undefined };
  return { hash, name: full.slice(0, split.index), version: full.slice(split.index + 1) };
}

/** Nix's base-32 alphabet (no e, o, t, u). */
const NIX32 = '0123456789abcdfghijklmnpqrsvwxyz';

/** Decodes Nix's base-32 (least significant character last, as `nix-hash --to-base32` writes it). */
function fromNix32(text: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let n = 0; n < text.length; n += 1) {
    const digit = NIX32.indexOf(text[text.length - n - 1] as string);
    if (digit < 0) throw new Error(`${text} is not Nix base-32`);
    const bit = n * 5;
    const i = Math.floor(bit / 8);
    const j = bit % 8;
    out[i] = ((out[i] as number) | (digit << j)) & 0xff;
    if (i + 1 < bytes) out[i + 1] = ((out[i + 1] as number) | (digit >> (8 - j))) & 0xff;
  }
  return out;
}

/** The SHA-256 of a NAR hash as Nix reports it (`sha256-<base64>`, `sha256:<base32>` or `sha256:<hex>`), in hex. */
export function narHashHex(narHash: string): string {
  const sri = /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(narHash);
  if (sri) return Buffer.from(sri[1] as string, 'base64').toString('hex');
  const typed = /^sha256:([0-9a-z]+)$/.exec(narHash);
  if (typed?.[1]?.length === 64) return typed[1];
  if (typed?.[1]?.length === 52) return fromNix32(typed[1], 32).toString('hex');
  throw new Error(`${narHash} is not a SHA-256 NAR hash`);
}
