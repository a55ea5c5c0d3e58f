/**
 * Content negotiation for manifests. Clients send several `Accept` header lines, each possibly
 * a comma-separated list with q-values; all of them count.
 */
import { MediaType, type ManifestFlavour } from './media-types.js';

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
 * Picks the manifest flavour for a request. OCI is preferred when both are acceptable;
 * Docker schema2 is served to clients that only accept it. A request with no `Accept` at all
 * gets OCI. Returns `undefined` when the client accepts neither.
 */
export function chooseManifestFlavour(headerLines: readonly string[]): ManifestFlavour | undefined {
  const accepted = parseAccept(headerLines);
  if (accepted.length === 0) return 'oci';
  const oci = quality(accepted, MediaType.ociManifest);
  const docker = quality(accepted, MediaType.dockerManifest);
  if (oci === 0 && docker === 0) return undefined;
  return docker > oci ? 'docker' : 'oci';
}
