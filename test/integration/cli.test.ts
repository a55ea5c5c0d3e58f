/** The built `nixyard` command: configuration errors, usage, and serving the demo set. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startCliServer } from '../helpers/cli-server.js';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');

function nixyard(args: string[], env: Record<string, string> = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
  return execa('node', [CLI, ...args], { reject: false, timeout: 60_000, env: { ...env }, extendEnv: false, all: true });
}

describe('nixyard CLI', () => {
  it('stops on invalid configuration with one line per problem and exit code 2', async () => {
    const result = await nixyard(['serve'], { PORT: 'x', NIXERY_CHANNEL: 'a', NIXERY_PKGS_PATH: '/b', PATH: process.env['PATH'] ?? '' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr.split('\n')).toEqual([
      'nixyard: PORT="x" is not allowed: expected an integer from 0 to 65535',
      'nixyard: NIXERY_CHANNEL and NIXERY_PKGS_PATH are set together: set only one package source (a channel, a git repository or a local path)',
    ]);
  });

  it('refuses --demo together with another package source', async () => {
    const result = await nixyard(['serve', '--demo'], { NIXERY_CHANNEL: 'nixos-unstable', PATH: process.env['PATH'] ?? '' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('NIXERY_CHANNEL is set: --demo serves the demo package set');
  });

  it('prints usage for no command and rejects unknown commands', async () => {
    expect((await nixyard([])).stdout).toContain('usage: nixyard <command>');
    const unknown = await nixyard(['push']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown command "push"');
  });

  it('serve --demo answers /v2/ and serves hello, then stops on SIGTERM', async () => {
    const server = await startCliServer({ NIX_CONFIG: 'substituters =' });
    try {
      const base = await fetch(`${server.url}/v2/`);
      expect(base.status).toBe(200);
      const manifest = await fetch(`${server.url}/v2/hello/manifests/latest`, { method: 'HEAD' });
      expect(manifest.status).toBe(200);
      expect(manifest.headers.get('docker-content-digest')).toMatch(/^sha256:[0-9a-f]{64}$/);
    } finally {
      await server.stop();
    }
    expect(server.child.exitCode).toBe(0);
    // Not a terminal: JSON lines.
    const stopping = server.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>).find((event) => event['msg'] === 'stopping');
    expect(stopping).toMatchObject({ level: 'info', signal: 'SIGTERM', drainSeconds: 10 });
  });
});
