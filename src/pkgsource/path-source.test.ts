import { chmod, cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashDirectory } from './path-source.js';

const dirs: string[] = [];
async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'nixyard-hash-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('hashDirectory', () => {
  const FILES = { 'default.nix': '{ }: { }', 'pkgs/hello.nix': 'hello' };

  it('is the same for equal trees in different places and times', async () => {
    const a = await tree(FILES);
    const b = await tree(FILES);
    expect(await hashDirectory(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashDirectory(a)).toBe(await hashDirectory(b));
    const copy = join(b, '..', `${b.split('/').pop()}-copy`);
    dirs.push(copy);
    await cp(b, copy, { recursive: true, preserveTimestamps: false });
    expect(await hashDirectory(copy)).toBe(await hashDirectory(a));
  });

  it('changes with contents, names, the executable bit, symlink targets and empty directories', async () => {
    const base = await hashDirectory(await tree(FILES));
    expect(await hashDirectory(await tree({ ...FILES, 'pkgs/hello.nix': 'hellO' }))).not.toBe(base);
    expect(await hashDirectory(await tree({ 'default.nix': '{ }: { }', 'pkgs/hello2.nix': 'hello' }))).not.toBe(base);
    // A file whose contents look like the next entry is not that entry.
    expect(await hashDirectory(await tree({ x: 'f "y" - 0\n' }))).not.toBe(await hashDirectory(await tree({ x: '', y: '' })));
    const exec = await tree(FILES);
    await chmod(join(exec, 'pkgs/hello.nix'), 0o755);
    expect(await hashDirectory(exec)).not.toBe(base);
    const linked = await tree(FILES);
    await symlink('hello.nix', join(linked, 'pkgs/link.nix'));
    const linkedHash = await hashDirectory(linked);
    expect(linkedHash).not.toBe(base);
    const relinked = await tree(FILES);
    await symlink('other.nix', join(relinked, 'pkgs/link.nix'));
    expect(await hashDirectory(relinked)).not.toBe(linkedHash);
    const empty = await tree(FILES);
    await mkdir(join(empty, 'empty'));
    expect(await hashDirectory(empty)).not.toBe(base);
  });

  it('leaves out .git and result symlinks, but not a directory named result', async () => {
    const base = await hashDirectory(await tree(FILES));
    const noisy = await tree({ ...FILES, '.git/HEAD': 'ref: refs/heads/main', 'pkgs/.git': 'gitdir: elsewhere' });
    await symlink('/nix/store/00000000000000000000000000000000-x', join(noisy, 'result'));
    await symlink('/nix/store/00000000000000000000000000000000-y', join(noisy, 'result-dev'));
    expect(await hashDirectory(noisy)).toBe(base);
    expect(await hashDirectory(await tree({ ...FILES, 'result/default.nix': 'x' }))).not.toBe(base);
  });

  it('hashes a single file too', async () => {
    const dir = await tree({ 'set.nix': 'a' });
    const other = await tree({ 'set.nix': 'b' });
    expect(await hashDirectory(join(dir, 'set.nix'))).not.toBe(await hashDirectory(join(other, 'set.nix')));
  });
});
