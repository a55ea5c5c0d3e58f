/** TEST HELPER: tests that need an external tool fail with how to install it, never skip. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

/** The absolute path of `name` on `PATH` (plus the sbin directories), or `undefined`. */
export async function findTool(name: string): Promise<string | undefined> {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The absolute path of the binary `name`; throws `"<name> not found: install it with <hint>"`
 * when it is missing, e.g. `requireTool('skopeo', 'apt-get install -y skopeo')`.
 */
export async function requireTool(name: string, installHint: string): Promise<string> {
  const path = await findTool(name);
  if (!path) throw new Error(`${name} not found: install it with ${installHint} (or run scripts/install-deps.sh)`);
  return path;
}

/** Fails with an install hint unless Nix runs and the host busybox the demo set is built from is there. */
export async function requireDemoBuildTools(): Promise<void> {
  const nix = await execa('nix-build', ['--version'], { reject: false });
  if (nix.failed) throw new Error('nix-build is not installed: apt-get install -y nix-bin');
  try {
    await access('/bin/busybox', constants.X_OK);
  } catch {
    throw new Error('/bin/busybox is missing (the demo set is built from it): apt-get install -y busybox-static');
  }
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
