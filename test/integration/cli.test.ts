/** The built `nixyard` command: configuration errors, usage, and serving the demo set. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';

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
    const dataDir = await mkdtemp(join(tmpdir(), 'nixyard-cli-'));
    const child = execa('node', [CLI, 'serve', '--demo'], {
      reject: false,
      env: { PORT: '0', NIXYARD_HOST: '127.0.0.1', NIXYARD_DATA_DIR: dataDir, NIX_CONFIG: 'substituters =' },
      all: true,
    });
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
      child.all?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = output.match(/nixyard listening port=(\d+)/);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    const base = await fetch(`http://127.0.0.1:${port}/v2/`);
    expect(base.status).toBe(200);
    const manifest = await fetch(`http://127.0.0.1:${port}/v2/hello/manifests/latest`, { method: 'HEAD' });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toMatch(/^sha256:[0-9a-f]{64}$/);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(output).toContain('stopping signal=SIGTERM');
  });
});
