import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { versionOutput } from './version-check.js';

async function script(body: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'nixyard-version-')), 'tool');
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('versionOutput', () => {
  it('gives what a command printed for --version and its exit code', async () => {
    expect(await versionOutput(process.execPath, 10_000)).toMatchObject({ exitCode: 0, stdout: `${process.version}\n` });
    expect(await versionOutput(await script('echo "broken: $1" >&2; exit 3'), 10_000)).toEqual({ exitCode: 3, stdout: '', stderr: 'broken: --version\n' });
  });

  it('has no exit code for a command that is not there or does not end in time', async () => {
    expect((await versionOutput('/no/such/command', 10_000)).exitCode).toBeUndefined();
    expect((await versionOutput(await script('sleep 5'), 200)).exitCode).toBeUndefined();
  });
});
