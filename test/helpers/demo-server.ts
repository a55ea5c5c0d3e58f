/** TEST HELPER: a real nixyard server on 127.0.0.1 serving the demo package set with real Nix. */
import { execa } from 'execa';
import { afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { DEMO_PKGS_PATH } from '../../src/paths.js';
import { startServer, type ServerOverrides } from '../../src/server.js';

/** Nix settings for tests: offline (no 4 s wait on cache.nixos.org) and `nix path-info` enabled. */
export const OFFLINE_NIX_CONFIG = 'substituters =\nexperimental-features = nix-command';

/** Fails with an install hint when Nix is not there. */
export async function requireNix(): Promise<void> {
  const found = await execa('nix-build', ['--version'], { reject: false });
  if (found.exitCode !== 0) throw new Error('nix-build not found: install Nix with apt-get install -y nix-bin');
}

/** Starts a demo server; `env` adds or overrides configuration variables. */
export async function startDemoServer(env: Record<string, string> = {}, overrides: ServerOverrides & { log?: Logger } = {}) {
  await requireNix();
  process.env['NIX_CONFIG'] ??= OFFLINE_NIX_CONFIG;
  // slow-demo and ticker-demo really build (and log) once per test process (nix/demo/default.nix).
  process.env['NIXYARD_DEMO_RUN'] ??= randomUUID();
  const dataDir = await mkdtemp(join(tmpdir(), 'nixyard-demo-'));
  const config = loadConfig({
    NIXERY_PKGS_PATH: DEMO_PKGS_PATH,
    NIXYARD_DATA_DIR: dataDir,
    PORT: '0',
    NIXYARD_HOST: '127.0.0.1',
    ...env,
  });
  const running = await startServer(config, overrides.log ?? silentLogger, overrides);
  return { ...running, url: `http://127.0.0.1:${running.port}`, host: `127.0.0.1:${running.port}`, dataDir, storagePath: config.storage.backend === 'filesystem' ? config.storage.path : '' };
}

/**
 * `startDemoServer` for the tests of one describe block: every server it starts is closed after
 * them (call it in the describe body, it registers the `afterAll`).
 */
export function demoServersOfBlock(): typeof startDemoServer {
  const servers: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });
  return async (...args) => {
    const server = await startDemoServer(...args);
    servers.push(server);
    return server;
  };
}
