/**
 * Content negotiation for manifests. Clients send several `Accept` header lines, each possibly
 * a comma-separated list with q-values; all of them count. Among the types a client accepts
 * equally, the registry's preference decides ({@link MANIFEST_PREFERENCE}).
 */
import { MediaType } from './media-types.js';

/**
 * The registry's order of preference among manifest media types: an index before a
 * single-platform manifest (so that clients pick their platform), OCI before Docker.
 */
export const MANIFEST_PREFERENCE: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest];

interface AcceptedType {
  type: string;
  q: number;
}

/** Parses every `Accept` line into media types with their q-values (q=0 means "not this"). */
export function parseAccept(headerLines: readonly string[]): AcceptedType[] {
  const accepted: AcceptedType[] = [];
  for (const line of headerLines) {
    for (const item of line.split(',')) {
      const [rawType, ...params] = item.split(';').map((part) => part.trim());
      if (!rawType) continue;
      const qParam = params.find((param) => /^q=/i.test(param));
      const q = qParam ? Number(qParam.slice(2)) : 1;
      accepted.push({ type: rawType.toLowerCase(), q: Number.isFinite(q) ? q : 0 });
    }
  }
  return accepted;
}

function quality(accepted: readonly AcceptedType[], mediaType: string): number {
  const exact = accepted.find((entry) => entry.type === mediaType);
  if (exact) return exact.q;
  const wildcard = accepted.find((entry) => entry.type === '*/*' || entry.type === 'application/*');
  return wildcard ? wildcard.q : 0;
}

/**
 * Picks what to send from `offered` media types, listed in the registry's order of preference
 * (OCI before Docker, an index before a single-platform manifest): the one the client accepts
 * with the highest q-value, the earliest on a tie. A request with no `Accept` at all gets the
 * first. Returns `undefined` when the client accepts none of them.
 */
export function chooseMediaType(headerLines: readonly string[], offered: readonly string[]): string | undefined {
  const accepted = parseAccept(headerLines);
  if (accepted.length === 0) return offered[0];
  let best: { type: string; q: number } | undefined;
  for (const type of offered) {
    const q = quality(accepted, type);
    if (q > 0 && (!best || q > best.q)) best = { type, q };
  }
  return best?.type;
}

/**
 * Which of the `documents` that can be served for a name to send: the media type the client
 * accepts best, the registry's preference ({@link MANIFEST_PREFERENCE}) deciding ties.
 * `undefined` when the client accepts none of them.
 */
export function chooseDocument<D extends { mediaType: string }>(headerLines: readonly string[], documents: readonly D[]): D | undefined {
  const rank = (type: string) => (MANIFEST_PREFERENCE.includes(type) ? MANIFEST_PREFERENCE.indexOf(type) : MANIFEST_PREFERENCE.length);
  const offered = documents.map((document) => document.mediaType).sort((a, b) => rank(a) - rank(b));
  const chosen = chooseMediaType(headerLines, offered);
  return documents.find((document) => document.mediaType === chosen);
}
