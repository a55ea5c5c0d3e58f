/**
 * Parsing what a channel and a binary cache serve: a channel's `store-paths` list (one store path
 * a line) and narinfo files (`Key: value` lines; `References:` lists basenames separated by
 * spaces, empty when the path refers to nothing). Pure: text in, data out.
 */
import { parseStorePath, StorePathError } from './popcount.js';

/** A `store-paths` list or a narinfo file that cannot be used; the message names its origin. */
export class ChannelDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelDataError';
  }
}

/** What popcount needs from a narinfo. */
export interface Narinfo {
  /** `StorePath:`, the absolute store path described. */
  storePath: string;
  /** `References:` as absolute store paths (the self-reference included when Nix listed it). */
  references: string[];
}

/**
 * The store paths of a channel's `store-paths` list: one absolute store path a line, blank lines
 * ignored, duplicates removed, order kept. Throws `ChannelDataError` naming `origin` and the first
 * bad lines when a line is not a store path, or when there is none.
 */
export function parseStorePaths(text: string, origin: string): string[] {
  const paths = new Set<string>();
  const bad: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('/') && isStorePath(line)) paths.add(line);
    else bad.push(`line ${index + 1}: ${JSON.stringify(line.slice(0, 120))}`);
  });
  if (bad.length > 0) {
    throw new ChannelDataError(`${origin} is not a list of store paths (one /nix/store/<hash>-<name> a line): ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? `; and ${bad.length - 3} more` : ''}`);
  }
  if (paths.size === 0) throw new ChannelDataError(`${origin} lists no store paths`);
  return [...paths];
}

function isStorePath(path: string): boolean {
  try {
    parseStorePath(path);
    return true;
  } catch (error) {
    if (error instanceof StorePathError) return false;
    throw error;
  }
}

/**
 * Parses a narinfo; `origin` (its URL or file) names it in errors. Throws `ChannelDataError`
 * when `StorePath:` or `References:` is missing or malformed, or when `expectedPath` is given and
 * the narinfo describes another path.
 */
export function parseNarinfo(text: string, origin: string, expectedPath?: string): Narinfo {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !fields.has(line.slice(0, colon))) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const storePath = fields.get('StorePath');
  const references = fields.get('References');
  if (storePath === undefined || references === undefined) {
    const missing = [storePath === undefined ? 'StorePath' : '', references === undefined ? 'References' : ''].filter(Boolean).join(' and ');
    throw new ChannelDataError(`${origin} is not a narinfo: it has no ${missing} line (starts with ${JSON.stringify(text.slice(0, 80))})`);
  }
  if (!storePath.startsWith('/') || !isStorePath(storePath)) throw new ChannelDataError(`${origin}: StorePath ${JSON.stringify(storePath)} is not a store path`);
  if (expectedPath !== undefined && storePath !== expectedPath) {
    throw new ChannelDataError(`${origin} describes ${storePath}, not ${expectedPath}`);
  }
  const storeDir = storePath.slice(0, storePath.lastIndexOf('/'));
  const basenames = references.split(' ').filter((reference) => reference !== '');
  const badReference = basenames.find((reference) => reference.includes('/') || !isStorePath(reference));
  if (badReference !== undefined) throw new ChannelDataError(`${origin}: reference ${JSON.stringify(badReference)} is not a store path basename (<32-character hash>-<name>)`);
  return { storePath, references: basenames.map((basename) => `${storeDir}/${basename}`) };
}
