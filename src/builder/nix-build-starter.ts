/**
 * `nix-build` processes started before their build. `nix-build -` reads its expression from
 * stdin only once it has loaded Nix's libraries and opened the store, ~18 ms of the ~37 ms a
 * package image of the demo set takes, so a process started ahead (the spare) leaves only the
 * evaluation, the build check and the out-links on a build's path.
 *
 * At most one spare waits (a Nix process blocked on its stdin, ~24 MB). It is started when the
 * one before it is taken, while that one evaluates on one core, so a registry that never builds
 * has none. Each process writes its out-links into a directory of its own under `rootsDir`; the
 * caller removes that directory once the roots are no longer needed. The directory is named
 * after the host and the registry's pid (`nix-<host>-<pid>-XXXXXX`), so that the next start on
 * the host removes those a killed registry left (their out-links would keep store paths from
 * garbage collection for ever).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../processes.js';

/** How a `nix-build` run ended. */
export interface NixBuildResult {
  /** undefined when the process did not exit by itself (not found, killed). */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  canceled: boolean;
  /** The command could not be started: it is not on PATH. */
  notFound: boolean;
}

export interface NixBuildRun {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Nix's stderr as it comes. */
  onStderr?: ((text: string) => void) | undefined;
}

/** A process waiting for its expression. */
export interface StartedNixBuild {
  /** The process id (undefined when it could not start). */
  readonly pid: number | undefined;
  /** The directory of its out-links (`result`, `result-2` …). */
  readonly rootDir: string;
  /** Gives the process its expression and waits for it to end (killed on timeout or abort). */
  run(expression: string, options: NixBuildRun): Promise<NixBuildResult>;
}

/** How long a process asked to stop may take before it is killed. */
const KILL_AFTER_MS = 2000;

/** One `nix-build -` process from its start to its end. */
class NixBuildProcess implements StartedNixBuild {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  private onStderr: ((text: string) => void) | undefined;
  private notFound = false;
  /** Settles when the process has exited and its output is read. */
  private readonly ended: Promise<number | undefined>;
  exited = false;

  constructor(
    command: string,
    readonly rootDir: string,
  ) {
    this.child = spawn(command, ['-', '--out-link', join(rootDir, 'result')], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      this.onStderr?.(text);
    });
    this.child.stdin.on('error', () => undefined); // the exit says why
    this.ended = new Promise((resolve) => {
      this.child.on('error', (error: NodeJS.ErrnoException) => {
        this.notFound = error.code === 'ENOENT';
        this.exited = true;
        resolve(undefined);
      });
      this.child.on('close', (code) => {
        this.exited = true;
        resolve(code ?? undefined);
      });
    });
    this.hold(false);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process keeps the registry's event loop alive: not while it waits as a spare. */
  private hold(held: boolean): void {
    for (const handle of [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as { ref?: () => void; unref?: () => void }[]) {
      if (held) handle.ref?.();
      else handle.unref?.();
    }
  }

  async run(expression: string, { timeoutMs, signal, onStderr }: NixBuildRun): Promise<NixBuildResult> {
    this.hold(true);
    this.onStderr = onStderr;
    let timedOut = false;
    let canceled = false;
    const stop = () => {
      this.child.kill('SIGTERM');
      this.killLater();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = () => {
      canceled = true;
      stop();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    if (!canceled) this.child.stdin.end(expression);
    try {
      const exitCode = await this.ended;
      return { exitCode, stdout: this.stdout, stderr: this.stderr, timedOut, canceled, notFound: this.notFound };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Kills the process if it has not ended {@link KILL_AFTER_MS} after it was asked to. */
  private killLater(): void {
    setTimeout(() => this.child.kill('SIGKILL'), KILL_AFTER_MS).unref();
  }

  /**
   * Ends a process that was never given an expression, and its directory: its input is closed,
   * so it reads an empty expression and exits by itself, removing its temporary directory
   * (`/tmp/nix-build-<pid>-0`, which a SIGKILL would leave behind).
   */
  discard(): void {
    if (!this.exited) {
      this.child.stdin.end();
      this.killLater();
    }
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

/** Who owns the root directories made here: this host and this process, started at `startedAt` (ms). */
export interface RootsOwner {
  host: string;
  pid: number;
  startedAt: number;
}

const THIS_PROCESS: RootsOwner = { host: hostname(), pid: process.pid, startedAt: performance.timeOrigin };

/** The start of the names of `owner`'s root directories. */
export function rootDirPrefix(owner: Pick<RootsOwner, 'host' | 'pid'>): string {
  return `nix-${owner.host}-${owner.pid}-`;
}

/** `nix-<host>-<pid>-` and mkdtemp's six characters. */
const ROOT_DIR_NAME = /^nix-(.+)-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * The root directories (of `entries` under `rootsDir`) that a registry on `self`'s host left
 * when it ended without removing them: its pid runs no more, or it is `self`'s pid but the
 * directory is older than `self` (a restart that got the same pid, as a container's pid 1
 * does). Other hosts' directories (a data dir on a shared disk) and names of another form are
 * not touched.
 */
export function abandonedRootDirs(entries: readonly { name: string; mtimeMs: number }[], self: RootsOwner, isRunning: (pid: number) => boolean): string[] {
  return entries
    .filter(({ name, mtimeMs }) => {
      const match = ROOT_DIR_NAME.exec(name);
      if (!match || match[1] !== self.host) return false;
      const pid = Number(match[2]);
      return pid === self.pid ? mtimeMs < self.startedAt : !isRunning(pid);
    })
    .map(({ name }) => name);
}

/** Hands out `nix-build -` processes, one kept started ahead when `spare` is on. */
export class NixBuildStarter {
  private spare: NixBuildProcess | undefined;
  private closed = false;

  constructor(private readonly options: { rootsDir: string; spare: boolean; command?: string }) {}

  /**
   * Removes the root directories a registry on this host left when it was killed (see
   * {@link abandonedRootDirs}); returns their names. Run once at start, before the first build.
   */
  removeAbandoned(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.options.rootsDir);
    } catch {
      return []; // no directory yet: nothing was left
    }
    const entries = names.flatMap((name) => {
      try {
        return [{ name, mtimeMs: statSync(join(this.options.rootsDir, name)).mtimeMs }];
      } catch {
        return []; // removed meanwhile
      }
    });
    const abandoned = abandonedRootDirs(entries, THIS_PROCESS, processAlive);
    for (const name of abandoned) rmSync(join(this.options.rootsDir, name), { recursive: true, force: true });
    return abandoned;
  }

  /** A started process: the spare when one is waiting, else a new one; a new spare is started behind it. */
  take(): StartedNixBuild {
    let taken = this.spare;
    this.spare = undefined;
    // A spare that ended while it waited (killed, Nix replaced) is of no use.
    if (taken?.exited) {
      taken.discard();
      taken = undefined;
    }
    taken ??= this.start();
    if (this.options.spare && !this.closed) this.spare = this.start();
    return taken;
  }

  /** Ends the spare (the registry is stopping). */
  close(): void {
    this.closed = true;
    this.spare?.discard();
    this.spare = undefined;
  }

  private start(): NixBuildProcess {
    mkdirSync(this.options.rootsDir, { recursive: true });
    return new NixBuildProcess(this.options.command ?? 'nix-build', mkdtempSync(join(this.options.rootsDir, rootDirPrefix(THIS_PROCESS))));
  }
}
