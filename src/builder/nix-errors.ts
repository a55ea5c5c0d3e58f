/**
 * Nix's stderr → the error a client can act on. `nix/prepare-image.nix` throws one-line
 * markers for packages it cannot use; everything else is classified from Nix's own messages,
 * and the tail of the log goes along so the user sees what Nix said.
 */
import { RegistryError } from '../errors.js';

/** Lines of Nix's stderr kept in error details. */
export const LOG_TAIL_LINES = 30;

const MARKERS = {
  missing: /nixyard-missing-packages: (\[.*?\])/,
  notPackage: /nixyard-not-a-package: (\[.*?\])/,
  refused: /nixyard-refused-packages: (\{.*?\})/,
  badSource: /nixyard-bad-source: (.*)/,
};

/** The last `lines` non-empty lines of a log. */
export function logTail(log: string, lines = LOG_TAIL_LINES): string {
  return log.split('\n').filter((line) => line.trim() !== '').slice(-lines).join('\n');
}

function parseJson<T>(raw: string | undefined, fallback: T): T {
  try {
    return raw === undefined ? fallback : (JSON.parse(raw) as T);
  } catch {
    return fallback;
  }
}

/** What went wrong in a failed `nix-build`, as the error to answer with. */
export function classifyNixFailure(stderr: string, outcome: { timedOut: boolean; timeoutSeconds: number }): RegistryError {
  const tail = logTail(stderr);
  if (outcome.timedOut) {
    return new RegistryError('NIX_TIMEOUT', `NIX_TIMEOUT: the Nix build took longer than ${outcome.timeoutSeconds} s and was stopped; raise NIX_TIMEOUT or pull again to retry`, {
      detail: { timeoutSeconds: outcome.timeoutSeconds, log: tail },
    });
  }
  const missing = stderr.match(MARKERS.missing);
  if (missing) {
    const packages = parseJson<string[]>(missing[1], []);
    return new RegistryError('MANIFEST_UNKNOWN', `packages not found in the package set: ${packages.join(', ')}`, { detail: { missing: packages } });
  }
  const notPackage = stderr.match(MARKERS.notPackage);
  if (notPackage) {
    const names = parseJson<string[]>(notPackage[1], []);
    return new RegistryError('MANIFEST_UNKNOWN', `not packages but package sets: ${names.join(', ')}; name a package inside them, e.g. ${names[0] ?? 'set'}.<package>`, {
      detail: { missing: names, reason: 'not-a-package' },
    });
  }
  const refused = stderr.match(MARKERS.refused);
  if (refused) {
    const reasons = parseJson<Record<string, string>>(refused[1], {});
    const list = Object.entries(reasons).map(([name, reason]) => `${name} (${reason})`).join(', ');
    const unfreeOnly = Object.values(reasons).every((reason) => reason === 'unfree');
    return new RegistryError(unfreeOnly ? 'PACKAGE_UNFREE' : 'PACKAGE_BROKEN', `the package set refuses to build: ${list}`, { detail: { refused: reasons } });
  }
  if (/has an unfree license|refusing to evaluate.*unfree/i.test(stderr)) {
    return new RegistryError('PACKAGE_UNFREE', 'a requested package has an unfree license and this registry does not allow unfree packages', { detail: { log: tail } });
  }
  if (/is marked as broken|is not available on the requested hostPlatform|is marked as insecure/i.test(stderr)) {
    return new RegistryError('PACKAGE_BROKEN', 'a requested package is marked broken, insecure or unsupported on this platform', { detail: { log: tail } });
  }
  // The store or daemon failing, not the packages: another attempt may well succeed.
  if (/cannot connect to (daemon|socket)|database is locked|SQLite database '.*' is busy|No space left on device|Too many open files|unable to fork|cannot fork|Cannot allocate memory/i.test(stderr)) {
    return new RegistryError('UNAVAILABLE', `the Nix store is unavailable; retry later: ${lastErrorLine(stderr)}`, { detail: { log: tail }, headers: { 'Retry-After': '30' } });
  }
  if (/builder for '.*' failed|build of '.*' failed|cannot build derivation|some builds failed|failed with exit code/.test(stderr)) {
    return new RegistryError('NIX_BUILD_FAILED', `Nix failed to build the image's packages: ${lastErrorLine(stderr)}`, { detail: { log: tail } });
  }
  if (/Cannot find Git revision|cannot find (git )?revision/i.test(stderr)) {
    return new RegistryError('MANIFEST_UNKNOWN', `the package set repository has no such commit: ${lastErrorLine(stderr)}`, { detail: { log: tail } });
  }
  if (/unable to download|Couldn't resolve host|Could not resolve host|Connection refused|HTTP error 5\d\d|Failed to connect/i.test(stderr)) {
    return new RegistryError('UNAVAILABLE', `Nix could not download the package set; retry later: ${lastErrorLine(stderr)}`, { detail: { log: tail }, headers: { 'Retry-After': '30' } });
  }
  const badSource = stderr.match(MARKERS.badSource);
  if (badSource) {
    return new RegistryError('NIX_EVALUATION_ERROR', `the package source is misconfigured: ${badSource[1]}`, { detail: { log: tail } });
  }
  return new RegistryError('NIX_EVALUATION_ERROR', `Nix could not evaluate the requested packages: ${lastErrorLine(stderr)}`, { detail: { log: tail } });
}

function lastErrorLine(stderr: string): string {
  const errors = stderr.split('\n').filter((line) => /^\s*error:/.test(line));
  const line = errors[errors.length - 1] ?? logTail(stderr, 1);
  return line.replace(/^\s*error:\s*/, '').trim() || 'no message from Nix';
}
