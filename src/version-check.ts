/**
 * `COMMAND --version` through node's execFile: the checks at start-up and in `/readyz` need no
 * more, so execa (over a hundred modules, several MB of a registry's memory) is loaded only
 * when a build first runs a command.
 */
import { execFile } from 'node:child_process';

/** What the command said; `exitCode` undefined when it could not start or was stopped. */
export interface CommandOutput {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs `command --version`, stopped after `timeoutMs`; never rejects. */
export function versionOutput(command: string, timeoutMs: number): Promise<CommandOutput> {
  return new Promise((resolve) => {
    execFile(command, ['--version'], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : undefined;
      resolve({ exitCode, stdout, stderr });
    });
  });
}
