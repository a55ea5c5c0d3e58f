/**
 * Push targets (pure): where a built image is copied to, as users write it in a build or an app,
 * and the references pushed for it.
 *
 *   target     REGISTRY/REPOSITORY[:TAG]     ghcr.io/acme/web, 127.0.0.1:5000/acme/web:v1.4.0
 *   registry   a host with a dot or a port, or `localhost`: named explicitly, so that a target
 *              never lands on Docker Hub by accident (write docker.io/acme/web for it)
 *   repository lowercase path components, as in the distribution spec's name grammar
 *
 * A target with a tag gets exactly that tag; one without gets each tag the build gives the image
 * (its tag, and the tags an app build moves):
 *
 *   referencesOf(ghcr.io/acme/web, [main-1a2b3c4, main, latest])
 *     → ghcr.io/acme/web:main-1a2b3c4, ghcr.io/acme/web:main, ghcr.io/acme/web:latest
 */
import { RegistryError } from '../errors.js';
import { isValidTag } from '../image/grammar.js';

/** A target as parsed: its registry (`host[:port]`), repository and tag when it names one. */
export interface PushTarget {
  registry: string;
  repository: string;
  tag: string | undefined;
}

const REGISTRY = /^(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*:\d{1,5}|localhost:\d{1,5}|\[[0-9A-Fa-f:]+\](?::\d{1,5})?)$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

function invalid(to: string, why: string): RegistryError {
  return new RegistryError('PARAMETER_INVALID', `push target ${JSON.stringify(to)} ${why}: expected REGISTRY/REPOSITORY[:TAG], e.g. ghcr.io/acme/web or 127.0.0.1:5000/acme/web:v1`, { detail: { to } });
}

/** Parses a push target; throws `PARAMETER_INVALID` naming what is wrong with it. */
export function parsePushTarget(to: string): PushTarget {
  if (to.includes('://')) throw invalid(to, 'has a scheme');
  if (to.includes('@')) throw invalid(to, 'names a digest or credentials (the digest is the built image\'s; credentials come from NIXYARD_PUSH_AUTH_FILE)');
  const slash = to.indexOf('/');
  if (slash < 0) throw invalid(to, 'has no registry');
  const registry = to.slice(0, slash);
  if (!REGISTRY.test(registry)) throw invalid(to, `does not start with a registry host (${JSON.stringify(registry)} has no dot and no port; Docker Hub is docker.io)`);
  let path = to.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!isValidTag(tag)) throw invalid(to, `has the tag ${JSON.stringify(tag)}, which is not up to 128 of [A-Za-z0-9_.-] not starting with . or -`);
  }
  if (path === '' || !path.split('/').every((component) => COMPONENT.test(component))) throw invalid(to, `has the repository ${JSON.stringify(path)}, which is not lowercase components separated by "/"`);
  if (registry.length + path.length + 1 > 255) throw invalid(to, 'is longer than 255 characters without its tag');
  return { registry, repository: path, tag };
}

/** `registry/repository:tag`. */
export function referenceText(target: PushTarget, tag: string): string {
  return `${target.registry}/${target.repository}:${tag}`;
}

/** The references pushed for `target` when the build gives the image `tags` (its own first). */
export function referencesOf(target: PushTarget, tags: readonly string[]): string[] {
  return target.tag !== undefined ? [referenceText(target, target.tag)] : [...new Set(tags)].map((tag) => referenceText(target, tag));
}

/** Whether pushes to `registry` may go over plain HTTP or unverified TLS (`NIXYARD_PUSH_INSECURE`). */
export function isInsecure(registry: string, insecure: readonly string[]): boolean {
  return insecure.includes(registry.toLowerCase());
}
