/**
 * Copies an image to a push target with the real `skopeo copy` (Debian's `skopeo`,
 * `NIXYARD_SKOPEO`), which speaks the distribution push protocol the way registries expect: a
 * HEAD per blob and no upload of what the target has, cross-repository mounts of blobs it has
 * seen in another repository of the same registry, Basic and Bearer-token logins, the manifest
 * written last. Credentials come from one auth file (`NIXYARD_PUSH_AUTH_FILE`, the `config.json`
 * / `auth.json` that `docker|podman|skopeo login` write) and are never on a command line or in
 * a log. `--preserve-digests` keeps the manifest byte for byte, so the target's digest is ours.
 *
 * Failures (pure, {@link pushFailure}) become the codes of the error table from skopeo's message:
 *
 *   unauthorized, authentication required, denied, 401/403          → PUSH_UNAUTHORIZED
 *   connection refused, no such host, timeouts, resets, 5xx, 429     → PUSH_UNREACHABLE (retried by the queue)
 *   certificate problems, HTTP answer to HTTPS, anything else       → PUSH_REFUSED, with the registry's words
 */
import { readFile } from 'node:fs/promises';
import { RegistryError } from '../errors.js';
import { versionOutput } from '../version-check.js';

/** One `skopeo copy` from a registry on loopback (plain HTTP) to a target. */
export interface CopyRequest {
  /** `127.0.0.1:PORT/name@sha256:…`: the image served by {@link ImageExport}. */
  source: string;
  /** `registry/repository:tag`. */
  destination: string;
  /** The auth file to read credentials from (an empty one when none is configured). */
  authFile: string;
  /** A directory with `ca.crt` trusted besides the system's CAs (`NIXYARD_PUSH_CA_FILE`). */
  certDir: string | undefined;
  /** Plain HTTP or unverified TLS to the target (`NIXYARD_PUSH_INSECURE`). */
  insecure: boolean;
  /** Where skopeo writes the digest of the manifest it pushed. */
  digestFile: string;
}

/** skopeo's arguments for `request` (pure). */
export function copyArgs(request: CopyRequest): string[] {
  return [
    'copy',
    '--preserve-digests',
    '--src-no-creds',
    '--src-tls-verify=false',
    `--dest-authfile=${request.authFile}`,
    ...(request.certDir ? [`--dest-cert-dir=${request.certDir}`] : []),
    ...(request.insecure ? ['--dest-tls-verify=false'] : []),
    `--digestfile=${request.digestFile}`,
    `docker://${request.source}`,
    `docker://${request.destination}`,
  ];
}

/** The message of skopeo's fatal line (`level=fatal msg="…"`), else its last line. */
export function skopeoMessage(stderr: string): string {
  const fatal = /level=fatal msg="((?:[^"\\]|\\.)*)"/.exec(stderr)?.[1];
  if (fatal !== undefined) return fatal.replace(/\\(.)/g, (_escape, char: string) => (char === 'n' ? ' ' : char)).trim();
  return stderr.trim().split('\n').filter((line) => line.trim() !== '').slice(-1)[0]?.replace(/^Error: /, '') ?? 'no message';
}

const UNAUTHORIZED = /unauthorized|authentication required|requested access to the resource is denied|\bdenied\b|forbidden|incorrect username or password|\b40[13]\b/i;
const TLS = /x509:|certificate|tls: /i;
const PLAIN_HTTP = /server gave HTTP response to HTTPS client/i;
const UNREACHABLE = /connection refused|no such host|i\/o timeout|network is unreachable|connection reset|unexpected EOF|server misbehaving|TLS handshake timeout|no route to host|toomanyrequests|too many requests|\b50[234]\b/i;

/** The error for a push of `destination` that skopeo ended with `stderr` (pure; see the module comment). */
export function pushFailure(destination: string, registry: string, stderr: string): RegistryError {
  const message = skopeoMessage(stderr);
  const detail = { target: destination };
  if (PLAIN_HTTP.test(message)) {
    return new RegistryError('PUSH_REFUSED', `push to ${destination} failed: ${registry} answers plain HTTP; list it in NIXYARD_PUSH_INSECURE if it is meant to (${message})`, { detail });
  }
  if (TLS.test(message) && !UNAUTHORIZED.test(message)) {
    return new RegistryError('PUSH_REFUSED', `push to ${destination} failed: the TLS certificate of ${registry} is not trusted; give its CA in NIXYARD_PUSH_CA_FILE (${message})`, { detail });
  }
  if (UNAUTHORIZED.test(message)) {
    return new RegistryError('PUSH_UNAUTHORIZED', `push to ${destination} refused: ${registry} did not accept the credentials NIXYARD_PUSH_AUTH_FILE has for it (log in with docker|podman|skopeo login --authfile FILE ${registry}): ${message}`, { detail });
  }
  if (UNREACHABLE.test(message)) return new RegistryError('PUSH_UNREACHABLE', `push to ${destination} failed: ${registry} could not be reached (${message}); retry later`, { detail });
  return new RegistryError('PUSH_REFUSED', `push to ${destination} refused by ${registry}: ${message}`, { detail });
}

/** Runs skopeo. */
export class Skopeo {
  constructor(
    private readonly program: string,
    /** skopeo's HOME: a directory of nixyard's, so no login of the host's user is read. */
    private readonly home: string,
  ) {}

  /** skopeo's version (`1.9.3`); throws `PUSH_REFUSED` with an install hint when it does not run. */
  async version(): Promise<string> {
    const result = await versionOutput(this.program, 10_000);
    const version = /(\d+\.\d+\.\d+)/.exec(result.stdout)?.[1];
    if (result.exitCode !== 0 || !version) throw new RegistryError('PUSH_REFUSED', `skopeo (${this.program}, NIXYARD_SKOPEO) does not run on this registry: install it with apt-get install -y skopeo`);
    return version;
  }

  /** Copies the image; resolves with the digest the target stored. Throws the errors of {@link pushFailure}. */
  async copy(request: CopyRequest, registry: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<string> {
    const result = await (await import('execa')).execa(this.program, copyArgs(request), {
      reject: false,
      cancelSignal: options.signal,
      timeout: options.timeoutMs,
      stdin: 'ignore',
      env: { PATH: process.env['PATH'] ?? '', HOME: this.home },
      extendEnv: false,
    });
    if (result.isCanceled) throw options.signal.reason ?? new Error('cancelled');
    if (result.timedOut) {
      throw new RegistryError('PUSH_UNREACHABLE', `push to ${request.destination} did not finish within ${Math.round(options.timeoutMs / 1000)}s (NIXYARD_PUSH_TIMEOUT); retry later`, { detail: { target: request.destination } });
    }
    if (result.exitCode === undefined) throw new RegistryError('PUSH_REFUSED', `skopeo (${this.program}) does not run: ${result.message}; install it with apt-get install -y skopeo`);
    if (result.exitCode !== 0) throw pushFailure(request.destination, registry, result.stderr);
    return (await readFile(request.digestFile, 'utf8')).trim();
  }
}
