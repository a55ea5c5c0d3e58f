/**
 * The sandbox a source build's install and build commands run in: bubblewrap (`bwrap`), with
 * every namespace unshared (the network too unless it is allowed), the Nix store read-only, the
 * app directory and the build's other writable directories bound in, a private `/tmp`, an
 * unprivileged user (uid/gid 65532, `nonroot`), no other host path but the name-service files
 * the network needs, and a cleared environment. Its processes die with it, so a cancel or a
 * timeout stops the whole tree.
 */
import { RegistryError } from '../../errors.js';
import { versionOutput } from '../../version-check.js';

/** The user commands run as inside the sandbox (as distroless images name it). */
export const SANDBOX_UID = 65532;

/** A directory of the host seen at `path` inside the sandbox. */
export interface Mount {
  host: string;
  path: string;
}

/** Where and how a command runs. */
export interface SandboxOptions {
  /** Host directories bound writable: the app directory at `/app` first, then `/opt`, caches… */
  writable: readonly Mount[];
  /** Host files bound read-only (`/etc/passwd`, `/etc/resolv.conf` …). */
  readOnly: readonly Mount[];
  /** Symlinks made inside (`/bin/sh` → the shell package's). */
  links: readonly Mount[];
  /** The directory the command starts in. */
  cwd: string;
  /** The whole environment of the command. */
  env: Readonly<Record<string, string>>;
  /** Whether the command may use the network. */
  network: boolean;
  /** The shell (a store path) that runs the command with `-c`. */
  shell: string;
}

/** bwrap's arguments for running `command` in the sandbox `options` describes (pure). */
export function bwrapArgs(options: SandboxOptions, command: string): string[] {
  return [
    '--die-with-parent',
    '--new-session',
    '--unshare-all',
    ...(options.network ? ['--share-net'] : []),
    '--uid', String(SANDBOX_UID),
    '--gid', String(SANDBOX_UID),
    '--ro-bind', '/nix/store', '/nix/store',
    '--proc', '/proc',
    '--dev', '/dev',
    '--tmpfs', '/tmp',
    ...options.writable.flatMap((mount) => ['--bind', mount.host, mount.path]),
    ...options.readOnly.flatMap((mount) => ['--ro-bind', mount.host, mount.path]),
    ...options.links.flatMap((link) => ['--symlink', link.host, link.path]),
    '--chdir', options.cwd,
    '--clearenv',
    ...Object.entries(options.env).flatMap(([name, value]) => ['--setenv', name, value]),
    '--',
    options.shell,
    '-c',
    command,
  ];
}

/** How a command in the sandbox ended. */
export type SandboxResult = { kind: 'ok' } | { kind: 'failed'; exitCode: number | undefined } | { kind: 'timed-out' };

/** Runs commands in bubblewrap sandboxes. */
export class Sandbox {
  constructor(private readonly bwrap = 'bwrap') {}

  /** Fails with `SANDBOX_UNAVAILABLE`, saying how to install bubblewrap, unless it runs here. */
  async check(): Promise<string> {
    const version = await versionOutput(this.bwrap, 10_000);
    if (version.exitCode !== 0) {
      throw new RegistryError('SANDBOX_UNAVAILABLE', `the build sandbox bubblewrap (${this.bwrap}) does not run on this registry (${version.exitCode === undefined ? 'not found' : version.stderr.trim()}): install it with apt-get install -y bubblewrap`);
    }
    return version.stdout.trim();
  }

  /**
   * Runs `command` in the sandbox; its output goes to `onOutput` as it comes. Stops at
   * `timeoutMs` or when `signal` aborts (then it rejects with the signal's reason).
   */
  async run(command: string, options: SandboxOptions, run: { signal: AbortSignal; timeoutMs: number; onOutput: (text: string) => void }): Promise<SandboxResult> {
    const child = (await import('execa')).execa(this.bwrap, bwrapArgs(options, command), {
      reject: false,
      timeout: run.timeoutMs,
      cancelSignal: run.signal,
      forceKillAfterDelay: 2000,
      stdin: 'ignore',
      env: {},
      extendEnv: false,
      buffer: false,
    });
    const forward = (chunk: Buffer) => run.onOutput(chunk.toString('utf8'));
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    const result = await child;
    if (result.isCanceled) throw run.signal.reason;
    if (result.timedOut) return { kind: 'timed-out' };
    if (result.exitCode === undefined && /ENOENT/.test(String(result.message))) {
      throw new RegistryError('SANDBOX_UNAVAILABLE', `the build sandbox bubblewrap (${this.bwrap}) is not installed: install it with apt-get install -y bubblewrap`);
    }
    return result.exitCode === 0 ? { kind: 'ok' } : { kind: 'failed', exitCode: result.exitCode };
  }
}
