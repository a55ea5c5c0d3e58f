// The long-lived `nix-store --serve` the builder asks for closures, against real Nix: the same
// answer as `nix path-info`, one process for many questions, and a clear error (then a fresh
// process) when a question fails, is cancelled or is not answered.
import { execa } from 'execa';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NixServe } from '../../src/builder/nix-serve.js';
import { parsePathInfo } from '../../src/builder/nix.js';
import { DEMO_PKGS_PATH, NIX_DIR } from '../../src/paths.js';
import { narHashHex } from '../../src/sbom/store-path.js';
import { OFFLINE_NIX_CONFIG } from '../helpers/demo-server.js';

const env = { NIX_CONFIG: OFFLINE_NIX_CONFIG };
let dir = '';
let roots: string[] = [];

/** The pids of this process's `nix-store --serve` children. */
async function serveChildren(): Promise<string[]> {
  const { stdout } = await execa('pgrep', ['-P', String(process.pid), '-f', 'nix-store --serve'], { reject: false });
  return stdout.split('\n').filter((line) => line !== '');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nixyard-serve-'));
  const args = ['--argstr', 'srcType', 'path', '--argstr', 'srcArgs', JSON.stringify({ path: DEMO_PKGS_PATH }), '--argstr', 'system', 'x86_64-linux', '--argstr', 'packages', '["hello","cacert"]'];
  const built = await execa('nix-build', [join(NIX_DIR, 'prepare-image.nix'), ...args, '--out-link', join(dir, 'result')], { env });
  roots = built.stdout.split('\n').filter((line) => line.startsWith('/'));
  expect(roots).toHaveLength(2);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NixServe', () => {
  it('answers the closure as nix path-info does: paths, sizes, references, NAR hashes', async () => {
    const serve = new NixServe({ timeoutMs: 30_000 });
    try {
      const answer = await serve.closure(roots);
      const { stdout } = await execa('nix', ['path-info', '--json', '-r', ...roots], { env });
      const expected = parsePathInfo(stdout);
      const normalised = (infos: typeof expected) => infos.map((info) => ({ ...info, references: [...info.references].sort(), narHash: narHashHex(info.narHash ?? '') })).sort((a, b) => a.path.localeCompare(b.path));
      expect(answer.length).toBeGreaterThanOrEqual(3);
      expect(normalised(answer)).toEqual(normalised(expected));
    } finally {
      serve.close();
    }
  });

  it('keeps one process for many questions and ends it on close', async () => {
    const serve = new NixServe({ timeoutMs: 30_000 });
    await serve.closure(roots);
    const first = await serveChildren();
    expect(first).toHaveLength(1);
    for (let i = 0; i < 5; i++) await serve.closure([roots[i % 2] as string]);
    expect(await serveChildren()).toEqual(first);
    serve.close();
    await expect.poll(serveChildren, { timeout: 10_000 }).toEqual([]);
  });

  it('names a path that is not valid, then answers the next question with a new process', async () => {
    const serve = new NixServe({ timeoutMs: 30_000 });
    try {
      const missing = '/nix/store/00000000000000000000000000000000-not-built';
      await expect(serve.closure([missing])).rejects.toThrow(`path '${missing}' is not valid`);
      expect((await serve.closure(roots)).map((info) => info.path)).toEqual(expect.arrayContaining(roots));
    } finally {
      serve.close();
    }
  });

  it('stops a cancelled question with its reason and starts afresh', async () => {
    const serve = new NixServe({ timeoutMs: 30_000 });
    try {
      const controller = new AbortController();
      const asked = serve.closure(roots, controller.signal);
      controller.abort(new Error('build cancelled'));
      await expect(asked).rejects.toThrow('build cancelled');
      expect((await serve.closure(roots)).length).toBeGreaterThanOrEqual(3);
    } finally {
      serve.close();
    }
  });

  it('says when Nix does not answer in time or a question is cancelled while it waits, and when Nix cannot be started', async () => {
    const silent = join(dir, 'silent-nix-store');
    await writeFile(silent, '#!/bin/sh\nexec cat > /dev/null\n');
    await chmod(silent, 0o755);
    const stuck = new NixServe({ timeoutMs: 300, command: silent });
    await expect(stuck.closure(roots)).rejects.toThrow('nix-store --serve did not answer within 0.3 s');
    stuck.close();
    const waiting = new NixServe({ timeoutMs: 30_000, command: silent });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('build cancelled while Nix was asked')), 100);
    await expect(waiting.closure(roots, controller.signal)).rejects.toThrow('build cancelled while Nix was asked');
    const absent = new NixServe({ timeoutMs: 30_000, command: join(dir, 'no-such-nix-store') });
    await expect(absent.closure(roots)).rejects.toThrow(/could not start: .*ENOENT.*install Nix/);
  });
});
